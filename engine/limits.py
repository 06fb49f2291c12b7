"""Work limits: what a run will cost, estimated from its config before training.

:func:`estimate` reads only the config's shape (the dataset's size, the layer
widths, the optimizer, the batch and the budget) and loads nothing:

* **parameters** ``P``: weights and biases of every layer (plus batch-norm's
  scale and shift), and ``P_w`` the weights alone (multiply-adds per sample
  for one forward pass);
* **peak memory**: the parameters, their gradient, the previous parameters
  (for the update ratio), the early-stopping snapshot, the optimizer state
  (``k·P``, where ``k`` is measured from the optimizer's own ``init``: 2 for
  Adam, 1 for momentum, ``2·history_size`` for L-BFGS), the layer
  workspaces of one batch (forward and backward) and of the validation and
  test passes, the dataset (raw, scaled splits and the per-epoch shuffled
  copy), and the stored blob written at the end;
* **arithmetic** in GFLOP (a multiply-add is 2): per update forward +
  backward ``3·b·P_w`` multiply-adds and the optimizer's element-wise work,
  one validation pass per evaluation, times the number of updates (an L-BFGS
  step evaluates the full batch up to ``max_eval`` times);
* **updates**: ``max_updates``, or ``epochs × ceil(n_train / batch_size)``;
* **stored size**: parameters and optimizer state in the config's dtype, plus
  the history (one row of float64 columns per evaluation).

:func:`check` compares the estimate with the operator's caps and raises a
``ValueError`` that names the field driving the cost, the estimate and the
limit, e.g.::

    hidden: 4096,4096,4096 needs about 2.2 GB of memory; the limit is 1.0 GB

The caps default to what one run may take on a 2.7 GB host (the server itself
uses about 300 MB, and a worker pool of two runs must fit beside it), and the
operator sets them with environment variables:

``OPTLAB_MAX_MEMORY_MB``  peak memory of one run, in MB (default 1024)
``OPTLAB_MAX_GFLOP``      arithmetic of one run, in GFLOP (default 200: a few
                          minutes of one core)
``OPTLAB_MAX_UPDATES``    optimizer updates of one run (default 1000000)
``OPTLAB_MAX_STORED_MB``  size of one stored run, in MB (default 128)
``OPTLAB_MAX_THREADS``    threads one run may use for the two shards of a large batch
                          (default 2; ``threads`` 0 uses at most this many)

Each takes a positive number; ``inf`` lifts that cap. The command line lifts
all of them with ``--no-limits``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.config import RunConfig
from engine.nn.mlp import EVAL_ROWS

MB = 2**20
GB = 2**30

ENV = {
    "memory_mb": "OPTLAB_MAX_MEMORY_MB",
    "gflop": "OPTLAB_MAX_GFLOP",
    "updates": "OPTLAB_MAX_UPDATES",
    "stored_mb": "OPTLAB_MAX_STORED_MB",
    "threads": "OPTLAB_MAX_THREADS",
}

# element-wise work of one update besides the optimizer's own (copying the previous
# parameters, the update ratio, the gradient norm): operations per parameter
_UPDATE_OVERHEAD = 4
# element-wise operations per parameter per optimizer-state array (read, scale, add, write)
_PER_STATE = 4
# history columns besides the per-layer gradient norms and the optimizer-state norms
_BASE_COLUMNS = 10
# a stored run's fixed bytes: the JSON of its config and summaries, and each array's zip and .npy headers
_FILE_OVERHEAD = 6 * 1024
_MEMBER_OVERHEAD = 250


@dataclass(frozen=True)
class Limits:
    """Caps on one run; ``math.inf`` means no cap."""

    memory_mb: float = 1024.0
    gflop: float = 200.0
    updates: float = 1_000_000
    stored_mb: float = 128.0
    threads: float = 2  # threads of one run (engine.nn.shards)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, overridden by ``OPTLAB_MAX_*`` variables that are set."""
        environ = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for name, var in ENV.items():
            raw = environ.get(var)
            if raw is None or not raw.strip():
                continue
            try:
                v = float(raw)
            except ValueError:
                v = math.nan
            if not v > 0:  # also refuses nan
                raise ValueError(f"{var}: {raw[:40]!r} is not allowed; allowed: a positive number, "
                                 "or inf for no limit")
            values[name] = v
        return cls(**values)

    @classmethod
    def none(cls) -> Limits:
        return cls(math.inf, math.inf, math.inf, math.inf, math.inf)


