"""engine.data: registry, splits, scaling, memoization and CSV upload."""

from __future__ import annotations

import numpy as np
import pytest

from engine import data

BUILTIN = [name for name in data.REGISTRY if name != "csv"]
KNOWN_SIZES = {"digits": (1797, 64, 10), "breast_cancer": (569, 30, 2), "iris": (150, 4, 3),
               "wine": (178, 13, 3), "diabetes": (442, 10, 0)}


# -- every dataset --------------------------------------------------------------------
@pytest.mark.parametrize("name", BUILTIN)
def test_every_dataset_loads(name):
    spec = data.REGISTRY[name]
    ds = data.load(name)
    task = spec.extra["task"]
    assert ds.task == task and ds.name == name
    assert (ds.output, ds.loss) == {"binary": ("sigmoid", "sigmoid_bce"),
                                    "multiclass": ("softmax", "softmax_ce"),
                                    "regression": ("identity", "identity_mse")}[task]
    n = spec.extra["n_samples"](spec.resolve({}))
    sizes = data.split_sizes(name, {}, 0.2, 0.2)
    assert sum(sizes) == n
    if name in KNOWN_SIZES:
        n_known, d, k = KNOWN_SIZES[name]
        assert n == n_known and ds.n_features == d and len(ds.classes) == k
    if spec.extra["two_d"]:
        assert ds.n_features == 2 and len(ds.raw_bounds) == 2
    for part, m in zip(("train", "val", "test"), sizes, strict=True):
        X, Y, y = (getattr(ds, f"{a}_{part}") for a in "XYy")
        assert X.shape == (m, ds.n_features) and Y.shape == (m, ds.n_outputs) and y.shape == (m,)
        for arr in (X, Y, y):
            assert not arr.flags.writeable and arr.flags.c_contiguous
        assert X.dtype == Y.dtype == np.float64
    if task == "multiclass":
        assert ds.n_outputs == len(ds.classes) >= 3 or name == "blobs"
        np.testing.assert_array_equal(ds.Y_train.sum(axis=1), 1.0)
        np.testing.assert_array_equal(ds.Y_train.argmax(axis=1), ds.y_train)
    elif task == "binary":
        assert ds.n_outputs == 1 and len(ds.classes) == 2
        np.testing.assert_array_equal(ds.Y_train[:, 0], ds.y_train)
    else:
        assert ds.n_outputs == 1 and ds.classes == ()
        np.testing.assert_allclose(ds.inverse_target(ds.Y_train)[:, 0], ds.y_train)
        assert abs(ds.Y_train.mean()) < 1e-12 and ds.Y_train.std() == pytest.approx(1.0)
    assert len(ds.feature_names) == ds.n_features
    with pytest.raises(ValueError):
        ds.X_train[0, 0] = 1.0


def test_float32_and_memoized():
    ds32 = data.load("iris", dtype="float32")
    assert ds32.X_train.dtype == ds32.Y_train.dtype == ds32.X_test.dtype == np.float32
    assert ds32.transform(np.zeros((3, 4))).dtype == np.float32
    assert data.load("iris", dtype="float32") is ds32
    assert data.load("iris", {}, 0.2, 0.2, 0, "float32") is ds32
    ds64 = data.load("iris")
    np.testing.assert_allclose(ds32.X_train, ds64.X_train, rtol=1e-6)


def test_invalid_arguments_name_the_field():
    with pytest.raises(ValueError, match="dataset: 'mnist' is not known; allowed: digits"):
        data.load("mnist")
    with pytest.raises(ValueError, match="dataset_params.noise: 5 is out of range"):
        data.load("moons", {"noise": 5})
    with pytest.raises(ValueError, match="dataset_params.colour: not a hyperparameter of moons"):
        data.split_sizes("moons", {"colour": 1}, 0.2, 0.2)
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction"):
        data.split_sizes("iris", {}, 0.5, 0.5)
    with pytest.raises(ValueError, match="dtype: 'float16' is not allowed"):
        data.load("iris", dtype="float16")


# -- splits -----------------------------------------------------------------------------
@pytest.mark.parametrize("name,params", [("digits", {}), ("iris", {}), ("diabetes", {}),
                                         ("moons", {"n_samples": 137}), ("blobs", {"n_samples": 50})])
@pytest.mark.parametrize("fractions", [(0.2, 0.2), (0.05, 0.5), (0.33, 0.17), (0.5, 0.05), (0.15, 0.25)])
def test_split_sizes_equal_loaded_sizes(name, params, fractions):
    vf, tf = fractions
    spec = data.REGISTRY[name]
    sizes = data.split_sizes(spec, params, vf, tf)
    assert sizes == data.split_sizes(name, params, vf, tf)
    ds = data.load(name, params, vf, tf, seed=3)
    assert sizes == (len(ds.y_train), len(ds.y_val), len(ds.y_test))
    n = spec.extra["n_samples"](spec.resolve(params))
    assert abs(sizes[1] - vf * n) <= 1 and abs(sizes[2] - tf * n) <= 1


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "wine"])
def test_stratified_split_keeps_class_proportions(name):
    ds = data.load(name, None, 0.2, 0.2, seed=11)
    y_all = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    k = len(ds.classes)
    overall = np.bincount(y_all, minlength=k) / len(y_all)
    for y in (ds.y_train, ds.y_val, ds.y_test):
        counts = np.bincount(y, minlength=k)
        # stratified: each class count is within one sample of its share
        assert np.all(np.abs(counts - overall * len(y)) <= 1.0 + 1e-9), (counts, overall * len(y))


