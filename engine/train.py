"""The one training loop: full batch, one sample per update, and mini-batch.

The mode is only the batch size (the whole training split, 1, or b). Each
epoch shuffles *indices*, not data (or, with ``sampling="replacement"``, draws
every batch independently as the seed-000 notebook does), and one update is::

    t ← t + 1 ;  lr ← schedule(t) · plateau multiplier
    loss, g ← ∇ of the mean loss on the batch      (into a preallocated vector)
    clip g by global norm and/or by value           (if asked)
    optimizer.step(θ, g, state)                      (in place on the flat θ)

Validation runs once per epoch (or every ``eval_every`` updates) and appends a
history row that carries every x-axis: epoch, updates, samples seen and wall
time. A non-finite loss or parameter ends the run with status ``diverged`` and
the update where it happened; nothing is raised.

References: scikit-learn's ``BaseMultilayerPerceptron._fit_stochastic`` and the
CS231n ``Solver`` (one loop, history, stop reason, best-parameter snapshot);
Keras' ``EarlyStopping`` (monitor, min_delta, patience, restore_best_weights).
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from engine import data, optim, schedules
from engine.config import RunConfig
from engine.loop.batches import Batches
from engine.loop.clock import RunClock
from engine.loop.evaluation import SplitEvaluator
from engine.loop.history import History
from engine.loop.stopping import EarlyStopping, StopPoll
from engine.loop.update import EpochTally, clip, divergence
from engine.nn import MLP
from engine.nn.shards import SHARDS

Callback = Callable[[dict[str, Any]], Any]
# should_stop() -> True ends the run inside its epoch (status "interrupted")
StopCheck = Callable[[], bool]


@dataclass
class RunResult:
    """Everything a run produced. Picklable, so the app can cache it."""

    config: RunConfig
    key: str
    history: pd.DataFrame
    status: str
    stop_reason: str
    task: str
    diverged_at: int | None = None
    best_epoch: int | None = None
    best_val_loss: float = math.nan
    test_metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    params: np.ndarray | None = None
    model_state: dict[str, np.ndarray] = field(default_factory=dict)
    opt_state: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] = field(default_factory=dict)

    @property
    def metric_name(self) -> str:
        return "r2" if self.task == "regression" else "acc"

    def summary(self) -> dict[str, Any]:
        """A flat, JSON-ready summary for tables and the run store."""
        h = self.history
        last = h.iloc[-1] if len(h) else None
        metric = f"val_{self.metric_name}"
        out = {
            "status": self.status,
            "stop_reason": self.stop_reason,
            "diverged_at": self.diverged_at,
            "best_epoch": self.best_epoch,
            "best_val_loss": _num(self.best_val_loss),
            "final_val_loss": _num(last["val_loss"]) if last is not None else None,
            "final_val_metric": _num(last[metric]) if last is not None and metric in h else None,
            "epochs_run": int(last["epoch"]) if last is not None else 0,
            "updates": int(last["updates"]) if last is not None else 0,
        }
        out.update({k: _num(v) for k, v in self.test_metrics.items()})
        out.update({k: _num(v) for k, v in self.timings.items()})
        return out


def _num(x: Any) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


# --------------------------------------------------------------------------
# training state that a checkpoint must carry to resume bit-identically


@dataclass
class LoopState:
    """Counters and RNG state between epochs (saved in checkpoints)."""

    epoch: int = 0
    updates: int = 0
    samples_seen: int = 0
    time_s: float = 0.0
    rng_state: dict[str, Any] = field(default_factory=dict)
    best_score: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    plateau: dict[str, Any] = field(default_factory=dict)


def _plateau_state(p: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(p).items() if isinstance(v, int | float | bool)} if p else {}


# --------------------------------------------------------------------------


def train(
    config: RunConfig,
    callback: Callback | None = None,
    *,
    start: dict[str, Any] | None = None,
    should_stop: StopCheck | None = None,
) -> RunResult:
    """Train ``config``'s model and return a :class:`RunResult`.

    ``callback(progress)`` is called after every epoch with ``epoch``,
    ``epochs``, ``updates``, ``train_loss``, ``val_loss``, ``time_s`` and
    ``fraction``; returning ``False`` stops the run (status ``interrupted``).
    Exceptions it raises propagate, which is how a UI abandons a run.

    ``should_stop()`` is asked inside every epoch, a few times a second of
    wall time (:class:`~engine.loop.stopping.StopPoll`): True ends the run at
    once, mid-epoch, with status ``interrupted`` (no test metrics, since its
    parameters are those of an arbitrary update); an exception it raises
    propagates. Asking costs a clock read per update, so a run that is not
    stopped is bit-identical with or without it.

    ``start`` is a checkpoint from :func:`engine.checkpoint.load_run`; training
    then continues from its parameters, optimizer state, RNG state and history
    up to ``config``'s budget, bit-identically to an uninterrupted run.
    """
    if not isinstance(config, RunConfig):
        raise ValueError(f"config: expected a RunConfig, got {type(config).__name__}")
    # A diverging run overflows on purpose; it is reported through its status.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"), \
            _blas_threads(config):
        return _finish(_train(config, callback, start, should_stop=should_stop))


def _finish(run) -> RunResult:
    """Drive a :func:`_train` generator that never yields (no lock-step slot)."""
    try:
        next(run)
    except StopIteration as done:
        return done.value
    raise RuntimeError("a single run asked for a stacked gradient")


@functools.cache
def _threadpools() -> ThreadpoolController:
    # scanning the loaded libraries takes milliseconds: do it once per process
    return ThreadpoolController()


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_threads(config: RunConfig) -> int:
    """Threads the two shards of ``config``'s large batches use (:mod:`engine.nn.shards`).

    Its ``threads``, or for 0: two where this process may use two cores and
    the operator's cap (``OPTLAB_MAX_THREADS``) allows it, else one. The
    count never changes a number, only how long a large batch takes.
    """
    if config.threads:
        return config.threads
    from engine.limits import Limits

    try:
        cap = Limits.from_env().threads
    except ValueError:  # a malformed cap is refused where runs are checked; here, be safe
        cap = 1
    return int(max(1, min(SHARDS, _usable_cores(), cap)))


def _blas_threads(config: RunConfig):
    """One BLAS thread for every product: a large batch gets its parallelism from its
    two shards instead, whose results do not depend on the host's core count."""
    return _threadpools().limit(limits=1, user_api="blas")