@dataclass(frozen=True)
class Cost:
    """The estimate for one config. Memory parts and sizes are in bytes."""

    params: int
    weights: int
    state_multiple: float
    n_train: int
    batch_size: int
    updates: int
    epochs: int
    evaluations: int
    memory: Mapping[str, int] = field(default_factory=dict)
    gflop: float = 0.0
    stored_bytes: int = 0

    @property
    def memory_bytes(self) -> int:
        return int(sum(self.memory.values()))


def _shape(config: RunConfig) -> tuple[int, int, tuple[int, int, int]]:
    from engine import data

    spec = data.REGISTRY[config.dataset]
    n_features, n_outputs = spec.extra["shape"](config.dataset_params)
    sizes = data.split_sizes(spec, config.dataset_params, config.val_fraction, config.test_fraction)
    return n_features, n_outputs, sizes


def _state_multiple(config: RunConfig) -> float:
    """Optimizer-state elements per parameter, measured from the optimizer's own ``init``."""
    from engine import optim

    def elements(v: Any) -> int:
        if isinstance(v, np.ndarray):
            return v.size
        if isinstance(v, Mapping):
            return sum(elements(x) for x in v.values())
        if isinstance(v, list | tuple):
            return sum(elements(x) for x in v)
        return 0

    opt = optim.create(config.optimizer, **config.optimizer_params)
    small, large = (elements(opt.init(np.zeros(n))) for n in (64, 128))
    return (large - small) / 64  # the slope: per-parameter arrays only, not fixed-size ones


