"""Datasets: a registry of small real and synthetic sets, splits and scaling.

``load(name, params, val_fraction, test_fraction, seed, dtype) -> Dataset``

* Split sizes are fixed counts: ``n_test = round(test_fraction n)``,
  ``n_val = round(val_fraction n)``, the rest is training
  (:func:`split_sizes` gives them without loading anything). The test split is
  taken first, then the validation split from the rest, both with
  scikit-learn's ``train_test_split(random_state=seed)``, stratified by class
  for classification (un-stratified only when a class is too small to be
  split, which only happens for tiny CSV classes).
* A ``StandardScaler`` is fitted on the training split only and applied to all
  three; regression targets are standardised the same way (``Y``), while
  ``y`` keeps the raw values.
* Results are memoized (a classroom trains hundreds of runs on the same data),
  so every returned array is read-only.

Synthetic sets take a ``data_seed`` hyperparameter: the points are fixed by
it, independent of the run's ``seed``, which only shuffles the split and the
training.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine import paths
from engine.spec import Hyper, Registry, Spec

REGISTRY = Registry("dataset")

TASK_OUTPUT = {"binary": "sigmoid", "multiclass": "softmax", "regression": "identity"}
TASK_LOSS = {"binary": "sigmoid_bce", "multiclass": "softmax_ce", "regression": "identity_mse"}
DTYPES = ("float64", "float32")

# CSV upload limits
CSV_MAX_BYTES = 5 * 1024 * 1024
CSV_MAX_ROWS = 20_000
CSV_MAX_COLUMNS = 200
CSV_MIN_ROWS = 20
CSV_MAX_CLASSES = 50
CSV_AUTO_MAX_CLASSES = 20  # an integer target with at most this many values is a class label
CSV_MAX_LINE = 64 * 1024  # bytes in one line: 200 columns of long numbers fit
CSV_MAX_ABS = 1e100  # larger magnitudes overflow float64 when squared for scaling


@dataclass(frozen=True, eq=False)
class Dataset:
    """One loaded dataset, split and scaled. Arrays are read-only.

    ``X_*`` are scaled features (n, n_features); ``Y_*`` the targets encoded
    for the loss: (n, 1) 0/1 for binary, one-hot (n, k) for multiclass,
    standardised (n, 1) for regression; ``y_*`` the class indices (int64, into
    ``classes``) or the raw regression targets.
    """

    name: str
    task: str
    output: str
    loss: str
    X_train: np.ndarray
    Y_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    Y_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    y_test: np.ndarray
    n_features: int
    n_outputs: int
    classes: tuple
    feature_names: tuple[str, ...]
    target_name: str
    scaler: Any
    raw_bounds: tuple[tuple[float, float], ...]
    target_mean: float = 0.0
    target_std: float = 1.0

    @property
    def dtype(self) -> np.dtype:
        return self.X_train.dtype

    def transform(self, X_raw: np.ndarray) -> np.ndarray:
        """Raw features -> the model's scaled inputs, in the dataset's dtype."""
        X = self.scaler.transform(np.asarray(X_raw, dtype=np.float64))
        return np.ascontiguousarray(X, dtype=self.dtype)

    def inverse_target(self, Y: np.ndarray) -> np.ndarray:
        """Model outputs for regression -> raw target units (identity otherwise)."""
        return np.asarray(Y) * self.target_std + self.target_mean


# -- split sizes --------------------------------------------------------------
def _spec(spec_or_name: Spec | str) -> Spec:
    if isinstance(spec_or_name, Spec):
        return spec_or_name
    return REGISTRY.get_spec(spec_or_name, "dataset")


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, v in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < 1:
            raise ValueError(f"{name}: {v!r} is not allowed; allowed: a fraction in (0, 1)")
    if val_fraction + test_fraction > 0.9:
        raise ValueError(
            f"val_fraction + test_fraction: {val_fraction + test_fraction:g} is not allowed; "
            "allowed: at most 0.9 (at least 10% of the data for training)"
        )


def _counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    n_test = max(1, int(round(test_fraction * n)))
    n_val = max(1, int(round(val_fraction * n)))
    return n - n_val - n_test, n_val, n_test


def split_sizes(spec_or_name: Spec | str, params: Mapping[str, Any] | None,
                val_fraction: float = 0.2, test_fraction: float = 0.2) -> tuple[int, int, int]:
    """``(n_train, n_val, n_test)`` exactly as :func:`load` will produce them."""
    spec = _spec(spec_or_name)
    params = spec.resolve(params, "dataset_params")
    spec.extra["check"](params)
    _check_fractions(val_fraction, test_fraction)
    return _counts(spec.extra["n_samples"](params), val_fraction, test_fraction)


# -- raw data -----------------------------------------------------------------
@dataclass(frozen=True)
class _Raw:
    X: np.ndarray  # float64 (n, d)
    y: np.ndarray  # class indices (int64) or float64 targets
    task: str
    classes: tuple
    feature_names: tuple[str, ...]
    target_name: str


def _from_sklearn(loader, task: str, class_names: bool = True) -> _Raw:
    b = loader()
    X = np.asarray(b.data, dtype=np.float64)
    names = tuple(str(f) for f in getattr(b, "feature_names", [f"x{i + 1}" for i in range(X.shape[1])]))
    if task == "regression":
        return _Raw(X, np.asarray(b.target, dtype=np.float64), task, (), names, "target")
    y = np.asarray(b.target, dtype=np.int64)
    tn = getattr(b, "target_names", None)
    classes = tuple(str(c) for c in tn) if class_names and tn is not None else tuple(
        int(c) for c in np.unique(y))
    return _Raw(X, y, task, classes, names, "class")


def _digits(p):
    from sklearn.datasets import load_digits
    return _from_sklearn(load_digits, "multiclass", class_names=False)


def _breast_cancer(p):
    from sklearn.datasets import load_breast_cancer
    return _from_sklearn(load_breast_cancer, "binary")


def _iris(p):
    from sklearn.datasets import load_iris
    return _from_sklearn(load_iris, "multiclass")


def _wine(p):
    from sklearn.datasets import load_wine
    return _from_sklearn(load_wine, "multiclass")


def _diabetes(p):
    from sklearn.datasets import load_diabetes
    return _from_sklearn(load_diabetes, "regression")


def _two_d(X, y, task, classes) -> _Raw:
    return _Raw(np.ascontiguousarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64),
                task, classes, ("x1", "x2"), "class")


def _moons(p):
    from sklearn.datasets import make_moons
    X, y = make_moons(p["n_samples"], noise=p["noise"], random_state=p["data_seed"])
    return _two_d(X, y, "binary", (0, 1))


def _circles(p):
    from sklearn.datasets import make_circles
    X, y = make_circles(p["n_samples"], noise=p["noise"], factor=0.5, random_state=p["data_seed"])
    return _two_d(X, y, "binary", (0, 1))


def _blobs(p):
    from sklearn.datasets import make_blobs
    X, y = make_blobs(p["n_samples"], n_features=2, centers=p["centers"],
                      cluster_std=p["cluster_std"], random_state=p["data_seed"])
    return _two_d(X, y, "multiclass", tuple(range(p["centers"])))


def _synthetic_check(p) -> None:
    """make_classification's own constraints, checked when the config is made."""
    informative = min(p["n_informative"], p["n_features"])
    if p["n_classes"] * 2 > 2**informative:  # two clusters per class need room in the corners
        need = math.ceil(math.log2(p["n_classes"] * 2))
        raise ValueError(f"dataset_params.n_informative: {informative} is too few for "
                         f"{p['n_classes']} classes; allowed: at least {need} (and at most "
                         f"n_features, {p['n_features']}), or at most {2 ** (informative - 1)} classes")


