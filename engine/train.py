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

import contextlib
import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from engine import data, optim, schedules
from engine.config import RunConfig
from engine.nn import MLP

STATUSES = ("completed", "early_stopped", "diverged", "interrupted")

Callback = Callable[[dict[str, Any]], Any]


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
# evaluation


def _metric(task: str, output: np.ndarray, y: np.ndarray) -> float:
    """Accuracy for classification, R² for regression (scikit-learn's r2_score)."""
    if task == "regression":
        from sklearn.metrics import r2_score

        if not np.all(np.isfinite(output)):
            return math.nan
        return float(r2_score(y, output.reshape(y.shape)))
    if output.shape[1] == 1:
        pred = (output[:, 0] >= 0.5).astype(np.int64)
    else:
        pred = output.argmax(axis=1)
    return float(np.mean(pred == y))


def _evaluate(net: MLP, params, X, Y, y, state, task) -> tuple[float, float]:
    loss, out = net.evaluate(params, X, Y, state)
    # R² is invariant to the target standardisation, so compare in scaled units
    return float(loss), _metric(task, out, Y if task == "regression" else y)




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
) -> RunResult:
    """Train ``config``'s model and return a :class:`RunResult`.

    ``callback(progress)`` is called after every epoch with ``epoch``,
    ``epochs``, ``updates``, ``train_loss``, ``val_loss``, ``time_s`` and
    ``fraction``; returning ``False`` stops the run (status ``interrupted``).
    Exceptions it raises propagate, which is how a UI abandons a run.

    ``start`` is a checkpoint from :func:`engine.checkpoint.load_run`; training
    then continues from its parameters, optimizer state, RNG state and history
    up to ``config``'s budget, bit-identically to an uninterrupted run.
    """
    if not isinstance(config, RunConfig):
        raise ValueError(f"config: expected a RunConfig, got {type(config).__name__}")
    # A diverging run overflows on purpose; it is reported through its status.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"), \
            _blas_threads(config):
        return _finish(_train(config, callback, start))


def _finish(run) -> RunResult:
    """Drive a :func:`_train` generator that never yields (no lock-step slot)."""
    try:
        next(run)
    except StopIteration as done:
        return done.value
    raise RuntimeError("a single run asked for a stacked gradient")


# Below this many multiply-adds per sample row (batch × widest layer), BLAS
# threads cost more in hand-offs than they save: small networks train several
# times faster on one thread, and a busy server is not oversubscribed.
SMALL_WORK = 1 << 18


@functools.cache
def _threadpools() -> ThreadpoolController:
    # scanning the loaded libraries takes milliseconds: do it once per process
    return ThreadpoolController()


def _blas_threads(config: RunConfig):
    widest = max((*config.hidden, 64))
    if config.batch_size * widest <= SMALL_WORK:
        return _threadpools().limit(limits=1, user_api="blas")
    return contextlib.nullcontext()