def _train(config: RunConfig, callback: Callback | None, start: dict[str, Any] | None,
           slot: tuple[np.ndarray, np.ndarray] | None = None, should_stop: StopCheck | None = None):
    """The training loop as a generator that returns the RunResult.

    Alone (``slot`` None) it never yields: each update calls ``loss_grad``
    itself. With ``slot = (params_row, grad_row)``, rows of the stacked
    arrays of :mod:`engine.stacked`, the parameters live in ``params_row`` and
    every update yields its batch ``(X, Y)`` and waits to be sent
    ``(loss, outputs, share)`` once the stacked pass has written ``grad_row``
    (``share``: this run's part of the pass's wall time); then, unless the
    run has ended, it yields ``(optimizer, state, closure)`` and waits to be
    sent its share of the step's wall time once the driver has stepped
    ``params_row`` (so one call can step every run of the stack); the rest of
    the update (clipping, history) is this code. ``should_stop`` as in
    :func:`train`.
    """
    ds = data.load(
        config.dataset, config.dataset_params, config.val_fraction, config.test_fraction,
        config.seed, config.dtype,
    )
    net = MLP(
        ds.n_features, config.hidden, ds.n_outputs, config.activation, ds.output,
        config.batchnorm, config.dtype, config.mse_form,
    )
    net.threads = run_threads(config)
    opt = optim.create(config.optimizer, **config.optimizer_params)
    X, Y, y = ds.X_train, ds.Y_train, ds.y_train
    n = X.shape[0]
    updates_per_epoch = math.ceil(n / min(config.batch_size, n))
    total_updates = config.max_updates or config.epochs * updates_per_epoch
    n_epochs = math.ceil(total_updates / updates_per_epoch)
    sspec = schedules.REGISTRY[config.schedule]
    schedule = sspec.factory(opt.lr, total_updates, **config.schedule_params)
    # reduce-on-plateau is the one schedule that listens to the validation loss
    plateau = schedule.plateau if sspec.extra.get("plateau") else None
    params, model_state, opt_state, loop, batch_rng, rows = _start(config, net, opt, start, slot, plateau)

    grad = np.zeros_like(params) if slot is None else slot[1]
    batches = Batches(X, Y, y, config.batch_size, config.sampling, batch_rng)
    classify = ds.task != "regression"
    tally = EpochTally(updates_per_epoch * batches.b, classify, binary=Y.shape[1] == 1)
    stopper = EarlyStopping(
        config.monitor, config.min_delta, config.patience, config.early_stopping,
        loop.best_score, loop.best_epoch, loop.bad_epochs,
        params.copy() if config.early_stopping and config.restore_best else None,
    )
    metric_col = "val_r2" if ds.task == "regression" else "val_acc"
    validation = SplitEvaluator(net, ds.X_val, ds.Y_val, ds.y_val, ds.task)
    history = History(net, opt, params, metric_col, classify, rows)
    clipping = config.clip_norm > 0 or config.clip_value > 0
    closure = None
    if optim.REGISTRY[config.optimizer].extra.get("full_batch_only"):
        cgrad = np.zeros_like(params)

        def closure(p: np.ndarray) -> tuple[float, np.ndarray]:
            loss_c = net.loss_grad(p, X, Y, cgrad, model_state)
            return loss_c, cgrad

    def record(train_loss: float, train_acc: float | None, ratio: float, epoch: float) -> dict[str, Any]:
        val_loss, val_metric = validation(params, model_state)
        return history.add(
            epoch=epoch, updates=loop.updates, samples_seen=loop.samples_seen, time_s=loop.time_s,
            train_loss=train_loss, train_acc=train_acc, val_loss=val_loss, val_metric=val_metric,
            ratio=ratio, grad=grad, opt_state=opt_state,
        )

    status, stop_reason = "completed", ""
    diverged: str | None = None  # the stop reason of a diverging run
    poll = None if should_stop is None else StopPoll(should_stop)
    stopped_inside = should_stop is not None and bool(should_stop())  # asked before the first update
    if stopped_inside:
        status, stop_reason = "interrupted", "Stopped before the first update."
    initial_eval_s = 0.0
    if not history.rows and not stopped_inside:  # the initial row: where every curve starts
        t0 = time.perf_counter()
        train_loss0, train_acc0 = SplitEvaluator(net, X, Y, y, ds.task)(params, model_state)
        if n not in (ds.X_val.shape[0], ds.X_test.shape[0]):
            net.release(n)  # the training split is evaluated only here
        opt.lr = schedule(1)
        record(train_loss0, train_acc0 if classify else None, 0.0, float(loop.epoch))
        initial_eval_s = time.perf_counter() - t0

    clock = RunClock(loop.time_s)
    while loop.epoch < n_epochs and status == "completed":
        clock.begin_epoch()
        loop.epoch += 1
        tally.reset()
        for j, (Xb, Yb) in enumerate(batches.epoch(total_updates - loop.updates)):
            if poll is not None and poll():  # a stop asked from outside, seen mid-epoch
                stopped_inside = True
                status = "interrupted"
                stop_reason = f"Stopped during epoch {loop.epoch}, after {loop.updates} updates."
                break
            # -- one update -----------------------------------------------
            m = Xb.shape[0]
            loop.updates += 1
            opt.lr = schedule(loop.updates)
            if slot is None:
                loss = net.loss_grad(params, Xb, Yb, grad, model_state)
                out = net.last_output
            else:
                t_yield = time.perf_counter()
                loss, out, share = yield Xb, Yb
                clock.add_wait(t_yield, share)
            if not math.isfinite(loss):
                diverged = divergence("training loss", loss, loop.updates)
                break
            tally.add(loss, out, m)
            if clipping:
                clip(grad, config.clip_value, config.clip_norm)
            last_of_epoch = j == updates_per_epoch - 1 or loop.updates == total_updates
            row_inside = (config.eval_every and loop.updates % config.eval_every == 0
                          and not last_of_epoch)
            if last_of_epoch or row_inside:  # the update ratio needs θ before the step
                np.copyto(history.prev, params)
            if slot is None:
                opt.step(params, grad, opt_state, closure)
            else:  # the stacked driver steps its runs together, then sends this run's share
                t_yield = time.perf_counter()
                share = yield opt, opt_state, closure
                clock.add_wait(t_yield, share)
            loop.samples_seen += m
            if row_inside:  # eval_every: rows inside an epoch sit at fractional epochs
                loop.time_s = clock.training()
                t0 = time.perf_counter()
                diverged = divergence("parameters", params, loop.updates)
                if diverged:
                    break
                record(tally.loss, tally.accuracy(batches.labels), history.update_ratio(params),
                       loop.updates / updates_per_epoch)
                clock.add_eval(t0)
        # -- the end of an epoch: its row, plateau, early stopping ---------
        loop.time_s = clock.training()
        if stopped_inside:
            break  # an epoch cut short has no row
        clock.end_epoch()
        diverged = diverged or divergence("parameters", params, loop.updates)
        if diverged:
            break
        t0 = time.perf_counter()
        row = record(tally.loss, tally.accuracy(batches.labels), history.update_ratio(params),
                     float(loop.epoch))
        clock.add_eval(t0)
        val_loss = row["val_loss"]
        diverged = divergence("validation loss", val_loss, loop.updates)
        if diverged:
            break
        if plateau is not None:
            plateau.update(val_loss)
        if stopper.update(stopper.score(val_loss, row[metric_col]), loop.epoch, params):
            status, stop_reason = "early_stopped", stopper.reason()
        if callback is not None:
            progress = {
                "epoch": loop.epoch, "epochs": n_epochs, "updates": loop.updates,
                "train_loss": row["train_loss"], "val_loss": val_loss, "time_s": loop.time_s,
                "fraction": loop.updates / total_updates, metric_col: row[metric_col],
            }
            if callback(progress) is False and status == "completed" and loop.epoch < n_epochs:
                status, stop_reason = "interrupted", f"Stopped by the user after epoch {loop.epoch}."

    diverged_at = None
    if diverged:
        status, stop_reason, diverged_at = "diverged", diverged, loop.updates
    elif status == "completed":
        stop_reason = f"Completed {loop.epoch} epochs ({loop.updates} updates)."
    if status in ("completed", "early_stopped"):
        stopper.restore(params)

    loop.best_score, loop.best_epoch = stopper.best_score, stopper.best_epoch
    loop.bad_epochs = stopper.bad_epochs
    loop.rng_state = batch_rng.bit_generator.state
    loop.plateau = _plateau_state(plateau)
    test_metrics: dict[str, float] = {}
    if status != "diverged" and not stopped_inside and np.all(np.isfinite(params)):
        test_loss, test_metric = SplitEvaluator(net, ds.X_test, ds.Y_test, ds.y_test, ds.task)(
            params, model_state)
        test_metrics = {"test_loss": test_loss, metric_col.replace("val", "test"): test_metric}
    timings = clock.timings(loop.time_s, loop.updates, loop.samples_seen, updates_per_epoch, initial_eval_s)
    history_df = pd.DataFrame(history.rows)
    best_i = None
    if len(history_df):  # a run stopped before its first update has no rows
        valid = history_df["val_loss"].replace([np.inf, -np.inf], np.nan)
        best_i = valid.idxmin() if valid.notna().any() else None
    return RunResult(
        config=config,
        key=config.key(),
        history=history_df,
        status=status,
        stop_reason=stop_reason,
        task=ds.task,
        diverged_at=diverged_at,
        best_epoch=None if best_i is None else float(history_df.loc[best_i, "epoch"]),
        best_val_loss=math.nan if best_i is None else float(history_df.loc[best_i, "val_loss"]),
        test_metrics=test_metrics,
        timings=timings,
        params=params,
        model_state=model_state,
        opt_state=opt_state,
        progress=vars(loop),
    )


