"""Hyperparameter specs and name registries.

Every optimizer, schedule, activation, initializer, loss, dataset and test
surface is registered with a :class:`Spec` that lists its hyperparameters as
:class:`Hyper` entries (name, default, range, log scale, one line of help).
The sidebar renders widgets from these specs and the tests loop over them, so
adding an entry to a registry needs no UI change.

Validation errors are ``ValueError`` messages that name the field, the value
and what is allowed, e.g.::

    optimizer_params.lr: -0.1 is out of range; allowed: a number in [0, 10]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KINDS = ("float", "int", "bool", "choice", "pair", "optimizer", "params", "str", "entry", "widths")


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    return repr(x)


def _show(x: Any, limit: int = 60) -> str:
    """A rejected value for a message, cut short: an error never echoes a huge input."""
    text = _fmt(x)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter: its name, default, allowed range and help.

    ``kind`` is one of:

    * ``"float"`` / ``"int"``: a number in ``[low, high]``; ``low_open`` /
      ``high_open`` make an end exclusive; ``log`` asks for a log-scale widget.
    * ``"bool"``: a flag.
    * ``"choice"``: one of ``choices`` (``None`` may be one of them).
    * ``"pair"``: a 2-tuple such as Adam's ``betas``; ``low`` and ``high`` may be
      2-tuples giving each element its own range.
    * ``"optimizer"``: the name of another registered optimizer (Lookahead's
      ``inner``).
    * ``"params"``: a dict of hyperparameters for the optimizer named by the
      ``"optimizer"`` hyper of the same spec.
    * ``"str"``: free text, such as an uploaded CSV's sha256 or its target column.
    * ``"entry"``: the name of an entry of ``registry`` (a config's dataset,
      optimizer, schedule, ...).
    * ``"widths"``: a tuple of whole numbers in ``[low, high]``, at most
      ``max_len`` long (a network's hidden layers).

    A config field (:data:`engine.config.FIELDS`) also carries its ``url``
    name, its sidebar ``group``, and: ``of``, for a ``"params"`` field, the
    entry field whose spec it resolves (``optimizer_params`` of
    ``optimizer``); ``show_if``, pairs ``(field, values)`` under which the
    field matters (``patience`` only with early stopping); ``stacks``, true
    when runs must agree on it to share a batch stream; ``titles``, pairs
    ``(choice, title)`` for the widgets.
    """

    name: str
    default: Any
    low: Any = None
    high: Any = None
    log: bool = False
    help: str = ""
    kind: str = "float"
    choices: tuple = ()
    low_open: bool = False
    high_open: bool = False
    label: str | None = None
    url: str | None = None
    group: str | None = None
    registry: Any = None
    of: str | None = None
    show_if: tuple = ()
    stacks: bool = False
    titles: tuple = ()
    max_len: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Hyper {self.name}: unknown kind {self.kind!r}")

    @property
    def title(self) -> str:
        return self.label or self.name

    @property
    def query(self) -> str:
        """The URL parameter of a config field (its name unless declared)."""
        return self.url or self.name

    def title_of(self, choice: Any) -> str:
        """A choice's title for widgets (the choice itself when none is declared)."""
        return dict(self.titles).get(choice, str(choice))

    def matters(self, values: Mapping[str, Any]) -> bool:
        """Whether this field is in effect given the other fields' ``values`` (``show_if``)."""
        return all(values.get(name) in allowed for name, allowed in self.show_if)

    def _bounds(self, i: int | None = None) -> tuple[Any, Any]:
        lo, hi = self.low, self.high
        if i is not None:
            lo = lo[i] if isinstance(lo, tuple) else lo
            hi = hi[i] if isinstance(hi, tuple) else hi
        return lo, hi

    def allowed(self, i: int | None = None) -> str:
        """Human-readable description of the allowed values."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(_fmt(c) for c in self.choices)
        if self.kind == "pair" and i is None:
            return f"a pair ({self.allowed(0)}; {self.allowed(1)})"
        if self.kind == "str":
            return "a string"
        if self.kind == "entry":
            return "one of " + ", ".join(self.registry)
        if self.kind == "widths":
            return (f"a list of at most {self.max_len} whole-number widths in "
                    f"[{self.low}, {self.high}] (empty: no hidden layer)")
        if self.kind in ("optimizer", "params"):
            return "a registered optimizer" if self.kind == "optimizer" else "a dict"
        lo, hi = self._bounds(i)
        what = "a whole number" if self.kind == "int" else "a number"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        lo_s = "-inf" if lo is None else _fmt(lo)
        hi_s = "inf" if hi is None else _fmt(hi)
        return f"{what} in {left}{lo_s}, {hi_s}{right}"

    def _check_number(self, value: Any, where: str, i: int | None = None) -> float | int:
        # exact types: a bool or a string is never a number here ("0.1" from a file is
        # refused, not coerced); URL text is parsed by its reader before it gets here
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            raise ValueError(
                f"{where}: {_show(value)} is not a number; allowed: {self.allowed(i)}"
            )
        if not isinstance(value, numbers.Integral) and not math.isfinite(value):
            raise ValueError(
                f"{where}: {_fmt(float(value))} is not a finite number; allowed: {self.allowed(i)}"
            )
        if self.kind == "int":
            if not isinstance(value, numbers.Integral):
                if not float(value).is_integer():
                    raise ValueError(
                        f"{where}: {_fmt(float(value))} is not a whole number; "
                        f"allowed: {self.allowed(i)}"
                    )
            value = int(value)
        else:
            try:
                value = float(value)
            except OverflowError:  # a whole number beyond float range
                raise ValueError(
                    f"{where}: {_show(value)} is too large; allowed: {self.allowed(i)}"
                ) from None
        lo, hi = self._bounds(i)
        bad = (
            (lo is not None and (value < lo or (self.low_open and value == lo)))
            or (hi is not None and (value > hi or (self.high_open and value == hi)))
        )
        if bad:
            raise ValueError(
                f"{where}: {_show(value)} is out of range; allowed: {self.allowed(i)}"
            )
        return value

    def validate(self, value: Any, where: str = "") -> Any:
        """Return ``value`` coerced to this hyper's type, or raise ValueError."""
        where = where or self.name
        if self.kind == "entry":
            if not isinstance(value, str) or value not in self.registry:
                raise ValueError(f"{where}: {value!r} is not known; allowed: {self.allowed()}")
            return value
        if self.kind == "widths":
            return self._check_widths(value, where)
        if self.kind == "bool":
            if isinstance(value, bool | np.bool_):  # not 0/1: a count or a rate is not a flag
                return bool(value)
            raise ValueError(f"{where}: {_show(value)} is not allowed; allowed: true or false")
        if self.kind == "choice":
            for c in self.choices:
                if type(value) is type(c) and value == c:  # True is not 1, "1" is not 1
                    return c
            raise ValueError(f"{where}: {_show(value)} is not allowed; allowed: {self.allowed()}")
        if self.kind == "pair":
            if not isinstance(value, list | tuple) or len(value) != 2:
                raise ValueError(f"{where}: {value!r} is not a pair; allowed: {self.allowed()}")
            return tuple(
                self._check_number(v, f"{where}[{i}]", i) for i, v in enumerate(value)
            )
        if self.kind == "optimizer":
            if not isinstance(value, str):
                raise ValueError(f"{where}: {value!r} is not an optimizer name")
            return value
        if self.kind == "str":
            if not isinstance(value, str):
                raise ValueError(f"{where}: {value!r} is not allowed; allowed: a string")
            return value
        if self.kind == "params":
            if not isinstance(value, Mapping):
                raise ValueError(f"{where}: {value!r} is not allowed; allowed: a dict")
            return dict(value)
        return self._check_number(value, where)


    def _check_widths(self, value: Any, where: str) -> tuple[int, ...]:
        if isinstance(value, int) and not isinstance(value, bool):
            value = (value,)
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: {value!r} is not allowed; allowed: {self.allowed()}")
        ok = all(
            isinstance(w, int) and not isinstance(w, bool) and self.low <= w <= self.high for w in value
        )
        if not ok or (self.max_len is not None and len(value) > self.max_len):
            raise ValueError(f"{where}: {list(value)!r} is not allowed; allowed: {self.allowed()}")
        return tuple(value)


