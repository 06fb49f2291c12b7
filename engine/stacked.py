"""Compare-many: train runs that share a batch stream as one stacked computation.

Runs whose configs agree on everything that fixes the batches (dataset, split,
seed, sampling, batch size, dtype) and the architecture differ only in what
the optimizer does: optimizer, its hyperparameters, schedule, initializer,
clipping, budget, early stopping. They see the same batch at every update, so
one :class:`~engine.nn.stacked.StackedMLP` pass computes all their gradients,
with batched matmuls over a leading run axis, and each run's own optimizer
updates its own row of the stacked parameter array.

The optimizer steps of one update are taken together too: runs whose
optimizers have equal ``stack_key()`` (one type, the same branches; Adam,
AdamW and SGD define it) sit in adjacent rows, and one ``stack_step`` updates
all their rows, with hyperparameters that differ between runs (the learning
rates of a sweep) as (K, 1) columns. Other optimizers step run by run.

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

from engine import data, optim
from engine.config import FIELDS, RunConfig
from engine.nn import MLP
from engine.nn.stacked import StackedMLP
from engine.train import RunResult, _blas_threads, _train, run_threads, train

ManyCallback = Callable[[int, dict[str, Any]], Any]
# should_stop(i) -> True ends run i inside its epoch (status "interrupted")
ManyStop = Callable[[int], bool]


def stack_key(config: RunConfig) -> str | None:
    """What runs must share to be stacked (the fields declared ``stacks``); None for a
    run that trains alone (batch norm keeps per-run batch statistics)."""
    if config.batchnorm:
        return None
    shared = {h.name: config.to_dict()[h.name] for h in FIELDS if h.stacks}
    return json.dumps(shared, sort_keys=True, separators=(",", ":"))


def train_many(configs: Sequence[RunConfig], callback: ManyCallback | None = None,
               should_stop: ManyStop | None = None) -> list[RunResult]:
    """Train every config and return the results in order.

    Configs with the same :func:`stack_key` train together in lock-step (see
    the module docstring); the others, and groups of one, train alone with
    :func:`engine.train`. ``callback(i, progress)`` is run ``i``'s
    per-epoch callback (see :func:`engine.train`); returning False stops run
    ``i`` only. ``should_stop(i)`` is run ``i``'s stop check inside its
    epochs (``should_stop`` of :func:`engine.train`).
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
        stops = [None if should_stop is None else _bind(should_stop, i) for i in idx]
        for i, r in zip(idx, train_stacked([configs[i] for i in idx], cbs, stops), strict=True):
            results[i] = r
    for i in sorted(alone):
        results[i] = train(configs[i], None if callback is None else _bind(callback, i),
                           should_stop=None if should_stop is None else _bind(should_stop, i))
    return results  # type: ignore[return-value]


def _bind(callback: Callable, i: int):
    """Run ``i``'s own callback or stop check: ``callback(i, *args)``."""
    return lambda *args: callback(i, *args)


def train_stacked(configs: Sequence[RunConfig],
                  callbacks: Sequence[Callable | None] | None = None,
                  stops: Sequence[Callable[[], bool] | None] | None = None) -> list[RunResult]:
    """Train configs that share one :func:`stack_key` in lock-step; ``callbacks[i]`` and
    ``stops[i]`` are run ``i``'s ``callback`` and ``should_stop`` of :func:`engine.train`."""
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
    stops = list(stops) if stops is not None else [None] * len(configs)
    K = len(configs)
    # runs whose optimizers can take one step together sit in adjacent rows
    group_of: dict[Any, int] = {}
    step_keys = []
    for i, c in enumerate(configs):
        sk = getattr(optim.create(c.optimizer, **c.optimizer_params), "stack_key", lambda: None)()
        step_keys.append(("alone", i) if sk is None else sk)
        group_of.setdefault(step_keys[-1], len(group_of))
    order = sorted(range(K), key=lambda i: group_of[step_keys[i]])
    first = configs[0]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"), \
            _blas_threads(first):
        ds = data.load(first.dataset, first.dataset_params, first.val_fraction, first.test_fraction,
                       first.seed, first.dtype)
        net = MLP(ds.n_features, first.hidden, ds.n_outputs, first.activation, ds.output, False,
                  first.dtype, first.mse_form)
        net.threads = run_threads(first)
        params = np.zeros((K, net.n_params), dtype=net.dtype)
        grad = np.zeros_like(params)
        runs = [_train(configs[i], callbacks[i], None, (params[k], grad[k]), stops[i])
                for k, i in enumerate(order)]
        stepper = _Stepper(params, grad, [step_keys[i] for i in order])
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
            requests: dict[int, tuple] = {}
            for j, k in enumerate(active):
                _advance(runs[k], k, (losses[j], outs[j], share), requests, results)
            shares = stepper.step(requests)
            batches = {}
            for k in requests:
                _advance(runs[k], k, shares[k], batches, results)
    out: list[RunResult | None] = [None] * K
    for k, i in enumerate(order):
        results[k].timings["stacked_runs"] = float(K)
        out[i] = results[k]
    return out  # type: ignore[return-value]


