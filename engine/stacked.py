"""Compare-many: train runs that share a batch stream as one stacked computation.

Runs whose configs agree on everything that fixes the batches (dataset, split,
seed, sampling, batch size, dtype) and the architecture differ only in what
the optimizer does: optimizer, its hyperparameters, schedule, initializer,
clipping, budget, early stopping. They see the same batch at every update, so
one :class:`~engine.nn.stacked.StackedMLP` pass computes all their gradients,
with batched matmuls over a leading run axis, and each run's own optimizer
updates its own row of the stacked parameter array.

Every run is the generator form of the ordinary training loop
(:func:`engine.train._train`), advanced in lock-step: all of the loop's logic
(schedules, clipping, validation, early stopping, divergence, history) is
shared with :func:`engine.train`, which is why a stacked run's result is
bit-identical to training its config alone. Only the wall times differ: a
stacked run's clock counts its own loop and optimizer work plus an equal
share of each stacked pass, so the runs' clocks still compare their costs and
add up to the stack's time. Runs drop out as they stop; the others go on.

Batch-norm runs train alone (their statistics are per run).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from engine import data
from engine.config import FIELDS, RunConfig
from engine.nn import MLP
from engine.nn.stacked import StackedMLP
from engine.train import RunResult, _blas_threads, _train, train

ManyCallback = Callable[[int, dict[str, Any]], Any]


def stack_key(config: RunConfig) -> str | None:
    """What runs must share to be stacked (the fields declared ``stacks``); None for a
    run that trains alone (batch norm keeps per-run batch statistics)."""
    if config.batchnorm:
        return None
    shared = {h.name: config.to_dict()[h.name] for h in FIELDS if h.stacks}
    return json.dumps(shared, sort_keys=True, separators=(",", ":"))


def train_many(configs: Sequence[RunConfig], callback: ManyCallback | None = None) -> list[RunResult]:
    """Train every config and return the results in order.

    Configs with the same :func:`stack_key` train together in lock-step (see
    the module docstring); the others, and groups of one, train alone with
    :func:`engine.train`. ``callback(i, progress)`` is run ``i``'s
    per-epoch callback (see :func:`engine.train`); returning False stops run
    ``i`` only.
    """
    configs = list(configs)
    for i, c in enumerate(configs):
        if not isinstance(c, RunConfig):
            raise ValueError(f"configs[{i}]: expected a RunConfig, got {type(c).__name__}")
    groups: dict[tuple, list[int]] = {}
    alone: list[int] = []
    for i, c in enumerate(configs):
        key = stack_key(c)
        if key is None:
            alone.append(i)
        else:
            groups.setdefault(key, []).append(i)
    results: list[RunResult | None] = [None] * len(configs)
    for idx in groups.values():
        if len(idx) == 1:
            alone.append(idx[0])
            continue
        cbs = [None if callback is None else _bind(callback, i) for i in idx]
        for i, r in zip(idx, train_stacked([configs[i] for i in idx], cbs), strict=True):
            results[i] = r
    for i in sorted(alone):
        results[i] = train(configs[i], None if callback is None else _bind(callback, i))
    return results  # type: ignore[return-value]


def _bind(callback: ManyCallback, i: int):
    return lambda progress: callback(i, progress)


def train_stacked(configs: Sequence[RunConfig],
                  callbacks: Sequence[Callable | None] | None = None) -> list[RunResult]:
    """Train configs that share one :func:`stack_key` in lock-step."""
    configs = list(configs)
    if not configs:
        return []
    keys = {stack_key(c) for c in configs}
    if None in keys or len(keys) > 1:
        raise ValueError(
            "configs: runs that differ in dataset, split, seed, sampling, batch size, dtype or "
            "architecture (or use batch norm) are not allowed here; allowed: runs sharing all of "
            "these (engine.stacked.train_many groups them)"
        )
    callbacks = list(callbacks) if callbacks is not None else [None] * len(configs)
    first = configs[0]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"), \
            _blas_threads(first):
        ds = data.load(first.dataset, first.dataset_params, first.val_fraction, first.test_fraction,
                       first.seed, first.dtype)
        net = MLP(ds.n_features, first.hidden, ds.n_outputs, first.activation, ds.output, False,
                  first.dtype, first.mse_form)
        K = len(configs)
        params = np.zeros((K, net.n_params), dtype=net.dtype)
        grad = np.zeros_like(params)
        runs = [_train(c, cb, None, (params[k], grad[k]))
                for k, (c, cb) in enumerate(zip(configs, callbacks, strict=True))]
        results: list[RunResult | None] = [None] * K
        stacks: dict[int, StackedMLP] = {K: StackedMLP(net, K)}
        batches: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for k, run in enumerate(runs):
            _advance(run, k, None, batches, results)
        while batches:
            active = sorted(batches)
            X, Y = batches[active[0]]
            stack = stacks.get(len(active))
            if stack is None:
                stack = stacks[len(active)] = StackedMLP(net, len(active))
            t0 = time.perf_counter()
            if len(active) == K:
                losses, outs = stack.loss_grad(params, X, Y, grad)
            else:  # some runs have stopped: the pass covers the others only
                sub_grad = np.empty((len(active), net.n_params), dtype=net.dtype)
                losses, outs = stack.loss_grad(params[active], X, Y, sub_grad)
                grad[active] = sub_grad
            share = (time.perf_counter() - t0) / len(active)
            batches = {}
            for j, k in enumerate(active):
                _advance(runs[k], k, (losses[j], outs[j], share), batches, results)
    for r in results:
        r.params = np.array(r.params)  # own copy, not a row of the stack
        r.timings["stacked_runs"] = float(K)
    return results  # type: ignore[return-value]


def _advance(run, k: int, reply, batches: dict, results: list) -> None:
    """Run ``k`` up to its next batch request, or to its end."""
    try:
        batches[k] = run.send(reply)
    except StopIteration as done:
        results[k] = done.value