def _synthetic(p):
    from sklearn.datasets import make_classification
    _synthetic_check(p)
    X, y = make_classification(n_samples=p["n_samples"], n_features=p["n_features"],
                               n_informative=min(p["n_informative"], p["n_features"]),
                               n_redundant=0, n_classes=p["n_classes"], random_state=p["data_seed"])
    return _Raw(np.ascontiguousarray(X, dtype=np.float64), y.astype(np.int64), "multiclass",
                tuple(range(p["n_classes"])), tuple(f"x{i + 1}" for i in range(X.shape[1])), "class")


LINEAR_MARGIN = 0.5


def _linear(p):
    """Two classes on either side of a random line through the origin.

    Points ~ N(0, I) are pushed ``LINEAR_MARGIN`` away from the line, so with
    ``noise = 0`` the classes are separable with a gap of 2 * margin; ``noise``
    adds N(0, noise^2) jitter to every coordinate afterwards.
    """
    rng = np.random.default_rng(p["data_seed"])
    angle = rng.uniform(0.0, 2.0 * np.pi)
    w = np.array([np.cos(angle), np.sin(angle)])
    X = rng.normal(size=(p["n_samples"], 2))
    side = X @ w >= 0.0
    X += np.where(side, LINEAR_MARGIN, -LINEAR_MARGIN)[:, None] * w
    X += rng.normal(scale=p["noise"], size=X.shape) if p["noise"] > 0 else 0.0
    return _two_d(X, side.astype(np.int64), "binary", (0, 1))