def _start(config: RunConfig, net: MLP, opt, start: dict[str, Any] | None,
           slot: tuple[np.ndarray, np.ndarray] | None, plateau: Any):
    """Parameters, model and optimizer state, counters, batch generator and
    history rows: fresh, or from a checkpoint's ``start``."""
    if start is None:
        params = net.init_params(np.random.default_rng([config.seed, 0]), config.initializer,
                                 **config.init_params)
        if slot is not None:
            np.copyto(slot[0], params)
            params = slot[0]
        return (params, net.init_state(), opt.init(params), LoopState(),
                np.random.default_rng([config.seed, 1]), [])
    dtype = np.dtype(config.dtype)
    params = np.array(start["params"], dtype=dtype)
    model_state = {k: np.array(v, dtype=dtype) for k, v in start["model_state"].items()}
    loop = LoopState(**start["loop"])
    batch_rng = np.random.default_rng()
    batch_rng.bit_generator.state = loop.rng_state
    if plateau is not None:
        vars(plateau).update(loop.plateau)
    return (params, model_state, dict(start["opt_state"]), loop, batch_rng,
            start["history"].to_dict("records"))


def decision_surface(result: RunResult, resolution: int = 80) -> dict[str, np.ndarray]:
    """Class probabilities over a grid of a 2-D dataset's raw feature space.

    Returns ``xx``, ``yy`` (meshgrid), ``proba`` (probability of the positive
    class, or the predicted class index for multiclass, on the grid), and the
    training points ``X`` (raw coordinates) and labels ``y``.
    """
    cfg = result.config
    ds = data.load(cfg.dataset, cfg.dataset_params, cfg.val_fraction, cfg.test_fraction, cfg.seed, cfg.dtype)
    if ds.n_features != 2:
        raise ValueError(f"dataset: {cfg.dataset!r} has {ds.n_features} features; a decision surface needs 2")
    net = MLP(ds.n_features, cfg.hidden, ds.n_outputs, cfg.activation, ds.output, cfg.batchnorm,
              cfg.dtype, cfg.mse_form)
    (x0, x1), (y0, y1) = ds.raw_bounds
    pad_x, pad_y = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    xs = np.linspace(x0 - pad_x, x1 + pad_x, resolution)
    ys = np.linspace(y0 - pad_y, y1 + pad_y, resolution)
    xx, yy = np.meshgrid(xs, ys)
    grid = ds.transform(np.column_stack([xx.ravel(), yy.ravel()]))
    out = net.predict(result.params, grid, result.model_state)
    proba = out[:, 0] if out.shape[1] == 1 else out.argmax(axis=1).astype(float)
    X_raw = ds.scaler.inverse_transform(ds.X_train)
    return {"xx": xx, "yy": yy, "proba": proba.reshape(xx.shape), "X": X_raw, "y": ds.y_train}
