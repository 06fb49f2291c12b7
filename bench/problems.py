"""The two benchmark problems, their data and the cells (batch size × optimizer) timed.

* ``digits``: scikit-learn's ``load_digits`` (1,797 × 64), standardised,
  ``train_test_split(test_size=0.2, stratify=y, random_state=0)`` → 1,437
  training samples for scikit-learn and PyTorch. ``engine.train`` splits the
  data itself; ``val_fraction = test_fraction = 0.1`` gives it the same 1,437
  training samples (180 validation, 180 test). MLP 64-128(ReLU)-10, batch 1,
  16, 32, 128 and full (1,437), SGD with momentum 0.9 (lr 0.01) and Adam
  (lr 1e-3).
* ``synthetic``: ``make_classification(n_samples=20000, n_features=100,
  n_informative=50, n_classes=10, random_state=0)``, the same 80 % split →
  16,000 training samples; MLP 100-256-256(ReLU)-10, Adam (lr 1e-3), batch
  128 and full (16,000).

FLOPs of one epoch (forward + backward, multiply-adds counted as 2):
``6 · n_train · Σ fan_in · fan_out`` (2 for ``a @ W``, 2 for ``dW = aᵀ δ``,
2 for ``δ Wᵀ``; biases and element-wise work ignored).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

OPT_PARAMS = {
    "sgd": {"lr": 0.01, "momentum": 0.9},
    "adam": {"lr": 1e-3},
}


@dataclass(frozen=True)
class Cell:
    """One timed configuration: a problem, a batch size and an optimizer."""

    problem: str
    batch: int  # 0 = full batch
    optimizer: str
    epochs: int  # per timed run

    @property
    def batch_label(self) -> str:
        return "full" if self.batch == 0 else str(self.batch)

    @property
    def label(self) -> str:
        return f"{self.problem} b={self.batch_label} {self.optimizer}"


@dataclass(frozen=True)
class Problem:
    name: str
    hidden: tuple[int, ...]
    n_features: int
    n_classes: int
    n_train: int
    # engine.train's dataset and split that give the same n_train
    engine_dataset: str | None
    engine_dataset_params: dict = field(default_factory=dict)
    val_fraction: float = 0.1
    test_fraction: float = 0.1

    @property
    def sizes(self) -> list[int]:
        return [self.n_features, *self.hidden, self.n_classes]

    @property
    def macs_per_sample(self) -> int:
        s = self.sizes
        return sum(a * b for a, b in zip(s[:-1], s[1:], strict=True))

    def flops_per_epoch(self) -> float:
        return 6.0 * self.n_train * self.macs_per_sample

    def batch_size(self, cell: Cell) -> int:
        return self.n_train if cell.batch == 0 else cell.batch

    def updates_per_epoch(self, cell: Cell) -> int:
        b = self.batch_size(cell)
        return -(-self.n_train // b)


DIGITS = Problem("digits", (128,), 64, 10, 1437, "digits")
SYNTHETIC_PARAMS = {"n_samples": 20000, "n_features": 100, "n_informative": 50, "n_classes": 10}
SYNTHETIC = Problem("synthetic", (256, 256), 100, 10, 16000, "synthetic", dict(SYNTHETIC_PARAMS))
PROBLEMS = {p.name: p for p in (DIGITS, SYNTHETIC)}


@functools.cache
def arrays(name: str) -> dict[str, np.ndarray]:
    """Standardised float64 training arrays for the external contenders:
    ``X`` (n, d), ``y`` (n,) int64 class indices, ``Y`` (n, k) one-hot."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
    elif name == "synthetic":
        from sklearn.datasets import make_classification

        X, y = make_classification(**SYNTHETIC_PARAMS, random_state=0)
    else:
        raise ValueError(f"problem: {name!r} is not allowed; allowed: {', '.join(PROBLEMS)}")
    X_tr, _, y_tr, _ = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    X_tr = np.ascontiguousarray(StandardScaler().fit_transform(X_tr), dtype=np.float64)
    y_tr = np.asarray(y_tr, dtype=np.int64)
    k = int(y_tr.max()) + 1
    assert X_tr.shape[0] == PROBLEMS[name].n_train, X_tr.shape
    return {"X": X_tr, "y": y_tr, "Y": np.eye(k)[y_tr]}


# epochs per timed run, by (problem, batch): about 0.1-0.5 s per run and contender on a quiet
# 2-core machine; --quick divides them
EPOCHS = {
    ("digits", 1): 3,
    ("digits", 16): 10,
    ("digits", 32): 15,
    ("digits", 128): 40,
    ("digits", 0): 150,
    ("synthetic", 128): 3,
    ("synthetic", 0): 8,
}
QUICK_EPOCHS = {
    ("digits", 1): 1,
    ("digits", 16): 3,
    ("digits", 32): 4,
    ("digits", 128): 10,
    ("digits", 0): 30,
    ("synthetic", 128): 1,
    ("synthetic", 0): 3,
}


def cells(quick: bool = False, only: tuple[str, ...] = ()) -> list[Cell]:
    table = QUICK_EPOCHS if quick else EPOCHS
    out = []
    for b in (1, 16, 32, 128, 0):
        for opt in ("sgd", "adam"):
            out.append(Cell("digits", b, opt, table[("digits", b)]))
    for b in (128, 0):
        out.append(Cell("synthetic", b, "adam", table[("synthetic", b)]))
    if only:
        out = [c for c in out if c.problem in only]
    return out
