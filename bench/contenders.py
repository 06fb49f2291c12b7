"""One timing function per contender: ``fn(problem, cell) -> Timing`` (or None if it can't run).

Every contender trains ``cell.epochs`` epochs of the problem's MLP
(ReLU hidden layers, softmax + cross-entropy) from a fresh initialisation,
shuffling once per epoch and slicing batches off the permutation.

* ``engine``: ``engine.train(RunConfig(...))``, the app's own path with its
  per-epoch validation, history row, gradient-norm diagnostics and final test
  evaluation. ``epoch_s`` is the whole ``train`` call divided by the epochs;
  ``epoch_train_s`` is the engine's own median per-epoch training time
  (``RunResult.timings["per_epoch_s"]``, validation excluded).
* ``engine core``: the bare update loop, ``MLP.loss_grad`` + ``Optimizer.step``
  on gathered batches, no validation or history, with ``engine.train``'s
  thread policy: one BLAS thread, and a large batch's two shards on the threads
  ``engine.train.run_threads`` gives a default config (two on a 2-core host).
* ``sklearn``: ``MLPClassifier(...).fit`` with ``tol=0`` and
  ``n_iter_no_change`` huge so that it runs exactly ``max_iter`` epochs;
  ``epoch_s`` = fit time / epochs.
* ``torch``: ``nn.Sequential(Linear, ReLU, ..., Linear)``, ``torch.optim``
  SGD(momentum) / Adam with their defaults (for-loop implementation on CPU),
  ``CrossEntropyLoss``, ``torch.set_num_threads(2)``; per epoch a
  ``torch.randperm`` and index slicing ``X[perm[i:i+b]]`` (no DataLoader); at
  full batch the whole tensor is used as is. No per-batch ``.item()``.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bench.problems import OPT_PARAMS, Cell, Problem, arrays


@dataclass
class Timing:
    epoch_s: float  # wall time of the training call / epochs
    epochs: int
    updates_per_epoch: int
    epoch_train_s: float = math.nan  # engine only: median epoch without validation
    status: str = "ok"
    final_loss: float = math.nan
    extra: dict = field(default_factory=dict)

    @property
    def update_us(self) -> float:
        return self.epoch_s / self.updates_per_epoch * 1e6


# -- engine.train ----------------------------------------------------------------
def engine_available(problem: Problem) -> tuple[bool, str]:
    """Whether ``engine.train`` can run this problem (its dataset is registered)."""
    from engine import data

    if problem.engine_dataset is None or problem.engine_dataset not in data.REGISTRY:
        return False, f"engine.data has no {problem.engine_dataset!r} dataset"
    try:
        _engine_config(problem, Cell(problem.name, 0, "adam", 1), "float64")
    except ValueError as e:
        return False, f"RunConfig rejected the {problem.engine_dataset!r} dataset: {e}"
    return True, ""


def _engine_config(problem: Problem, cell: Cell, dtype: str):
    from engine import RunConfig, data

    n_train = data.split_sizes(problem.engine_dataset, problem.engine_dataset_params,
                               problem.val_fraction, problem.test_fraction)[0]
    if n_train != problem.n_train:
        raise ValueError(f"the engine's training split has {n_train} samples, not {problem.n_train}")
    full = cell.batch == 0
    return RunConfig(
        dataset=problem.engine_dataset, dataset_params=problem.engine_dataset_params,
        hidden=problem.hidden, activation="relu", optimizer=cell.optimizer,
        optimizer_params=OPT_PARAMS[cell.optimizer],
        mode="batch" if full else "minibatch", batch_size=problem.n_train if full else cell.batch,
        epochs=cell.epochs, val_fraction=problem.val_fraction, test_fraction=problem.test_fraction,
        seed=0, dtype=dtype,
    )


def engine_train(problem: Problem, cell: Cell, dtype: str) -> Timing:
    from engine import train

    cfg = _engine_config(problem, cell, dtype)
    t0 = time.perf_counter()
    r = train(cfg)
    wall = time.perf_counter() - t0
    h = r.history
    return Timing(
        epoch_s=wall / cell.epochs, epochs=cell.epochs,
        updates_per_epoch=problem.updates_per_epoch(cell),
        epoch_train_s=float(r.timings["per_epoch_s"]),
        status="ok" if r.status == "completed" else r.status,
        final_loss=float(h["train_loss"].iloc[-1]) if len(h) else math.nan,
        extra={"eval_s_per_epoch": r.timings["eval_s"] / cell.epochs},
    )


# -- the engine's bare loop ---------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def engine_threads() -> int:
    """The threads ``engine.train`` gives a large batch's shards by default on this host."""
    from engine.config import RunConfig
    from engine.train import run_threads

    return run_threads(RunConfig())


def engine_core(problem: Problem, cell: Cell, dtype: str, threads: int | None = None) -> Timing:
    """The core loop with one BLAS thread and ``threads`` for the shards (None: the default)."""
    with _controller().limit(limits=1, user_api="blas"):
        return _engine_core(problem, cell, dtype, engine_threads() if threads is None else threads)