# -- registry -------------------------------------------------------------------
def _fixed(n: int):
    return lambda params: n


def _n_hyper(default: int = 400) -> Hyper:
    return Hyper("n_samples", default, 50, 5000, kind="int", label="samples",
                 help="number of points generated")


SEED_HYPER = Hyper("data_seed", 0, 0, 2**31 - 1, kind="int", label="data seed",
                   help="fixes the generated points, independently of the training seed")


def _register(name, label, make, task, n_samples, help, hypers=(), two_d=False, reference="",
              shape=None, check=None):
    """``n_samples(params)`` and ``shape(params) -> (n_features, n_outputs)`` give the set's
    size without loading it (split sizes, work limits); ``check(params)`` refuses settings
    that are each in range but do not go together."""
    REGISTRY.register(Spec(
        name=name, label=label, help=help, reference=reference, hypers=tuple(hypers),
        factory=make,
        extra={"task": task, "two_d": two_d, "n_samples": n_samples,
               "shape": shape or (lambda p: (2, 1)), "check": check or (lambda p: None)},
    ))


_register("digits", "Digits (8×8, 10 classes)", _digits, "multiclass", _fixed(1797),
          "1,797 handwritten digits as 8×8 grey levels: the MNIST stand-in.",
          reference="sklearn.datasets.load_digits", shape=lambda p: (64, 10))
_register("breast_cancer", "Breast cancer (binary)", _breast_cancer, "binary", _fixed(569),
          "569 tumours, 30 measurements each: malignant or benign.",
          reference="sklearn.datasets.load_breast_cancer", shape=lambda p: (30, 1))
_register("iris", "Iris (3 classes)", _iris, "multiclass", _fixed(150),
          "150 flowers, 4 measurements, 3 species.",
          reference="sklearn.datasets.load_iris", shape=lambda p: (4, 3))
_register("wine", "Wine (3 classes)", _wine, "multiclass", _fixed(178),
          "178 wines, 13 chemical measurements, 3 cultivars.",
          reference="sklearn.datasets.load_wine", shape=lambda p: (13, 3))
_register("moons", "Two moons (2-D)", _moons, "binary", lambda p: p["n_samples"],
          "Two interleaving half circles: needs a curved boundary.",
          hypers=[_n_hyper(), Hyper("noise", 0.2, 0.0, 1.0, help="std of the Gaussian noise"),
                  SEED_HYPER],
          two_d=True, reference="sklearn.datasets.make_moons")
