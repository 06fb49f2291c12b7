"""Config fields as specs: one declaration per RunConfig field, validation derived from it."""

from __future__ import annotations

import dataclasses
import math

import pytest

from engine.config import FIELD, FIELDS, RunConfig
from engine.spec import KINDS
from engine.stacked import stack_key

GROUPS = {"data", "model", "optimizer", "mode", "budget", "advanced"}


def test_every_field_is_declared_with_a_spec():
    """A field added to RunConfig without its spec fails here (and at import)."""
    names = [f.name for f in dataclasses.fields(RunConfig)]
    assert names == [h.name for h in FIELDS]
    for f in dataclasses.fields(RunConfig):
        assert "spec" in f.metadata, f"{f.name} has no spec"
    for h in FIELDS:
        assert h.kind in KINDS and h.help and h.group in GROUPS, h.name
        assert h.query and "." not in h.query and "_" not in h.query[:1], h.name
        if h.kind in ("int", "float"):
            assert h.low is not None, f"{h.name}: a number field needs a range"
        if h.kind == "params":
            assert FIELD[h.of].kind == "entry", h.name
        for name, _ in h.show_if:
            assert name in FIELD, f"{h.name} depends on an unknown field {name}"
    # URL names are unique, so every field round-trips through the URL
    assert len({h.query for h in FIELDS if h.kind != "params"}) == len(
        [h for h in FIELDS if h.kind != "params"])


def test_the_defaults_validate():
    config = RunConfig()
    for h in FIELDS:
        if h.kind != "params" and h.name != "batch_size":
            assert h.validate(h.default, h.name) == getattr(config, h.name), h.name


def _bad_values(h):
    """Values each field's spec must refuse, derived from the spec alone."""
    if h.kind in ("int", "float"):
        yield "1"  # a string is not a number
        yield True  # nor is a flag
        yield h.low - 1
        if h.high is not None:
            yield h.high * 2 + 1
        if h.kind == "float":
            yield math.inf
        else:
            yield h.low + 0.5
    elif h.kind == "bool":
        yield 1
        yield "true"
    elif h.kind in ("choice", "entry"):
        yield "no-such-thing"
        yield ["adam"]
    elif h.kind == "widths":
        yield (0,)
        yield (8,) * 17
        yield ("8",)
    elif h.kind == "params":
        yield [1, 2]
        yield {"no_such_hyper": 1}


CASES = [(h.name, v) for h in FIELDS for v in _bad_values(h) if h.name != "batch_size"]


@pytest.mark.parametrize("name, value", CASES, ids=[f"{n}={v!r}"[:40] for n, v in CASES])
def test_each_field_refuses_what_its_spec_does_not_allow(name, value):
    base = {"dataset": "iris", "early_stopping": True}
    with pytest.raises(ValueError, match=rf"^{name}(\.\w+)?: .*(allowed|not known)"):
        RunConfig(**{**base, name: value})


def test_batch_size_is_checked_against_the_training_split():
    with pytest.raises(ValueError, match=r"^batch_size: 500 .*the training split has 90 samples"):
        RunConfig(dataset="iris", batch_size=500)
    with pytest.raises(ValueError, match=r"^batch_size: True"):
        RunConfig(dataset="iris", batch_size=True)
    # outside mini-batch mode the mode decides the batch size
    assert RunConfig(dataset="iris", mode="sgd", batch_size=500).batch_size == 1


def test_the_stack_key_is_the_fields_declared_stacks():
    base = RunConfig(dataset="iris", hidden=(4,))
    for h in FIELDS:
        other = _another_value(h, base)
        if other is None:
            continue
        reset = {p.name: {} for p in FIELDS if p.kind == "params" and p.of == h.name}
        changed = base.replace(**{h.name: other, **reset})
        assert (stack_key(changed) != stack_key(base)) == h.stacks, h.name


def _another_value(h, base):
    """A valid value of field ``h`` other than ``base``'s (None where a change needs others)."""
    v = getattr(base, h.name)
    if h.name in ("batch_size", "batchnorm", "dataset_params", "dataset"):
        return None  # these change the split or train alone; covered elsewhere
    if h.kind == "bool":
        return not v
    if h.kind == "int":
        return v + 1 if h.high is None or v + 1 <= h.high else v - 1
    if h.kind == "float":
        return min(v + 0.1, h.high) if v + 0.1 <= h.high else v - 0.1
    if h.kind in ("choice",):
        return next(c for c in h.choices if c != v and (h.name != "mode" or c != "batch"))
    if h.kind == "entry":
        return next(n for n in h.registry
                    if n != v and not h.registry[n].extra.get("full_batch_only")
                    and not any(x.kind == "optimizer" for x in h.registry[n].hypers))
    if h.kind == "widths":
        return (*v, 3)
    if h.kind == "params" and h.of == "optimizer":
        return {"lr": 0.0123}
    return None
