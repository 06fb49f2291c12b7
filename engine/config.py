"""RunConfig: the complete, validated description of one training run.

Every field is declared once, with its spec (:data:`FIELDS`). A run is keyed
by a stable hash of its complete config (``RunConfig.key()``) and the
engine's version, which fingerprints its numerics (:mod:`engine.version`).
Defaults of every registered entry are filled in on construction, so
``{"lr": 1e-3}`` and ``{}`` for Adam give the same key: the same run is never
trained twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine import data, nn, optim, schedules, version
from engine.nn.losses import MSE_FORMS
from engine.spec import Hyper

MODES = ("batch", "sgd", "minibatch")
MAX_THREADS = 2  # threads for a large batch's two shards (engine.nn.shards)
MAX_EPOCHS = 10_000


def _canon(value: Any) -> Any:
    """JSON-ready, order-independent form of a config value."""
    if isinstance(value, Mapping):
        return {str(k): _canon(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        # 1.0 and 1 must hash alike once validated as floats
        return float(value)
    return value


def _need(cond: bool, field_name: str, value: Any, allowed: str) -> None:
    if not cond:
        raise ValueError(f"{field_name}: {value!r} is not allowed; allowed: {allowed}")


def _field(default: Any, help: str, kind: str, **spec: Any) -> Any:
    """A RunConfig field whose spec (engine.spec.Hyper) is declared with it."""
    meta = {"spec": {"help": help, "kind": kind, **spec}}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=meta)
    return field(default=default, metadata=meta)


_MINIBATCH = (("mode", ("minibatch",)),)
_STOCHASTIC = (("mode", ("sgd", "minibatch")),)
_EARLY = (("early_stopping", (True,)),)
# datasets whose task is or may be regression (a CSV's task is chosen with its target)
_REGRESSION = (("dataset", tuple(name for name, e in data.REGISTRY.items()
                                 if e.extra.get("task") in ("regression", "auto"))),)


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's result.

    Each field is declared once, here, with its spec (kind, default, range or
    choices, URL name, sidebar group, help): :data:`FIELDS` collects them,
    and validation, the sidebar, URL state, ``&hide=`` groups, lesson links
    and the stack key all derive from it.

    ``hidden=()`` gives logistic, softmax or linear regression. ``mode`` is
    ``"batch"`` (one update per epoch on the whole training split), ``"sgd"``
    (one sample per update) or ``"minibatch"`` (``batch_size`` samples per
    update). The budget is ``epochs``, or ``max_updates`` when that is > 0.
    """

    # -- data
    dataset: str = _field(
        "digits", "The learning task.", "entry", registry=data.REGISTRY, group="data", stacks=True,
        label="Dataset")
    dataset_params: Mapping[str, Any] = _field(
        {}, "The dataset's own settings.", "params", of="dataset", url="data", group="data",
        stacks=True)
    # -- model
    hidden: tuple[int, ...] = _field(
        (64,), "Widths of the hidden layers, comma-separated (e.g. 64, 32). Empty: no hidden layer "
        "(logistic, softmax or linear regression).", "widths", low=1, high=4096, max_len=16,
        group="model", stacks=True, label="Hidden layers")
    activation: str = _field(
        "relu", "The non-linearity after each hidden layer.", "entry", registry=nn.ACTIVATIONS,
        group="model", stacks=True, label="Activation")
    initializer: str = _field(
        "he_uniform", "How the weights start.", "entry", registry=nn.INITIALIZERS, url="init",
        group="model", label="Initializer")
    init_params: Mapping[str, Any] = _field(
        {}, "The initializer's own settings.", "params", of="initializer", url="init", group="model")
    batchnorm: bool = _field(
        False, "Normalise each hidden layer's pre-activations over the batch.", "bool",
        group="model", stacks=True, label="Batch normalisation")
    mse_form: str = _field(
        "mean", "Regression loss: mean over outputs (torch MSELoss), ½ of it, Σ over outputs, or "
        "½ Σ as deck 002 writes it (the mean over samples is always taken). Classification "
        "tasks ignore it.", "choice", choices=tuple(MSE_FORMS), group="model", show_if=_REGRESSION,
        stacks=True,
        label="Regression loss",
        titles=(("mean", "Mean over outputs (torch)"), ("half_mean", "½ mean over outputs"),
                ("sum", "Σ over outputs"), ("half_sum", "½ Σ over outputs (deck 002)")))
    # -- optimizer
    optimizer: str = _field(
        "adam", "The update rule. Its hyperparameters follow.", "entry", registry=optim.REGISTRY,
        group="optimizer", label="Optimizer")
    optimizer_params: Mapping[str, Any] = _field(
        {}, "The optimizer's hyperparameters.", "params", of="optimizer", url="opt", group="optimizer")
    # -- mode
    mode: str = _field(
        "minibatch", "How many training samples each update sees. Full batch: the whole training "
        "split (one update per epoch). One sample per update: batch size 1 (many noisy updates). "
        "Mini-batch: a batch of the size below. This is independent of the optimizer.", "choice",
        choices=MODES, group="mode", stacks=True, label="Mode",
        titles=(("batch", "Full batch"), ("sgd", "One sample per update"), ("minibatch", "Mini-batch")))
    batch_size: int = _field(
        32, "Samples per update, at most the training split.", "int", low=1, high=None,
        group="mode", show_if=_MINIBATCH, stacks=True, label="Batch size")
    sampling: str = _field(
        "shuffle", "Shuffle: every sample once per epoch. With replacement: each batch is drawn "
        "independently, as in the textbook definition of SGD.", "choice",
        choices=("shuffle", "replacement"), group="mode", show_if=_STOCHASTIC, stacks=True,
        label="Sampling",
        titles=(("shuffle", "Shuffle every epoch"), ("replacement", "Draw with replacement")))
    # -- budget
    epochs: int = _field(
        20, "Passes over the training split.", "int", low=1, high=MAX_EPOCHS, group="budget",
        label="Epochs")
    seed: int = _field(
        0, "Fixes the split, the initial weights and the batch order.", "int", low=0, high=2**32 - 1,
        group="budget", stacks=True, label="Seed")
    # -- advanced: schedule, stopping, clipping, evaluation, precision
    schedule: str = _field(
        "constant", "How the learning rate changes with the update index.", "entry",
        registry=schedules.REGISTRY, group="advanced", label="Learning-rate schedule")
    schedule_params: Mapping[str, Any] = _field(
        {}, "The schedule's own settings.", "params", of="schedule", url="sched", group="advanced")
    early_stopping: bool = _field(
        False, "Stop when the monitored quantity stops improving.", "bool", group="advanced",
        label="Early stopping")
    monitor: str = _field(
        "val_loss", "What early stopping watches.", "choice", choices=("val_loss", "val_metric"),
        group="advanced", show_if=_EARLY, label="Monitor",
        titles=(("val_loss", "validation loss"), ("val_metric", "validation accuracy / R²")))
    patience: int = _field(
        10, "Epochs without improvement before stopping.", "int", low=1, high=10_000,
        group="advanced", show_if=_EARLY, label="Patience (epochs)")
    min_delta: float = _field(
        0.0, "A change smaller than this does not count as an improvement.", "float", low=0.0,
        high=1e6, group="advanced", show_if=_EARLY, label="Minimum improvement")
    restore_best: bool = _field(
        True, "Keep the parameters of the best epoch.", "bool", group="advanced", show_if=_EARLY,
        label="Restore the best weights")
    clip_norm: float = _field(
        0.0, "Rescale the gradient when its norm exceeds this; 0 turns it off.", "float", low=0.0,
        high=1e6, group="advanced", label="Clip norm")
    clip_value: float = _field(
        0.0, "Clip every gradient entry to ±this; 0 turns it off.", "float", low=0.0, high=1e6,
        group="advanced", label="Clip value")
    max_updates: int = _field(
        0, "Stop after this many updates instead of a number of epochs; 0 uses the epochs.", "int",
        low=0, high=10_000_000, group="advanced", label="Update budget")
    eval_every: int = _field(
        0, "Evaluate every this many updates as well as at each epoch's end; 0: once per epoch.",
        "int", low=0, high=10_000_000, group="advanced", label="Evaluate every (updates)")
    val_fraction: float = _field(
        0.2, "Share of the data held out for validation.", "float", low=0.05, high=0.5,
        group="advanced", stacks=True, label="Validation fraction")
    test_fraction: float = _field(
        0.2, "Share of the data held out for the final test.", "float", low=0.05, high=0.5,
        group="advanced", stacks=True, label="Test fraction")
    dtype: str = _field(
        "float64", "Floating-point type of the parameters and data.", "choice",
        choices=("float64", "float32"), group="advanced", stacks=True, label="Precision")
    threads: int = _field(
        0, "Threads for a large batch, which is computed as two halves: 2 runs them at once, 1 one "
        "after the other, 0 picks 2 when two cores are free to use. Results are the same.", "int",
        low=0, high=MAX_THREADS, group="advanced", label="Threads")

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        values: dict[str, Any] = {}
        for h in FIELDS:
            value = getattr(self, h.name)
            if h.kind == "params":
                value = _resolve_params(h, values[h.of], value)
            elif h.name == "batch_size" and values["mode"] != "minibatch":
                pass  # set from the mode below
            else:
                value = h.validate(value, h.name)
            values[h.name] = value
            put(h.name, value)
        # what no single field can check
        oparams = self.optimizer_params
        if "inner" in oparams:  # lookahead: resolve the inner optimizer's defaults too
            _need(oparams["inner"] != self.optimizer, "optimizer_params.inner",
                  oparams["inner"], "an optimizer other than itself")
        optim.create(self.optimizer, **oparams)  # constructor-level checks (e.g. nesterov)
        dspec = data.REGISTRY[self.dataset]
        n_train = data.split_sizes(dspec, self.dataset_params, self.val_fraction, self.test_fraction)[0]
        if self.mode == "sgd":
            put("batch_size", 1)
        elif self.mode == "batch":
            put("batch_size", n_train)
        else:
            _need(self.batch_size <= n_train, "batch_size", self.batch_size,
                  f"a whole number in [1, {n_train}] (the training split has {n_train} samples)")
        if optim.REGISTRY[self.optimizer].extra.get("full_batch_only") and self.mode != "batch":
            raise ValueError(
                f"optimizer: {self.optimizer!r} needs full-batch mode (mode 'batch'); "
                f"mode {self.mode!r} is not allowed with it"
            )

    # -- identity --------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every field."""
        return {f.name: _canon(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`; unknown fields are errors."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"{unknown[0]}: not a config field; allowed: {', '.join(sorted(names))}")
        d = dict(d)
        if "hidden" in d and isinstance(d["hidden"], list):
            d["hidden"] = tuple(d["hidden"])
        for k in ("optimizer_params", "dataset_params", "schedule_params", "init_params"):
            if k in d and isinstance(d[k], Mapping):
                d[k] = {
                    kk: tuple(vv) if isinstance(vv, list) else vv for kk, vv in d[k].items()
                }
        return cls(**d)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def key(self) -> str:
        """Stable hash of the complete config and the engine version."""
        payload = json.dumps(
            {"engine": version.ENGINE_VERSION, "config": self.to_dict()},
            sort_keys=True, separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:20]

    def __hash__(self) -> int:
        return hash(self.key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunConfig) and self.key() == other.key()


def _declared(f: dataclasses.Field) -> Hyper:
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default
    return Hyper(f.name, default, **f.metadata["spec"])


FIELDS: tuple[Hyper, ...] = tuple(_declared(f) for f in dataclasses.fields(RunConfig))
FIELD = {h.name: h for h in FIELDS}


def _resolve_params(h: Hyper, entry: str, value: Any) -> dict[str, Any]:
    """A ``params`` field: the chosen entry's hyperparameters, defaults filled in."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{h.name}: {value!r} is not allowed; allowed: a dict of hyperparameters")
    spec = FIELD[h.of].registry[entry]
    out = spec.resolve(value, h.name)
    if "inner" in out:  # lookahead: the inner optimizer's hyperparameters too
        inner = optim.REGISTRY.get_spec(out["inner"], f"{h.name}.inner")
        nested = out.get("inner_params") or {}
        if not isinstance(nested, Mapping):
            raise ValueError(f"{h.name}.inner_params: {nested!r} is not allowed; allowed: a dict")
        out["inner_params"] = inner.resolve(nested, f"{h.name}.inner_params")
    return out