_register("circles", "Circles (2-D)", _circles, "binary", lambda p: p["n_samples"],
          "A small circle inside a large one: not separable by a line.",
          hypers=[_n_hyper(), Hyper("noise", 0.1, 0.0, 1.0, help="std of the Gaussian noise"),
                  SEED_HYPER],
          two_d=True, reference="sklearn.datasets.make_circles")
_register("blobs", "Blobs (2-D)", _blobs, "multiclass", lambda p: p["n_samples"],
          "Gaussian clusters, one class each.",
          hypers=[_n_hyper(),
                  Hyper("cluster_std", 1.0, 0.1, 5.0, help="std of each cluster"),
                  Hyper("centers", 3, 2, 8, kind="int", help="number of clusters (classes)"),
                  SEED_HYPER],
          two_d=True, reference="sklearn.datasets.make_blobs", shape=lambda p: (2, p["centers"]))
_register("linear", "Linearly separable (2-D)", _linear, "binary", lambda p: p["n_samples"],
          "Two classes split by a straight line with a gap; noise blurs the gap.",
          hypers=[_n_hyper(),
                  Hyper("noise", 0.0, 0.0, 2.0, help="std of the jitter; 0 keeps the classes separable"),
                  SEED_HYPER],
          two_d=True)
_register("synthetic", "Synthetic (many features)", _synthetic, "multiclass", lambda p: p["n_samples"],
          "Gaussian clusters in many dimensions: a larger problem for timing batch sizes.",
          hypers=[Hyper("n_samples", 2000, 100, 20000, kind="int", label="samples",
                        help="number of points generated"),
                  Hyper("n_features", 20, 2, 200, kind="int", label="features", help="input features"),
                  Hyper("n_informative", 10, 2, 200, kind="int", label="informative",
                        help="features that carry the class (at most the number of features)"),
                  Hyper("n_classes", 4, 2, 20, kind="int", label="classes", help="number of classes"),
                  SEED_HYPER],
          reference="sklearn.datasets.make_classification",
          shape=lambda p: (p["n_features"], p["n_classes"]), check=_synthetic_check)
_register("diabetes", "Diabetes (regression)", _diabetes, "regression", _fixed(442),
          "442 patients, 10 measurements: disease progression after one year.",
          reference="sklearn.datasets.load_diabetes", shape=lambda p: (10, 1))


# -- CSV upload -------------------------------------------------------------------
_SHA = re.compile(r"[0-9a-f]{64}")


def _csv_path(sha256: str, data_dir: Path | str | None = None) -> Path:
    return Path(data_dir or paths.data_dir()) / "csv" / f"{sha256}.csv"