class _Stepper:
    """The optimizer steps of one lock-step update, one call per group of like runs.

    Adjacent rows whose optimizers have equal ``stack_key()`` form a group:
    its parameter, gradient and state rows are (K', n) views, and one
    ``stack_step`` updates them all. Once runs of a group have ended, the
    rest go on stepping together (the ended rows are stepped too, their
    results having been copied out) while at least half are left; below
    that each run steps alone, on its own rows, with the same arithmetic.
    """

    def __init__(self, params: np.ndarray, grad: np.ndarray, keys: list) -> None:
        self.params, self.grad = params, grad
        self.groups: list[list[int]] = []
        for k, key in enumerate(keys):
            if self.groups and keys[self.groups[-1][0]] == key and key[0] != "alone":
                self.groups[-1].append(k)
            else:
                self.groups.append([k])
        self.stacked: dict[int, dict[str, np.ndarray] | None] = {}  # group start -> its state arrays
        self.members: dict[int, list] = {}  # group start -> [(opt, state)] per row

    def _stack_states(self, rows: list[int], requests: dict[int, tuple]) -> dict[str, np.ndarray] | None:
        """Move the group's state arrays into (K', n) arrays whose rows the runs keep using."""
        if any(k not in requests for k in rows):
            return None  # a run ended before its first step: the group steps run by run
        n = self.params.shape[1]
        states = [requests[k][1] for k in rows]
        stacked = {}
        for name, value in states[0].items():
            if isinstance(value, np.ndarray) and value.shape == (n,):
                arr = np.stack([st[name] for st in states])
                for st, row in zip(states, arr, strict=True):
                    st[name] = row
                stacked[name] = arr
        self.members[rows[0]] = [requests[k][:2] for k in rows]
        return stacked

    def step(self, requests: dict[int, tuple]) -> dict[int, float]:
        """Step every run in ``requests`` (row -> (optimizer, state, closure)); each one's time share."""
        shares: dict[int, float] = {}
        for rows in self.groups:
            asking = [k for k in rows if k in requests]
            if not asking:
                continue
            lo = rows[0]
            if len(rows) > 1 and lo not in self.stacked:
                self.stacked[lo] = self._stack_states(rows, requests)
            stacked = self.stacked.get(lo)
            if stacked is not None and 2 * len(asking) >= len(rows):
                t0 = time.perf_counter()
                opts, states = zip(*self.members[lo], strict=True)
                hi = rows[-1] + 1
                opts[0].stack_step(list(opts), self.params[lo:hi], self.grad[lo:hi], list(states), stacked)
                share = (time.perf_counter() - t0) / len(asking)
                shares.update(dict.fromkeys(asking, share))
                continue
            self.stacked[lo] = None  # from now on, run by run
            for k in asking:
                opt, state, closure = requests[k]
                t0 = time.perf_counter()
                opt.step(self.params[k], self.grad[k], state, closure)
                shares[k] = time.perf_counter() - t0
        return shares


def _advance(run, k: int, reply, batches: dict, results: list) -> None:
    """Run ``k`` up to its next request (a batch or a step), or to its end."""
    try:
        batches[k] = run.send(reply)
    except StopIteration as done:
        r = done.value
        # own copies, not rows of the stack (which may go on being stepped)
        r.params = np.array(r.params)
        r.opt_state = {name: np.array(v) if isinstance(v, np.ndarray) else v
                       for name, v in r.opt_state.items()}
        results[k] = r

