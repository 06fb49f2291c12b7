"""RunConfig: the complete, validated description of one training run.

A run is keyed by a stable hash of its complete config (``RunConfig.key()``),
which includes the engine version. Defaults of every registered entry are
filled in on construction, so ``{"lr": 1e-3}`` and ``{}`` for Adam give the
same key: the same run is never trained twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine import version

MODES = ("batch", "sgd", "minibatch")
MODE_LABELS = {
    "batch": "Full batch (one update per epoch)",
    "sgd": "One sample per update",
    "minibatch": "Mini-batch",
}
SAMPLINGS = ("shuffle", "replacement")
DTYPES = ("float64", "float32")
MONITORS = ("val_loss", "val_metric")


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


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's result.

    ``hidden=()`` gives logistic, softmax or linear regression. ``mode`` is
    ``"batch"`` (one update per epoch on the whole training split), ``"sgd"``
    (one sample per update) or ``"minibatch"`` (``batch_size`` samples per
    update). The budget is ``epochs``, or ``max_updates`` when that is > 0.
    """

    dataset: str = "digits"
    dataset_params: Mapping[str, Any] = field(default_factory=dict)
    hidden: tuple[int, ...] = (64,)
    activation: str = "relu"
    initializer: str = "he_uniform"
    init_params: Mapping[str, Any] = field(default_factory=dict)
    batchnorm: bool = False
    optimizer: str = "adam"
    optimizer_params: Mapping[str, Any] = field(default_factory=dict)
    mode: str = "minibatch"
    batch_size: int = 32
    sampling: str = "shuffle"
    epochs: int = 20
    max_updates: int = 0
    schedule: str = "constant"
    schedule_params: Mapping[str, Any] = field(default_factory=dict)
    clip_norm: float = 0.0
    clip_value: float = 0.0
    early_stopping: bool = False
    monitor: str = "val_loss"
    patience: int = 10
    min_delta: float = 0.0
    restore_best: bool = True
    eval_every: int = 0
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    seed: int = 0
    dtype: str = "float64"

    def __post_init__(self) -> None:
        from engine import data, nn, optim, schedules

        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        # dataset and its size
        dspec = data.REGISTRY.get_spec(self.dataset, "dataset")
        put("dataset_params", dspec.resolve(self.dataset_params, "dataset_params"))
        # hidden layers
        hidden = self.hidden
        if isinstance(hidden, int):
            hidden = (hidden,)
        try:
            hidden = tuple(hidden)
        except TypeError:
            raise ValueError(f"hidden: {self.hidden!r} is not allowed; allowed: a list of widths") from None
        for w in hidden:
            _need(
                isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= 4096,
                "hidden", list(hidden), "a list of whole-number widths in [1, 4096]",
            )
        _need(len(hidden) <= 16, "hidden", list(hidden), "at most 16 hidden layers")
        put("hidden", hidden)
        nn.ACTIVATIONS.get_spec(self.activation, "activation")
        ispec = nn.INITIALIZERS.get_spec(self.initializer, "initializer")
        put("init_params", ispec.resolve(self.init_params, "init_params"))
        _need(isinstance(self.batchnorm, bool), "batchnorm", self.batchnorm, "true or false")
        # optimizer
        ospec = optim.REGISTRY.get_spec(self.optimizer, "optimizer")
        oparams = ospec.resolve(self.optimizer_params, "optimizer_params")
        if "inner" in oparams:  # lookahead: resolve the inner optimizer's defaults too
            inner = optim.REGISTRY.get_spec(oparams["inner"], "optimizer_params.inner")
            _need(oparams["inner"] != self.optimizer, "optimizer_params.inner",
                  oparams["inner"], "an optimizer other than itself")
            oparams["inner_params"] = inner.resolve(
                oparams.get("inner_params", {}), "optimizer_params.inner_params")
        optim.create(self.optimizer, **oparams)  # constructor-level checks (e.g. nesterov)
        put("optimizer_params", oparams)
        # mode and batch size
        _need(self.mode in MODES, "mode", self.mode, ", ".join(MODES))
        _need(self.sampling in SAMPLINGS, "sampling", self.sampling, ", ".join(SAMPLINGS))
        for name in ("val_fraction", "test_fraction"):
            v = getattr(self, name)
            _need(isinstance(v, int | float) and 0.05 <= v <= 0.5, name, v, "a fraction in [0.05, 0.5]")
        n_train = data.split_sizes(dspec, self.dataset_params, self.val_fraction, self.test_fraction)[0]
        if self.mode == "sgd":
            put("batch_size", 1)
        elif self.mode == "batch":
            put("batch_size", n_train)
        else:
            b = self.batch_size
            _need(isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= n_train, "batch_size", b,
                  f"a whole number in [1, {n_train}] (the training split has {n_train} samples)")
        if ospec.extra.get("full_batch_only") and self.mode != "batch":
            raise ValueError(
                f"optimizer: {self.optimizer!r} needs full-batch mode (mode 'batch'); "
                f"mode {self.mode!r} is not allowed with it"
            )
        # budget
        _need(isinstance(self.epochs, int) and 1 <= self.epochs <= 100_000, "epochs",
              self.epochs, "a whole number in [1, 100000]")
        _need(isinstance(self.max_updates, int) and 0 <= self.max_updates <= 10_000_000,
              "max_updates", self.max_updates, "0 (use epochs) or a whole number up to 10000000")
        # schedule
        sspec = schedules.REGISTRY.get_spec(self.schedule, "schedule")
        put("schedule_params", sspec.resolve(self.schedule_params, "schedule_params"))
        # clipping, early stopping, evaluation
        for name in ("clip_norm", "clip_value", "min_delta"):
            v = getattr(self, name)
            _need(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0, name, v,
                  "a number ≥ 0 (0 turns it off)" if name != "min_delta" else "a number ≥ 0")
            put(name, float(v))
        _need(isinstance(self.early_stopping, bool), "early_stopping", self.early_stopping, "true or false")
        _need(self.monitor in MONITORS, "monitor", self.monitor, ", ".join(MONITORS))
        _need(isinstance(self.patience, int) and 1 <= self.patience <= 10_000, "patience",
              self.patience, "a whole number in [1, 10000]")
        _need(isinstance(self.restore_best, bool), "restore_best", self.restore_best, "true or false")
        _need(isinstance(self.eval_every, int) and self.eval_every >= 0, "eval_every",
              self.eval_every, "0 (once per epoch) or a whole number of updates ≥ 1")
        _need(isinstance(self.seed, int) and not isinstance(self.seed, bool) and 0 <= self.seed < 2**32,
              "seed", self.seed, "a whole number in [0, 2**32)")
        _need(self.dtype in DTYPES, "dtype", self.dtype, ", ".join(DTYPES))
        put("val_fraction", float(self.val_fraction))
        put("test_fraction", float(self.test_fraction))

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