def _fmt_list(items, limit: int = 10) -> str:
    items = [str(i) for i in items]
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _precheck_csv(content: bytes) -> int:
    """Refuse a file cheaply, before pandas parses it; return its number of data rows.

    The size, the longest line and the header's column count are checked on the
    raw bytes (a one-line file of a million columns costs nothing); then the
    standard ``csv`` reader walks the rows once to count them and to find a row
    whose number of fields differs from the header's, or a duplicate or empty
    column name, each of which pandas would silently repair.
    """
    import csv

    if not isinstance(content, bytes | bytearray):
        raise ValueError(f"csv: {type(content).__name__} is not allowed; allowed: the file's bytes")
    if len(content) > CSV_MAX_BYTES:
        raise ValueError(f"csv: {len(content) / 2**20:.1f} MB is over the size limit; "
                         f"allowed: at most {CSV_MAX_BYTES // 2**20} MB")
    longest = max(map(len, bytes(content).splitlines()), default=0)
    if longest > CSV_MAX_LINE:
        raise ValueError(f"csv: a line of {longest:,} bytes is over the limit; allowed: at most "
                         f"{CSV_MAX_LINE:,} bytes per line and {CSV_MAX_COLUMNS} columns")
    try:
        text = bytes(content).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"csv: the file is not UTF-8 text (byte {e.start}); "
                         "allowed: comma-separated values with a header row") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next((row for row in reader if row), None)
        if header is None:
            raise ValueError("csv: the file is empty; allowed: comma-separated values with a header row")
        n_cols = len(header)
        if n_cols > CSV_MAX_COLUMNS:
            raise ValueError(f"csv: {n_cols} columns is over the limit; allowed: at most {CSV_MAX_COLUMNS}")
        names = [h.strip() for h in header]
        unnamed = [i + 1 for i, h in enumerate(names) if not h]
        if unnamed and n_cols > 1:
            raise ValueError(f"csv: column {_fmt_list(unnamed, 5)} of the header has no name; "
                             "allowed: a name for every column")
        dupes = sorted({h for h in names if names.count(h) > 1})
        if dupes:
            raise ValueError(f"csv: duplicate column names are not allowed: "
                             f"{_fmt_list([repr(d[:40]) for d in dupes], 5)}; allowed: distinct names")
        n_rows = 0
        for row in reader:
            if not row:
                continue  # a blank line, skipped by pandas too
            n_rows += 1
            if len(row) != n_cols:
                raise ValueError(f"csv: line {reader.line_num} has {len(row)} fields but the header has "
                                 f"{n_cols}; allowed: the same number of fields on every line")
    except csv.Error as e:
        raise ValueError(f"csv: the file is not parseable as CSV (line {reader.line_num}: {e}); "
                         "allowed: comma-separated values with a header row") from None
    if n_rows > CSV_MAX_ROWS:
        raise ValueError(f"csv: {n_rows} rows is over the limit; allowed: at most {CSV_MAX_ROWS}")
    return n_rows


def _parse_csv(content: bytes):
    import pandas as pd

    _precheck_csv(content)
    try:
        df = pd.read_csv(io.BytesIO(bytes(content)), index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"csv: the file is not parseable as CSV ({first[:200]}); "
                         "allowed: comma-separated values with a header row") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _csv_task(target, task: str) -> str:
    """'binary' / 'multiclass' / 'regression' for a target column (a pandas Series).

    With ``task="auto"``: text (or booleans) is a class label, fractional
    numbers are a quantity, whole numbers with at most
    :data:`CSV_AUTO_MAX_CLASSES` values a class label and with more than
    :data:`CSV_MAX_CLASSES` values a quantity. In between (say 21 whole-number
    values) the column could be either, so the user must choose the task.
    """
    import pandas as pd

    n_unique = target.nunique()
    if task == "auto":
        numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
        whole = numeric and bool(np.all(np.mod(target.to_numpy(dtype=np.float64), 1) == 0))
        if numeric and whole and CSV_AUTO_MAX_CLASSES < n_unique <= CSV_MAX_CLASSES:
            raise ValueError(
                f"task: column {str(target.name)[:40]!r} holds {n_unique} distinct whole numbers, which "
                "may be class labels or a quantity; allowed: choose the task, 'classification' or "
                "'regression'")
        task = "regression" if numeric and not (whole and n_unique <= CSV_AUTO_MAX_CLASSES) \
            else "classification"
    if task == "regression":
        return "regression"
    return "binary" if n_unique == 2 else "multiclass"