def test_splits_are_disjoint_and_cover_the_data():
    ds = data.load("iris", seed=5)
    from sklearn.datasets import load_iris

    raw = load_iris().data
    parts = [ds.scaler.inverse_transform(X) for X in (ds.X_train, ds.X_val, ds.X_test)]
    rows = np.concatenate(parts)
    assert rows.shape == raw.shape
    # every raw row appears exactly as often as in the data set
    key = lambda a: sorted(map(tuple, np.round(a, 6)))  # noqa: E731
    assert key(rows) == key(raw)


def test_scaler_is_fitted_on_the_training_split_only():
    ds = data.load("wine", seed=2)
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1.0, rtol=1e-12)
    assert np.all(np.abs(ds.X_val.mean(axis=0)) > 1e-6)
    assert np.all(np.abs(ds.X_test.mean(axis=0)) > 1e-6)
    raw_train = ds.scaler.inverse_transform(ds.X_train)
    np.testing.assert_allclose(ds.scaler.mean_, raw_train.mean(axis=0), rtol=1e-10)
    from sklearn.datasets import load_wine

    assert not np.allclose(ds.scaler.mean_, load_wine().data.mean(axis=0), rtol=1e-6)
    # transform applies that scaler
    np.testing.assert_allclose(ds.transform(raw_train), ds.X_train, atol=1e-12)


def test_same_seed_same_data_other_seed_other_split():
    a = data.load("moons", {"n_samples": 300}, seed=4)
    data._load_cached.cache_clear()
    b = data.load("moons", {"n_samples": 300}, seed=4)
    assert a is not b
    for f in ("X_train", "Y_train", "y_val", "X_test"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    c = data.load("moons", {"n_samples": 300}, seed=5)
    assert not np.array_equal(a.y_train, c.y_train)
    # the generated points depend on data_seed only, not on the split seed
    def points(ds):
        parts = [ds.scaler.inverse_transform(X) for X in (ds.X_train, ds.X_val, ds.X_test)]
        return np.array(sorted(map(tuple, np.concatenate(parts))))
    np.testing.assert_allclose(points(a), points(c), rtol=1e-12)
    d = data.load("moons", {"n_samples": 300, "data_seed": 1}, seed=4)
    assert not np.allclose(points(a), points(d))


def test_linear_is_separable_and_noise_blurs_it():
    from sklearn.svm import LinearSVC

    def train_acc(noise):
        ds = data.load("linear", {"n_samples": 400, "noise": noise})
        X = np.concatenate([ds.X_train, ds.X_val, ds.X_test])
        y = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
        return LinearSVC(C=1e4, max_iter=100_000).fit(X, y).score(X, y)

    assert train_acc(0.0) == 1.0
    assert train_acc(1.0) < 0.97


@pytest.mark.parametrize("name,hyper", [("moons", "noise"), ("circles", "noise"), ("blobs", "cluster_std")])
def test_synthetic_hypers(name, hyper):
    spec = data.REGISTRY[name]
    assert {"n_samples", "data_seed", hyper} <= {h.name for h in spec.hypers}
    ds = data.load(name, {"n_samples": 1000, "data_seed": 2})
    assert sum(len(y) for y in (ds.y_train, ds.y_val, ds.y_test)) == 1000


def test_blobs_centers_sets_the_classes():
    ds = data.load("blobs", {"centers": 5})
    assert ds.n_outputs == 5 and ds.classes == (0, 1, 2, 3, 4)


# -- CSV ---------------------------------------------------------------------------------
def make_csv(n=60, seed=0, target="label", classes=("cat", "dog", "eel")) -> bytes:
    rng = np.random.default_rng(seed)
    lines = [f"height,weight,age,{target}"]
    for i in range(n):
        lines.append(f"{rng.normal():.6f},{rng.uniform(1, 9):.4f},{rng.integers(1, 15)},"
                     f"{classes[i % len(classes)]}")
    return ("\n".join(lines) + "\n").encode()


def test_csv_round_trip(tmp_path):
    content = make_csv()
    params = data.store_csv(content, "label", data_dir=tmp_path)
    assert params == {"sha256": params["sha256"], "target": "label", "n_rows": 60, "task": "auto"}
    assert (tmp_path / "csv" / f"{params['sha256']}.csv").read_bytes() == content
    assert data.split_sizes("csv", params, 0.2, 0.2) == (36, 12, 12)
    ds = data.load("csv", params, data_dir=tmp_path)
    assert ds.task == "multiclass" and ds.classes == ("cat", "dog", "eel")
    assert ds.feature_names == ("height", "weight", "age") and ds.target_name == "label"
    assert ds.X_train.shape == (36, 3) and ds.Y_train.shape == (36, 3)
    import io

    import pandas as pd

    df = pd.read_csv(io.BytesIO(content))
    raw = np.concatenate([ds.scaler.inverse_transform(X) for X in (ds.X_train, ds.X_val, ds.X_test)])
    labels = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    got = sorted((tuple(np.round(r, 6)), ds.classes[c]) for r, c in zip(raw, labels, strict=True))
    want = sorted((tuple(np.round(r, 6)), c) for r, c in zip(df.iloc[:, :3].to_numpy(), df["label"],
                                                              strict=True))
    assert got == want


def test_csv_default_data_dir_target_and_task(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTLAB_DATA_DIR", str(tmp_path))
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2))
    rows = "\n".join(f"{a:.5f},{b:.5f},{2 * a - b + 0.1 * rng.normal():.5f}" for a, b in X)
    params = data.store_csv(f"x,z,price\n{rows}\n".encode())  # target: the last column
    assert params["target"] == "price"
    ds = data.load("csv", params)
    assert ds.task == "regression" and ds.n_outputs == 1 and ds.classes == ()
    # 0/1 integers are a class label; asking for regression overrides
    rows = "\n".join(f"{a:.5f},{b:.5f},{int(a > 0)}" for a, b in X)
    content = f"x,z,flag\n{rows}\n".encode()
    params = data.store_csv(content)
    assert data.load("csv", params).task == "binary"
    assert data.load("csv", {**params, "task": "regression"}).task == "regression"
    # the config layer accepts the params
    from engine.config import RunConfig

    cfg = RunConfig(dataset="csv", dataset_params=params, batch_size=8)
    assert cfg.dataset_params["sha256"] == params["sha256"]


