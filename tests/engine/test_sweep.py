"""Sweeps: equal budgets, reproducible trials, diverged trials scored worst, seed re-runs; stacked
learning-rate sweeps bit-identical to single runs for every optimizer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import RunConfig, optim, train
from engine.stacked import train_many

TINY = dict(dataset="iris", hidden=(4,), epochs=3, batch_size=16)


def _same(a, b) -> None:
    """Everything but the wall-clock times is bit-identical."""
    assert (a.status, a.stop_reason, a.diverged_at, a.best_epoch) == (b.status, b.stop_reason, b.diverged_at,
                                                                       b.best_epoch)
    np.testing.assert_array_equal(a.params, b.params)
    cols = [c for c in b.history.columns if c != "time_s"]
    assert a.history[cols].equals(b.history[cols])
    assert a.test_metrics == b.test_metrics and a.key == b.key
    for k, v in b.opt_state.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(a.opt_state[k], v, err_msg=k)
        else:
            assert a.opt_state[k] == v or (math.isnan(a.opt_state[k]) and math.isnan(v)), k


def _lr_sweep(name: str, extra: dict | None = None, **kw) -> list[RunConfig]:
    """Four learning rates around the default, the largest far too large (it diverges)."""
    spec = optim.REGISTRY[name]
    lr0 = spec.hyper("lr").default if "lr" in spec.defaults() else None
    mode = {"mode": "batch"} if spec.extra.get("full_batch_only") else {}
    base = {**TINY, **mode, **kw}
    if lr0 is None:  # no learning rate: the sweep is over another hyperparameter's defaults
        return [RunConfig(optimizer=name, **base) for _ in range(2)]
    lrs = [lr0 * f for f in (0.3, 1.0, 3.0, 1e4)]
    return [RunConfig(optimizer=name, optimizer_params={**(extra or {}), "lr": min(lr, 900.0)}, **base)
            for lr in lrs]


@pytest.mark.parametrize("name", list(optim.REGISTRY))
def test_stacked_lr_sweep_is_bit_identical_for_every_optimizer(name):
    configs = _lr_sweep(name)
    for stacked, c in zip(train_many(configs), configs, strict=True):
        _same(stacked, train(c))


@pytest.mark.parametrize("name, extra", [
    ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("sgd", {"momentum": 0.5, "dampening": 0.3, "maximize": False}), ("adam", {"amsgrad": True}),
    ("adam", {"betas": (0.2, 0.9)}), ("adamw", {"weight_decay": 0.1}),
    ("adam", {"decoupled_weight_decay": True, "weight_decay": 0.05}),
])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vectorised_steps_are_bit_identical(name, extra, dtype, monkeypatch):
    cls = type(optim.create(name))
    calls = []
    real = cls.stack_step
    monkeypatch.setattr(cls, "stack_step",
                        lambda self, opts, *a: calls.append(len(opts)) or real(self, opts, *a))
    configs = _lr_sweep(name, extra, dtype=dtype, epochs=4)
    # a run that stops early leaves the others stepping together, then one by one
    configs[0] = configs[0].replace(epochs=1)
    configs[1] = configs[1].replace(epochs=2)
    results = train_many(configs)
    for stacked, c in zip(results, configs, strict=True):
        _same(stacked, train(c))
    assert calls and max(calls) == len(configs)  # the runs did step together


def test_mixed_optimizers_in_one_stack_keep_their_order():
    configs = [RunConfig(optimizer=o, optimizer_params={"lr": lr}, **TINY)
               for o, lr in [("adam", 1e-2), ("sgd", 0.1), ("adam", 1e-3), ("rmsprop", 1e-3), ("sgd", 0.01)]]
    results = train_many(configs)
    assert [r.key for r in results] == [c.key() for c in configs]
    for r, c in zip(results, configs, strict=True):
        _same(r, train(c))
    assert all(math.isfinite(r.best_val_loss) for r in results)