def _check_frame(df, target: str, task: str) -> tuple[str, str]:
    """Validate an uploaded frame; return (target column, resolved task)."""
    import pandas as pd

    n_rows, n_cols = df.shape
    if n_cols > CSV_MAX_COLUMNS:
        raise ValueError(f"csv: {n_cols} columns is over the limit; allowed: at most {CSV_MAX_COLUMNS}")
    if n_rows > CSV_MAX_ROWS:
        raise ValueError(f"csv: {n_rows} rows is over the limit; allowed: at most {CSV_MAX_ROWS}")
    if n_rows < CSV_MIN_ROWS:
        raise ValueError(f"csv: {n_rows} rows is too few; allowed: at least {CSV_MIN_ROWS} data rows")
    if n_cols < 2:
        raise ValueError(f"csv: {n_cols} column is not allowed; allowed: at least one feature "
                         "column and a target column (is the separator a comma?)")
    if len(set(df.columns)) != n_cols:
        raise ValueError("csv: duplicate column names are not allowed")
    if target is None:
        target = df.columns[-1]
    if target not in df.columns:
        raise ValueError(f"target: {target!r} is not a column; allowed: {_fmt_list(df.columns, 50)}")
    missing = df.isna()
    if missing.to_numpy().any():
        where = []
        for col in df.columns[missing.any().to_numpy()]:
            rows = np.flatnonzero(missing[col].to_numpy()) + 1
            where.append(f"column {col!r} rows {_fmt_list(rows, 5)}")
        raise ValueError(f"csv: missing values are not allowed: {'; '.join(where)} "
                         "(rows count from 1 after the header)")
    features = [c for c in df.columns if c != target]
    bad = [c for c in features if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise ValueError(f"csv: non-numeric feature columns are not allowed: {_fmt_list(bad)}; "
                         "allowed: numbers only (encode categories as numbers, or drop them)")
    X = df[features].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(X)):
        cols = [features[j] for j in np.flatnonzero(~np.isfinite(X).all(axis=0))]
        raise ValueError(f"csv: infinite values are not allowed: columns {_fmt_list(cols)}")
    huge = np.abs(X) > CSV_MAX_ABS  # would overflow to inf, then NaN, when scaled
    if huge.any():
        cols = [features[j] for j in np.flatnonzero(huge.any(axis=0))]
        raise ValueError(f"csv: values too large to scale in columns {_fmt_list(cols)}; "
                         f"allowed: magnitudes up to {CSV_MAX_ABS:g}")
    y = df[target]
    if y.nunique() < 2:
        raise ValueError(f"target: column {target!r} has a single value {y.iloc[0]!r}; "
                         "allowed: at least 2 classes (or 2 distinct values)")
    resolved = _csv_task(y, task)
    if resolved == "regression":
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            raise ValueError(f"target: column {target!r} is not numeric; allowed for regression: "
                             "numbers (or task 'classification')")
        yv = y.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(yv)):
            raise ValueError(f"target: column {target!r} has infinite values; allowed: finite numbers")
        if np.any(np.abs(yv) > CSV_MAX_ABS):
            raise ValueError(f"target: column {target!r} has values too large to scale; "
                             f"allowed: magnitudes up to {CSV_MAX_ABS:g}")
    else:
        counts = y.value_counts()
        if len(counts) > CSV_MAX_CLASSES:
            raise ValueError(f"target: column {target!r} has {len(counts)} classes; allowed: at most "
                             f"{CSV_MAX_CLASSES} (or task 'regression')")
        small = counts[counts < 2]
        if len(small):
            raise ValueError(f"target: classes {_fmt_list(small.index.tolist())} of column {target!r} "
                             "have a single row; allowed: at least 2 rows per class")
    return target, resolved