def _engine_core(problem: Problem, cell: Cell, dtype: str, threads: int) -> Timing:
    from engine import optim
    from engine.nn import MLP

    a = arrays(problem.name)
    X = np.ascontiguousarray(a["X"], dtype=dtype)
    Y = np.ascontiguousarray(a["Y"], dtype=dtype)
    n, d = X.shape
    b = problem.batch_size(cell)
    net = MLP(d, problem.hidden, Y.shape[1], "relu", "softmax", dtype=dtype)
    net.threads = threads
    t0 = time.perf_counter()
    params = net.init_params(np.random.default_rng([0, 0]), "he_uniform")
    grad = np.zeros_like(params)
    opt = optim.create(cell.optimizer, **OPT_PARAMS[cell.optimizer])
    state = opt.init(params)
    xb = np.empty((b, d), dtype=dtype)
    yb = np.empty((b, Y.shape[1]), dtype=dtype)
    rng = np.random.default_rng([0, 1])
    loss = math.nan
    for _ in range(cell.epochs):
        if b >= n:
            loss = net.loss_grad(params, X, Y, grad)
            opt.step(params, grad, state)
            continue
        order = rng.permutation(n)
        for j in range(0, n, b):
            idx = order[j:j + b]
            m = idx.shape[0]
            Xb, Yb = xb[:m], yb[:m]
            np.take(X, idx, axis=0, out=Xb)
            np.take(Y, idx, axis=0, out=Yb)
            loss = net.loss_grad(params, Xb, Yb, grad)
            opt.step(params, grad, state)
    wall = time.perf_counter() - t0
    return Timing(wall / cell.epochs, cell.epochs, problem.updates_per_epoch(cell),
                  status="ok" if math.isfinite(loss) else "diverged", final_loss=float(loss))


# -- scikit-learn -------------------------------------------------------------------------
def sklearn_mlp(problem: Problem, cell: Cell, dtype: str = "float64") -> Timing:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    a = arrays(problem.name)
    X = np.ascontiguousarray(a["X"], dtype=dtype)
    y = a["y"]
    hp = OPT_PARAMS[cell.optimizer]
    kw = dict(
        hidden_layer_sizes=problem.hidden, activation="relu", solver=cell.optimizer,
        learning_rate_init=hp["lr"], batch_size=problem.batch_size(cell), max_iter=cell.epochs,
        tol=0.0, n_iter_no_change=10**9, early_stopping=False, shuffle=True, alpha=0.0,
        random_state=0,
    )
    if cell.optimizer == "sgd":
        kw.update(momentum=hp["momentum"], nesterovs_momentum=False, learning_rate="constant")
    clf = MLPClassifier(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        clf.fit(X, y)
        wall = time.perf_counter() - t0
    status = "ok" if clf.n_iter_ == cell.epochs else f"stopped after {clf.n_iter_} epochs"
    return Timing(wall / cell.epochs, cell.epochs, problem.updates_per_epoch(cell),
                  status=status, final_loss=float(clf.loss_))


# -- PyTorch ----------------------------------------------------------------------------------
_TORCH_READY = False


def torch_setup() -> None:
    global _TORCH_READY
    if not _TORCH_READY:
        import torch

        torch.set_num_threads(2)
        _TORCH_READY = True


def torch_mlp(problem: Problem, cell: Cell, dtype: str) -> Timing:
    import torch

    torch_setup()
    tdtype = getattr(torch, dtype)
    a = arrays(problem.name)
    X = torch.from_numpy(np.ascontiguousarray(a["X"], dtype=dtype))
    y = torch.from_numpy(a["y"])
    n = X.shape[0]
    b = problem.batch_size(cell)
    torch.manual_seed(0)
    sizes = problem.sizes
    layers: list[torch.nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1], dtype=tdtype))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    hp = OPT_PARAMS[cell.optimizer]
    if cell.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=hp["lr"], momentum=hp["momentum"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=hp["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(1)
    loss = None
    t0 = time.perf_counter()
    for _ in range(cell.epochs):
        if b >= n:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(X), y)
            loss.backward()
            opt.step()
            continue
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, b):
            idx = perm[i:i + b]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
    wall = time.perf_counter() - t0
    final = float(loss.detach()) if loss is not None else math.nan
    return Timing(wall / cell.epochs, cell.epochs, problem.updates_per_epoch(cell),
                  status="ok" if math.isfinite(final) else "diverged", final_loss=final)


# -- the roster ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    fn: Callable[..., Timing]
    dtype: str
    family: str  # engine / core / sklearn / torch


CONTENDERS = [
    Contender("engine64", "engine f64", engine_train, "float64", "engine"),
    Contender("engine32", "engine f32", engine_train, "float32", "engine"),
    Contender("core64", "engine (core loop) f64", engine_core, "float64", "core"),
    Contender("core32", "engine (core loop) f32", engine_core, "float32", "core"),
    Contender("sklearn64", "scikit-learn f64", sklearn_mlp, "float64", "sklearn"),
    Contender("torch32", "PyTorch f32", torch_mlp, "float32", "torch"),
    Contender("torch64", "PyTorch f64", torch_mlp, "float64", "torch"),
]
BY_KEY = {c.key: c for c in CONTENDERS}


def roster(problem: Problem) -> tuple[list[Contender], list[str]]:
    """The contenders for one problem, and notes on any left out."""
    ok, why = engine_available(problem)
    notes = []
    out = []
    for c in CONTENDERS:
        if c.family == "engine" and not ok:
            if c.dtype == "float64":
                notes.append(f"{problem.name}: engine.train not run ({why}); "
                             "the engine is timed by its core loop only.")
            continue
        out.append(c)
    return out, notes