def _train(config: RunConfig, callback: Callback | None, start: dict[str, Any] | None,
           slot: tuple[np.ndarray, np.ndarray] | None = None):
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
    the update (clipping, history) is this code.
    """
    ds = data.load(
        config.dataset, config.dataset_params, config.val_fraction, config.test_fraction,
        config.seed, config.dtype,
    )
    dtype = np.dtype(config.dtype)
    net = MLP(
        ds.n_features, config.hidden, ds.n_outputs, config.activation, ds.output,
        config.batchnorm, config.dtype,
    )
    opt = optim.create(config.optimizer, **config.optimizer_params)
    n = ds.X_train.shape[0]
    b = min(config.batch_size, n)
    updates_per_epoch = math.ceil(n / b)
    total_updates = config.max_updates or config.epochs * updates_per_epoch
    n_epochs = math.ceil(total_updates / updates_per_epoch)
    base_lr = opt.lr
    sspec = schedules.REGISTRY[config.schedule]
    schedule = sspec.factory(base_lr, total_updates, **config.schedule_params)
    # reduce-on-plateau is the one schedule that listens to the validation loss
    plateau = schedule.plateau if sspec.extra.get("plateau") else None

    # -- state: fresh or from a checkpoint ---------------------------------
    if start is None:
        init_rng = np.random.default_rng([config.seed, 0])
        params = net.init_params(init_rng, config.initializer, **config.init_params)
        if slot is not None:
            np.copyto(slot[0], params)
            params = slot[0]
        model_state = net.init_state()
        opt_state = opt.init(params)
        loop = LoopState()
        batch_rng = np.random.default_rng([config.seed, 1])
        rows: list[dict[str, Any]] = []
    else:
        params = np.array(start["params"], dtype=dtype)
        model_state = {k: np.array(v, dtype=dtype) for k, v in start["model_state"].items()}
        opt_state = dict(start["opt_state"])
        loop = LoopState(**start["loop"])
        batch_rng = np.random.default_rng()
        batch_rng.bit_generator.state = loop.rng_state
        rows = start["history"].to_dict("records")
        if plateau is not None:
            vars(plateau).update(loop.plateau)

    grad = np.zeros_like(params) if slot is None else slot[1]
    prev = np.empty_like(params)
    best_params = params.copy() if config.early_stopping and config.restore_best else None
    X, Y, y = ds.X_train, ds.Y_train, ds.y_train
    # Shuffling gathers the whole split once per epoch, so every batch is a
    # contiguous slice; drawing with replacement gathers batch by batch.
    shuffled = config.sampling == "shuffle" and b < n
    if not shuffled:
        xb = np.empty((b, X.shape[1]), dtype=dtype)
        yb_enc = np.empty((b, Y.shape[1]), dtype=Y.dtype)
    # predicted and true labels of the epoch's batches, compared once per evaluation
    pred = np.empty(updates_per_epoch * b, dtype=np.int64)
    seen_labels = np.empty(updates_per_epoch * b, dtype=y.dtype)
    binary = Y.shape[1] == 1
    classify = ds.task != "regression"
    metric_col = "val_r2" if ds.task == "regression" else "val_acc"
    closure = None
    if optim.REGISTRY[config.optimizer].extra.get("full_batch_only"):
        cgrad = np.zeros_like(params)

        def closure(p: np.ndarray) -> tuple[float, np.ndarray]:
            loss_c = net.loss_grad(p, X, Y, cgrad, model_state)
            return loss_c, cgrad

    def accuracy(labels: np.ndarray, seen: int) -> float | None:
        """Training accuracy over the batches of the epoch so far."""
        if not classify or seen == 0:
            return None
        return float(np.count_nonzero(pred[:seen] == labels[:seen])) / seen

    def clip(g: np.ndarray) -> None:
        if config.clip_value > 0:
            np.clip(g, -config.clip_value, config.clip_value, out=g)
        if config.clip_norm > 0:
            norm = math.sqrt(float(np.dot(g, g)))
            if norm > config.clip_norm:
                g *= config.clip_norm / norm

    def diagnostics() -> dict[str, float]:
        d: dict[str, float] = {}
        for name, sl in zip(net.layer_names, net.layer_slices, strict=True):
            gs = grad[sl]
            d[f"grad_norm_{name}"] = math.sqrt(float(np.dot(gs, gs)))
        for k, v in opt.state_norms(opt_state).items():
            d[f"state_norm_{k}"] = v
        return d

    def record(train_loss: float, train_acc: float | None, ratio: float, mid_epoch: bool = False):
        val_loss, val_metric = _evaluate(net, params, ds.X_val, ds.Y_val, ds.y_val, model_state, ds.task)
        row = {
            # rows evaluated inside an epoch (eval_every) sit at fractional epochs
            "epoch": loop.updates / updates_per_epoch if mid_epoch else float(loop.epoch),
            "updates": loop.updates,
            "samples_seen": loop.samples_seen,
            "time_s": loop.time_s,
            "lr": opt.lr,
            "train_loss": train_loss,
            "val_loss": val_loss,
        }
        if classify:
            row["train_acc"] = train_acc
        row[metric_col] = val_metric
        row["update_ratio"] = ratio
        row.update(diagnostics())
        rows.append(row)
        return row

    status, stop_reason, diverged_at = "completed", "", None
    eval_s = 0.0
    epoch_times: list[float] = []
    # lock-step: time spent suspended on the other runs' work, minus this run's
    # share of the stacked pass, so each run's clock counts its own cost
    waited = 0.0

    initial_eval_s = 0.0
    if not rows:  # the initial row: where every curve starts
        t0 = time.perf_counter()
        train_loss0, train_acc0 = _evaluate(net, params, X, Y, y, model_state, ds.task)
        opt.lr = schedule(1)
        record(train_loss0, train_acc0 if classify else None, 0.0)
        initial_eval_s = time.perf_counter() - t0

    # wall time counts training only; evaluations inside the loop are subtracted
    t_start = time.perf_counter() - loop.time_s
    while loop.epoch < n_epochs and status == "completed":
        epoch_t0, epoch_waited0 = time.perf_counter(), waited
        loop.epoch += 1
        if shuffled:
            order = batch_rng.permutation(n)
            # fancy indexing gathers rows faster than np.take(..., out=) here
            Xp, Yp, labels = X[order], Y[order], y[order]
        else:
            labels = y if b == n and config.sampling == "shuffle" else seen_labels
        loss_sum, seen = 0.0, 0
        for j in range(updates_per_epoch):
            if loop.updates >= total_updates:
                break
            # -- the batch ------------------------------------------------
            if shuffled:
                lo = j * b
                Xb, Yb = Xp[lo:lo + b], Yp[lo:lo + b]
            elif b == n and config.sampling == "shuffle":
                Xb, Yb = X, Y  # full batch: no copy
            else:
                idx = (batch_rng.integers(0, n, size=1) if b == 1
                       else batch_rng.choice(n, size=b, replace=False))
                Xb, Yb = xb, yb_enc
                np.take(X, idx, axis=0, out=Xb)
                np.take(Y, idx, axis=0, out=Yb)
                np.take(y, idx, axis=0, out=seen_labels[seen:seen + b])
            m = Xb.shape[0]
            # -- one update -----------------------------------------------
            loop.updates += 1
            opt.lr = schedule(loop.updates)
            if slot is None:
                loss = net.loss_grad(params, Xb, Yb, grad, model_state)
                out = net.last_output
            else:
                t_yield = time.perf_counter()
                loss, out, share = yield Xb, Yb
                waited += time.perf_counter() - t_yield - share
            if not math.isfinite(loss):
                status, diverged_at = "diverged", loop.updates
                stop_reason = (
                    f"The training loss became {loss} at update {loop.updates}; "
                    "lower the learning rate or clip the gradients."
                )
                break
            loss_sum += loss * m
            if classify:
                if binary:
                    np.greater_equal(out[:, 0], 0.5, out=pred[seen:seen + m])
                else:
                    out.argmax(axis=1, out=pred[seen:seen + m])
            seen += m
            if config.clip_norm > 0 or config.clip_value > 0:
                clip(grad)
            end_of_period = (
                j == updates_per_epoch - 1 or loop.updates == total_updates
                or (config.eval_every and loop.updates % config.eval_every == 0)
            )
            if end_of_period:
                np.copyto(prev, params)
            if slot is None:
                opt.step(params, grad, opt_state, closure)
            else:  # the stacked driver steps its runs together, then sends this run's share
                t_yield = time.perf_counter()
                share = yield opt, opt_state, closure
                waited += time.perf_counter() - t_yield - share
            loop.samples_seen += m
            if config.eval_every and loop.updates % config.eval_every == 0 and not (
                j == updates_per_epoch - 1 or loop.updates == total_updates
            ):
                loop.time_s = time.perf_counter() - t_start - eval_s - waited
                t0 = time.perf_counter()
                if not np.all(np.isfinite(params)):
                    break
                record(loss_sum / max(seen, 1), accuracy(labels, seen), _ratio(params, prev),
                       mid_epoch=True)
                eval_s += time.perf_counter() - t0
        loop.time_s = time.perf_counter() - t_start - eval_s - waited
        epoch_times.append(time.perf_counter() - epoch_t0 - (waited - epoch_waited0))
        if status == "diverged":
            break
        if not np.all(np.isfinite(params)):
            status, diverged_at = "diverged", loop.updates
            stop_reason = (
                f"The parameters became non-finite at update {loop.updates}; "
                "lower the learning rate or clip the gradients."
            )
            break
        t0 = time.perf_counter()
        row = record(loss_sum / max(seen, 1), accuracy(labels, seen), _ratio(params, prev))
        eval_s += time.perf_counter() - t0
        val_loss = row["val_loss"]
        if not math.isfinite(val_loss):
            status, diverged_at = "diverged", loop.updates
            stop_reason = (
                f"The validation loss became {val_loss} at update {loop.updates}; "
                "lower the learning rate or clip the gradients."
            )
            break
        # -- plateau schedule and early stopping ----------------------------
        if plateau is not None:
            plateau.update(val_loss)
        score = val_loss if config.monitor == "val_loss" else -row[metric_col]
        if score < loop.best_score - config.min_delta:
            loop.best_score, loop.best_epoch, loop.bad_epochs = score, loop.epoch, 0
            if best_params is not None:
                np.copyto(best_params, params)
        else:
            loop.bad_epochs += 1
            if config.early_stopping and loop.bad_epochs >= config.patience:
                status = "early_stopped"
                stop_reason = (
                    f"{config.monitor} did not improve by more than {config.min_delta:g} for "
                    f"{config.patience} epochs; the best was at epoch {loop.best_epoch}"
                    + (" and its parameters were restored." if best_params is not None else ".")
                )
        if callback is not None:
            progress = {
                "epoch": loop.epoch, "epochs": n_epochs, "updates": loop.updates,
                "train_loss": row["train_loss"], "val_loss": val_loss, "time_s": loop.time_s,
                "fraction": loop.updates / total_updates, metric_col: row[metric_col],
            }
            if callback(progress) is False and status == "completed" and loop.epoch < n_epochs:
                status, stop_reason = "interrupted", f"Stopped by the user after epoch {loop.epoch}."

    if status == "completed":
        stop_reason = f"Completed {loop.epoch} epochs ({loop.updates} updates)."
    if status == "early_stopped" and best_params is not None:
        np.copyto(params, best_params)
    elif status == "completed" and best_params is not None and config.early_stopping:
        np.copyto(params, best_params)

    loop.rng_state = batch_rng.bit_generator.state
    loop.plateau = _plateau_state(plateau)
    history = pd.DataFrame(rows)
    test_metrics: dict[str, float] = {}
    if status != "diverged" and np.all(np.isfinite(params)):
        test_loss, test_metric = _evaluate(net, params, ds.X_test, ds.Y_test, ds.y_test, model_state, ds.task)
        metric_name = "test_r2" if ds.task == "regression" else "test_acc"
        test_metrics = {"test_loss": test_loss, metric_name: test_metric}
    total_s = time.perf_counter() - t_start - waited + initial_eval_s
    train_s = loop.time_s
    timings = {
        "total_s": total_s,
        "train_s": train_s,
        "eval_s": eval_s + initial_eval_s,
        "per_epoch_s": float(np.median(epoch_times)) if epoch_times else math.nan,
        "updates_per_s": loop.updates / train_s if train_s > 0 else math.nan,
        "samples_per_s": loop.samples_seen / train_s if train_s > 0 else math.nan,
        "updates_per_epoch": float(updates_per_epoch),
    }
    valid = history["val_loss"].replace([np.inf, -np.inf], np.nan)
    best_i = valid.idxmin() if valid.notna().any() else None
    return RunResult(
        config=config,
        key=config.key(),
        history=history,
        status=status,
        stop_reason=stop_reason,
        task=ds.task,
        diverged_at=diverged_at,
        best_epoch=None if best_i is None else float(history.loc[best_i, "epoch"]),
        best_val_loss=math.nan if best_i is None else float(history.loc[best_i, "val_loss"]),
        test_metrics=test_metrics,
        timings=timings,
        params=params,
        model_state=model_state,
        opt_state=opt_state,
        progress=vars(loop),
    )


def _ratio(params: np.ndarray, prev: np.ndarray) -> float:
    """‖θ_t − θ_{t−1}‖ / ‖θ_{t−1}‖ for the last update (about 1e-3 is healthy)."""
    denom = math.sqrt(float(np.dot(prev, prev)))
    diff = params - prev
    return math.sqrt(float(np.dot(diff, diff))) / denom if denom > 0 else math.nan


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
    net = MLP(ds.n_features, cfg.hidden, ds.n_outputs, cfg.activation, ds.output, cfg.batchnorm, cfg.dtype)
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