def store_csv(content: bytes, target: str | None = None, data_dir: Path | str | None = None,
              task: str = "auto") -> dict[str, Any]:
    """Validate an uploaded CSV and save it as ``<data_dir>/csv/<sha256>.csv``.

    ``target`` names the column to predict (default: the last column); every
    other column is a numeric feature. Returns the ``dataset_params`` of the
    ``"csv"`` dataset: ``{"sha256", "target", "n_rows", "task"}``. Raises
    ``ValueError`` naming the problem (not CSV, non-numeric features, missing
    values, unknown target, a single class, too few rows, too large).
    """
    if task not in CSV_TASKS:
        raise ValueError(f"task: {task!r} is not allowed; allowed: {', '.join(CSV_TASKS)}")
    df = _parse_csv(content)
    target, _ = _check_frame(df, target, task)
    sha = hashlib.sha256(content).hexdigest()
    path = _csv_path(sha, data_dir)
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(bytes(content))
            tmp.replace(path)  # atomic: concurrent uploads of the same file are harmless
        except OSError as e:
            tmp.unlink(missing_ok=True)  # a full disk leaves no stray file
            raise ValueError(f"upload: the file could not be saved on the server "
                             f"({e.strerror or e}); nothing was changed") from None
    return {"sha256": sha, "target": target, "n_rows": int(df.shape[0]), "task": task}


def _csv(p, data_dir=None) -> _Raw:
    import pandas as pd

    sha = p["sha256"]
    if not _SHA.fullmatch(sha):
        raise ValueError(f"dataset_params.sha256: {sha!r} is not allowed; "
                         "allowed: the sha256 of an uploaded CSV (64 hex digits; upload a file first)")
    path = _csv_path(sha, data_dir)
    if not path.exists():
        raise ValueError(f"dataset_params.sha256: {sha[:12]}… is not an uploaded CSV; "
                         "allowed: a file stored by store_csv (upload it again)")
    content = path.read_bytes()
    df = _parse_csv(content)
    target, task = _check_frame(df, p["target"] or None, p["task"])
    if df.shape[0] != p["n_rows"]:
        raise ValueError(f"dataset_params.n_rows: {p['n_rows']} is not allowed; "
                         f"allowed: {df.shape[0]} (the stored file's rows)")
    features = tuple(c for c in df.columns if c != target)
    X = df[list(features)].to_numpy(dtype=np.float64)
    if task == "regression":
        return _Raw(X, df[target].to_numpy(dtype=np.float64), task, (), features, target)
    codes, uniques = pd.factorize(df[target], sort=True)
    classes = tuple(u.item() if hasattr(u, "item") else u for u in uniques)
    return _Raw(X, codes.astype(np.int64), task, classes, features, target)


def _csv_shape(p) -> tuple[int, int]:
    """(features, outputs) of a stored CSV from its header line alone; the outputs are a bound
    (the classes are not counted without parsing the file)."""
    n_cols = CSV_MAX_COLUMNS
    if _SHA.fullmatch(p["sha256"]):
        try:
            with open(_csv_path(p["sha256"]), "rb") as f:
                n_cols = max(2, f.readline(CSV_MAX_LINE).count(b",") + 1)
        except OSError:
            pass
    outputs = 1 if p["task"] == "regression" else min(CSV_MAX_CLASSES, p["n_rows"] // 2)
    return n_cols - 1, outputs


CSV_TASKS = ("auto", "classification", "regression")
_register("csv", "Uploaded CSV", _csv, "auto", lambda p: p["n_rows"],
          "Your own table: numeric feature columns and one target column.",
          hypers=[
              Hyper("sha256", "", kind="str", help="content hash of the uploaded file"),
              Hyper("target", "", kind="str", help="the column to predict"),
              Hyper("n_rows", CSV_MIN_ROWS, CSV_MIN_ROWS, CSV_MAX_ROWS, kind="int",
                    help="data rows in the file"),
              Hyper("task", "auto", kind="choice", choices=CSV_TASKS,
                    help="auto: a text or small whole-number target is a class label"),
          ], shape=_csv_shape)


# -- loading ------------------------------------------------------------------------
def _frozen(a: np.ndarray, dtype=None) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=dtype)
    a.flags.writeable = False
    return a