@dataclass(frozen=True)
class Spec:
    """A registered entry: its name, hyperparameters, help and reference.

    ``factory`` builds the object (an optimizer, a schedule, ...) from resolved
    hyperparameters. ``extra`` holds entry-specific facts the UI or engine
    needs, such as ``{"full_batch_only": True}`` for L-BFGS or a surface's
    dimension.
    """

    name: str
    hypers: tuple[Hyper, ...] = ()
    help: str = ""
    reference: str = ""
    factory: Callable[..., Any] | None = None
    label: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.label or self.name

    def hyper(self, name: str) -> Hyper:
        for h in self.hypers:
            if h.name == name:
                return h
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {h.name: h.default for h in self.hypers}

    def resolve(self, params: Mapping[str, Any] | None = None, where: str = "") -> dict[str, Any]:
        """Fill defaults and validate ``params``; unknown names are errors."""
        params = dict(params or {})
        prefix = f"{where}." if where else ""
        known = {h.name for h in self.hypers}
        unknown = sorted(set(params) - known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise ValueError(
                f"{prefix}{unknown[0]}: not a hyperparameter of {self.name}; allowed: {allowed}"
            )
        out = {}
        for h in self.hypers:
            value = params.get(h.name, h.default)
            out[h.name] = h.validate(value, f"{prefix}{h.name}")
        return out


class Registry(Mapping[str, Spec]):
    """Name -> :class:`Spec`, with error messages that list the known names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._specs: dict[str, Spec] = {}

    def register(self, spec: Spec) -> Spec:
        if spec.name in self._specs:
            raise ValueError(f"{self.kind} {spec.name!r} is already registered")
        self._specs[spec.name] = spec
        return spec

    def __getitem__(self, name: str) -> Spec:
        try:
            return self._specs[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"{self.kind}: {name!r} is not known; allowed: {', '.join(self._specs)}"
            ) from None

    def get_spec(self, name: str, where: str | None = None) -> Spec:
        """Like ``self[name]`` but the error names the config field ``where``."""
        if name in self._specs:
            return self._specs[name]
        raise ValueError(
            f"{where or self.kind}: {name!r} is not known; allowed: {', '.join(self._specs)}"
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._specs)})"