def estimate(config: RunConfig) -> Cost:
    """The cost of training ``config`` (see the module docstring for what is counted)."""
    from engine import optim

    d, k, (n_train, n_val, n_test) = _shape(config)
    widths = [d, *config.hidden, k]
    weights = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    params = weights + sum(widths[1:]) + (2 * sum(config.hidden) if config.batchnorm else 0)
    item = np.dtype(config.dtype).itemsize
    b = min(config.batch_size, n_train)
    per_epoch = math.ceil(n_train / b)
    updates = config.max_updates or config.epochs * per_epoch
    epochs = math.ceil(updates / per_epoch)
    # the history starts with a row for the untrained network, then one per evaluation
    evaluations = 1 + epochs + (updates // config.eval_every if config.eval_every else 0)
    state = _state_multiple(config)
    ospec = optim.REGISTRY[config.optimizer]
    full_batch = bool(ospec.extra.get("full_batch_only"))
    early = config.early_stopping and config.restore_best
    outputs = sum(widths[1:])
    hidden = sum(config.hidden)

    # arithmetic: multiply-adds count 2, element-wise operations 1
    passes = 1
    if full_batch:
        hp = config.optimizer_params
        passes = int(hp.get("max_eval") or hp.get("max_iter", 20) * 5 // 4) + 1
    flop_update = 2 * 3 * b * weights * passes + (_UPDATE_OVERHEAD + _PER_STATE * state) * params
    flop_eval = 2 * n_val * weights
    gflop = (updates * flop_update + evaluations * flop_eval + 2 * n_test * weights) / 1e9

    columns = _BASE_COLUMNS + len(widths) - 1 + math.ceil(state) + 1
    stored = int(params * (1 + state) * item + 2 * hidden * item * config.batchnorm
                 + evaluations * columns * 8 + _FILE_OVERHEAD + _MEMBER_OVERHEAD * (columns + 4))
    memory = {
        "parameters": params * item * (3 + early + (1 if full_batch else 0)),
        "optimizer state": int(params * state * item),
        "activations": item * (3 * b * outputs + b * d + (2 * b * hidden if config.batchnorm else 0)
                               # evaluation passes run EVAL_ROWS rows at a time
                               + 2 * (min(n_val, EVAL_ROWS) + min(n_test, EVAL_ROWS)) * outputs
                               + (n_val + n_test) * k),
        "dataset": (n_train + n_val + n_test) * (8 * d + 2 * item * (d + k)) + n_train * item * (d + k),
        "stored copy": stored,
    }
    return Cost(params=params, weights=weights, state_multiple=state, n_train=n_train, batch_size=b,
                updates=updates, epochs=epochs, evaluations=evaluations, memory=memory, gflop=gflop,
                stored_bytes=stored)


def _size(n: float) -> str:
    if n >= GB:
        return f"{n / GB:.1f} GB"
    if n >= MB:
        return f"{n / MB:.0f} MB"
    return f"{n / 1024:.0f} kB"


def _count(x: float) -> str:
    return f"{x:,.0f}" if x < 1e12 else f"{x:.3g}"


def _value(config: RunConfig, name: str) -> str:
    if name == "hidden":
        return ",".join(str(w) for w in config.hidden) or "none"
    if name.startswith("dataset_params."):
        return f"{config.dataset_params[name.split('.', 1)[1]]}"
    return str(getattr(config, name))


def _data_field(config: RunConfig) -> str:
    params = config.dataset_params
    for name in ("n_samples", "n_rows", "n_features"):
        if name in params:
            return f"dataset_params.{name}"
    return "dataset"


def _budget_field(config: RunConfig) -> str:
    return "max_updates" if config.max_updates else "epochs"


def _batch_field(config: RunConfig) -> str:
    return "batch_size" if config.mode == "minibatch" else "mode"


def _memory_field(config: RunConfig, cost: Cost) -> str:
    parts = cost.memory
    model = parts["parameters"] + parts["optimizer state"] + parts["stored copy"]
    top = max(("model", model), ("activations", parts["activations"]), ("dataset", parts["dataset"]),
              key=lambda kv: kv[1])[0]
    if top == "activations":
        return _batch_field(config) if cost.batch_size * 4 >= cost.n_train else "hidden"
    if top == "dataset":
        return _data_field(config)
    if cost.state_multiple > 8 and parts["optimizer state"] > parts["parameters"]:
        return "optimizer_params.history_size" if "history_size" in config.optimizer_params \
            else "optimizer"
    return "hidden" if config.hidden else _data_field(config)


def _arithmetic_field(config: RunConfig, cost: Cost, limits: Limits) -> str:
    per_epoch = cost.gflop / max(cost.epochs, 1)
    if per_epoch * min(cost.epochs, 20) <= limits.gflop:  # a usual budget would fit: the budget is too long
        return _budget_field(config)
    updates_per_epoch = math.ceil(cost.n_train / cost.batch_size)
    elementwise = updates_per_epoch * (_UPDATE_OVERHEAD + _PER_STATE * cost.state_multiple) * cost.params
    if elementwise * 1e-9 > per_epoch / 2 and cost.batch_size < cost.n_train:
        return _batch_field(config)  # one-sample updates: the optimizer's work dominates
    return "hidden" if config.hidden else _data_field(config)


def _stored_field(config: RunConfig, cost: Cost) -> str:
    history = cost.evaluations * 8 * _BASE_COLUMNS
    if history > cost.stored_bytes / 2:
        return "eval_every" if config.eval_every else _budget_field(config)
    return "hidden" if config.hidden else _data_field(config)


def check(config: RunConfig, limits: Limits | None = None) -> Cost:
    """Return the estimate of ``config``, or raise ValueError if it is over a cap.

    ``limits`` defaults to :meth:`Limits.from_env`. The message names the field
    that drives the cost, the estimate and the limit.
    """
    limits = Limits.from_env() if limits is None else limits
    cost = estimate(config)

    def refuse(name: str, what: str, limit: str, var: str) -> None:
        raise ValueError(f"{name}: {_value(config, name)} needs about {what}; the limit is {limit} "
                         f"(the operator sets it with {var})")

    if cost.memory_bytes > limits.memory_mb * MB:
        refuse(_memory_field(config, cost), f"{_size(cost.memory_bytes)} of memory",
               _size(limits.memory_mb * MB), ENV["memory_mb"])
    if cost.updates > limits.updates:
        refuse(_budget_field(config) if config.max_updates or config.epochs > 20 else _batch_field(config),
               f"{_count(cost.updates)} updates", _count(limits.updates), ENV["updates"])
    if cost.gflop > limits.gflop:
        refuse(_arithmetic_field(config, cost, limits), f"{_count(cost.gflop)} GFLOP of arithmetic",
               f"{_count(limits.gflop)} GFLOP", ENV["gflop"])
    if config.threads > limits.threads:  # 0 (automatic) stays within the cap by itself
        refuse("threads", f"{config.threads} threads", f"{limits.threads:g}", ENV["threads"])
    if cost.stored_bytes > limits.stored_mb * MB:
        refuse(_stored_field(config, cost), f"{_size(cost.stored_bytes)} of storage",
               _size(limits.stored_mb * MB), ENV["stored_mb"])
    return cost