def _split(raw: _Raw, val_fraction: float, test_fraction: float, seed: int):
    from sklearn.model_selection import train_test_split

    n = raw.X.shape[0]
    n_train, n_val, n_test = _counts(n, val_fraction, test_fraction)
    idx = np.arange(n)

    def cut(ix: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        strat = raw.y[ix] if raw.task != "regression" else None
        try:
            return train_test_split(ix, test_size=size, random_state=seed, stratify=strat)
        except ValueError:  # a class too small to stratify: split without it
            return train_test_split(ix, test_size=size, random_state=seed)

    rest, test = cut(idx, n_test)
    train, val = cut(rest, n_val)
    return train, val, test


def _encode(y: np.ndarray, task: str, n_classes: int, dtype, mean: float, std: float) -> np.ndarray:
    if task == "binary":
        return y.reshape(-1, 1).astype(dtype)
    if task == "multiclass":
        return np.eye(n_classes, dtype=dtype)[y]
    return ((y - mean) / std).reshape(-1, 1).astype(dtype)


@functools.lru_cache(maxsize=64)
def _load_cached(name: str, items: tuple, val_fraction: float, test_fraction: float,
                 seed: int, dtype: str, data_dir: str | None) -> Dataset:
    from sklearn.preprocessing import StandardScaler

    spec = REGISTRY[name]
    params = dict(items)
    raw = spec.factory(params, data_dir) if name == "csv" else spec.factory(params)
    expected = split_sizes(spec, params, val_fraction, test_fraction)
    tr, va, te = _split(raw, val_fraction, test_fraction, seed)
    assert (len(tr), len(va), len(te)) == expected, (len(tr), len(va), len(te), expected)
    scaler = StandardScaler().fit(raw.X[tr])
    task = raw.task
    if task == "regression":
        mean, std = float(raw.y[tr].mean()), float(raw.y[tr].std())
        std = std if std > 0 else 1.0
    else:
        mean, std = 0.0, 1.0
    k = len(raw.classes)
    arrays = {}
    for part, ix in (("train", tr), ("val", va), ("test", te)):
        arrays[f"X_{part}"] = _frozen(scaler.transform(raw.X[ix]), dtype)
        arrays[f"Y_{part}"] = _frozen(_encode(raw.y[ix], task, k, dtype, mean, std))
        arrays[f"y_{part}"] = _frozen(raw.y[ix] if task != "regression" else raw.y[ix].astype(dtype))
    bounds = tuple((float(lo), float(hi)) for lo, hi in zip(raw.X.min(axis=0), raw.X.max(axis=0),
                                                            strict=True))
    return Dataset(
        name=name, task=task, output=TASK_OUTPUT[task], loss=TASK_LOSS[task],
        n_features=raw.X.shape[1], n_outputs=1 if task != "multiclass" else k,
        classes=raw.classes, feature_names=raw.feature_names, target_name=raw.target_name,
        scaler=scaler, raw_bounds=bounds, target_mean=mean, target_std=std, **arrays,
    )


def load(name: str, params: Mapping[str, Any] | None = None, val_fraction: float = 0.2,
         test_fraction: float = 0.2, seed: int = 0, dtype: str = "float64",
         *, data_dir: Path | str | None = None) -> Dataset:
    """Load, split and scale dataset ``name`` (memoized; arrays are read-only).

    ``data_dir`` (for the ``csv`` dataset) defaults to ``paths.data_dir()``.
    """
    spec = REGISTRY.get_spec(name, "dataset")
    params = spec.resolve(params, "dataset_params")
    _check_fractions(val_fraction, test_fraction)
    if str(dtype) not in DTYPES:
        raise ValueError(f"dtype: {dtype!r} is not allowed; allowed: {', '.join(DTYPES)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise ValueError(f"seed: {seed!r} is not allowed; allowed: a whole number in [0, 2**32)")
    if name == "csv":
        data_dir = str(Path(data_dir or paths.data_dir()).resolve())
    else:
        data_dir = None
    items = tuple(sorted(params.items()))
    return _load_cached(name, items, float(val_fraction), float(test_fraction), int(seed),
                        str(dtype), data_dir)