def _error(content: bytes, target=None, **kw) -> str:
    with pytest.raises(ValueError) as e:
        data.store_csv(content, target, **kw)
    return str(e.value)


def test_csv_errors(tmp_path, monkeypatch):
    good = make_csv()
    kw = {"data_dir": tmp_path}
    assert "the file is empty" in _error(b"", **kw)
    msg = _error(b"a,b\n1,2\n3,4,5,6\n" + b"1,2\n" * 30, **kw)
    assert "line 3 has 4 fields but the header has 2" in msg
    msg = _error(good.replace(b"height", b"colour", 1).replace(b"\n0.", b"\nred", 3), "label", **kw)
    assert "non-numeric feature columns are not allowed: colour;" in msg
    lines = good.decode().splitlines()
    lines[5] = "," + lines[5].split(",", 1)[1]  # row 5 loses its height
    msg = _error("\n".join(lines).encode(), "label", **kw)
    assert "missing values" in msg and "height" in msg and "rows 5" in msg
    msg = _error(good, "species", **kw)
    assert "target: 'species' is not a column; allowed: height, weight, age, label" in msg
    assert "single value" in _error(make_csv(classes=("cat",)), "label", **kw)
    assert "at least 20" in _error(make_csv(n=19), "label", **kw)
    monkeypatch.setattr(data, "CSV_MAX_BYTES", 1000)
    assert "over the size limit" in _error(good, "label", **kw)
    monkeypatch.setattr(data, "CSV_MAX_BYTES", 5 * 2**20)
    monkeypatch.setattr(data, "CSV_MAX_ROWS", 50)
    assert "60 rows is over the limit" in _error(good, "label", **kw)
    monkeypatch.setattr(data, "CSV_MAX_COLUMNS", 3)
    assert "4 columns is over the limit" in _error(good, "label", **kw)
    assert not (tmp_path / "csv").exists()  # nothing was stored


def test_csv_class_with_one_row(tmp_path):
    content = make_csv(n=40, classes=("a", "b")) + b"0.1,2.0,3,c\n"
    msg = _error(content, "label", data_dir=tmp_path)
    assert "single row" in msg and "c" in msg


def test_csv_params_are_validated(tmp_path):
    with pytest.raises(ValueError, match="dataset_params.sha256: 'abc' is not allowed"):
        data.load("csv", {"sha256": "abc", "target": "y", "n_rows": 30}, data_dir=tmp_path)
    with pytest.raises(ValueError, match="is not an uploaded CSV"):
        data.load("csv", {"sha256": "0" * 64, "target": "y", "n_rows": 30}, data_dir=tmp_path)
    params = data.store_csv(make_csv(), "label", data_dir=tmp_path)
    with pytest.raises(ValueError, match="dataset_params.n_rows: 61 is not allowed; allowed: 60"):
        data.load("csv", {**params, "n_rows": 61}, data_dir=tmp_path)
    with pytest.raises(ValueError, match="dataset_params.target: 5 is not allowed; allowed: a string"):
        data.load("csv", {**params, "target": 5}, data_dir=tmp_path)
