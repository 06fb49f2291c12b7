"""Bad input from files and the command line: each case a clear ValueError (or exit code 2
with one ``error:`` line), never a traceback, a silent coercion or a budget that never ends.

Sections: the command line, config values, work limits, CSV uploads, checkpoints.
"""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np
import pandas as pd
import pytest

from engine import RunConfig, data, lessons, limits, save_run, train
from engine.__main__ import main
from engine.checkpoint import from_bytes, load_run, to_bytes
from engine.nn.mlp import MLP

TINY = {"dataset": "iris", "hidden": [4], "epochs": 2, "batch_size": 16}


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def write_config(tmp_path, content) -> str:
    path = tmp_path / "cfg.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def refused_by_cli(capsys, tmp_path, content, *words, extra=()):
    rc, out, err = cli(capsys, "train", "--config", write_config(tmp_path, content), *extra)
    assert rc == 2, (out, err)
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert not any(line.startswith("epoch") for line in out.splitlines()), "trained before refusing"
    for w in words:
        assert w in err, err
    return err


# -- the command line ------------------------------------------------------------------------------
@pytest.mark.parametrize("content, words", [
    ({**TINY, "optimizer": ["adam"]}, ["optimizer:", "a name"]),
    ("null", ["--config: null is not allowed", "a JSON object"]),
    ("[1, 2]", ["--config: list is not allowed"]),
    ({**TINY, "schedule_params": [1, 2]}, ["schedule_params: [1, 2] is not allowed", "JSON object"]),
    ("{\"hidden\": " + "[" * 100_000 + "]" * 100_000 + "}", ["nested too deeply"]),
    ({**TINY, "epochs": True}, ["epochs: true is not allowed"]),
    ({**TINY, "epochs": 2.5}, ["epochs: 2.5 is not allowed", "whole number"]),
    ({**TINY, "clip_norm": "1"}, ["clip_norm: '1' is not allowed"]),
    ('{"dataset": "iris", "clip_norm": Infinity}', ["Infinity is not allowed", "finite numbers"]),
    ('{"dataset": "iris", "min_delta": NaN}', ["NaN is not allowed"]),
    ({**TINY, "batchnorm": 1}, ["batchnorm: 1 is not allowed; allowed: true or false"]),
    ({**TINY, "hidden": [4, True]}, ["hidden:", "whole numbers"]),
    ({**TINY, "optimizer_params": {"lr": "0.1"}}, ["optimizer_params.lr: '0.1' is not a number"]),
    ({**TINY, "optimizer_params": {"amsgrad": 1}}, ["optimizer_params.amsgrad", "true or false"]),
    ({"dataset": "synthetic", "dataset_params": {"n_classes": 20, "n_informative": 2}},
     ["dataset_params.n_informative: 2 is too few for 20 classes", "at least 6"]),
    ("{not json", ["is not valid JSON"]),
])
def test_cli_refuses_bad_config_files(capsys, tmp_path, content, words):
    refused_by_cli(capsys, tmp_path, content, *words)


def test_cli_missing_config_file(capsys, tmp_path):
    rc, _, err = cli(capsys, "train", "--config", str(tmp_path / "nope.json"))
    assert rc == 2 and "--config: cannot read" in err


def test_whole_floats_are_whole_numbers_on_the_cli(capsys, tmp_path):
    rc, out, err = cli(capsys, "train", "--config", write_config(tmp_path, {**TINY, "epochs": 2.0}))
    assert rc == 0, err
    assert sum(line.startswith("epoch") for line in out.splitlines()) == 2


@pytest.mark.parametrize("where", ["missing", "folder"])
def test_out_is_checked_before_training(capsys, tmp_path, where):
    out_path = tmp_path / "no" / "such" / "run.npz" if where == "missing" else tmp_path
    err = refused_by_cli(capsys, tmp_path, TINY, "--out:", extra=("--out", str(out_path)))
    assert ("does not exist" if where == "missing" else "is a folder") in err


def test_compare_csv_is_checked_before_training(capsys, tmp_path):
    rc, out, err = cli(capsys, "compare", "--config", write_config(tmp_path, TINY), "--optimizers", "sgd",
                       "--csv", str(tmp_path / "missing" / "runs.csv"))
    assert rc == 2 and "--csv: the folder" in err and "training" not in out


def test_compare_seeds_are_capped(capsys, tmp_path):
    rc, out, err = cli(capsys, "compare", "--config", write_config(tmp_path, TINY), "--optimizers", "sgd",
                       "--seeds", "100000")
    assert rc == 2 and "--seeds: 100000 is not allowed; allowed: a whole number in [1, 100]" in err
    assert "training" not in out


def test_save_leaves_no_partial_file_when_the_write_fails(tmp_path, monkeypatch):
    result = train(RunConfig.from_dict(TINY))
    import engine.checkpoint as ck

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ck.os, "replace", boom)
    with pytest.raises(OSError):
        save_run(result, tmp_path / "run.npz")
    assert list(tmp_path.iterdir()) == []


def test_cli_resume_is_bit_identical_to_an_uninterrupted_run(capsys, tmp_path):
    config = {**TINY, "epochs": 3, "optimizer": "adam", "hidden": [8]}
    first, longer = tmp_path / "three.npz", tmp_path / "six.npz"
    rc, _, err = cli(capsys, "train", "--config", write_config(tmp_path, config), "--out", str(first))
    assert rc == 0, err
    rc, out, err = cli(capsys, "train", "--resume", str(first), "--epochs", "6", "--out", str(longer))
    assert rc == 0, err
    assert [line.split()[1] for line in out.splitlines() if line.startswith("epoch")] == \
        ["4/6", "5/6", "6/6"]
    resumed = load_run(longer)
    full = train(RunConfig.from_dict({**config, "epochs": 6}))
    assert resumed.key == full.key
    assert np.array_equal(resumed.params, full.params)
    for k, v in full.opt_state.items():
        assert np.array_equal(resumed.opt_state[k], v), k
    cols = [c for c in full.history.columns if c != "time_s"]
    pd.testing.assert_frame_equal(resumed.history[cols], full.history[cols], check_dtype=False)


def test_cli_resume_refuses_a_smaller_budget_and_a_broken_file(capsys, tmp_path):
    path = tmp_path / "run.npz"
    save_run(train(RunConfig.from_dict(TINY)), path)
    rc, _, err = cli(capsys, "train", "--resume", str(path), "--epochs", "2")
    assert rc == 2 and "more than the 2 epochs the run has done" in err
    rc, _, err = cli(capsys, "train", "--resume", str(path))
    assert rc == 2 and "--epochs or --max-updates" in err
    path.write_bytes(path.read_bytes()[:200])
    rc, _, err = cli(capsys, "train", "--resume", str(path), "--epochs", "5")
    assert rc == 2 and err.startswith("error: file:") and "Traceback" not in err


# -- config values (RunConfig itself) ------------------------------------------------------------------
@pytest.mark.parametrize("field, value", [
    ("batch_size", True), ("patience", 2.5), ("seed", "1"), ("clip_value", math.nan),
    ("min_delta", "0.1"), ("val_fraction", True), ("test_fraction", math.nan),
])
def test_run_config_takes_exact_types(field, value):
    with pytest.raises(ValueError, match=rf"^{field}:.*allowed"):
        RunConfig(dataset="iris", **{field: value})


@pytest.mark.parametrize("field, value", [
    ("epochs", True), ("patience", True), ("eval_every", True), ("max_updates", True),
    ("clip_norm", math.inf), ("min_delta", math.inf),
])
def test_run_config_refuses_flags_and_infinities_for_numbers(field, value):
    with pytest.raises(ValueError, match=rf"^{field}:.*allowed"):
        RunConfig(dataset="iris", **{field: value})


@pytest.mark.parametrize("params, field", [
    ({"lr": "0.1"}, "optimizer_params.lr"), ({"lr": True}, "optimizer_params.lr"),
    ({"lr": math.inf}, "optimizer_params.lr"), ({"amsgrad": 1}, "optimizer_params.amsgrad"),
    ({"betas": [0.9, "0.99"]}, "optimizer_params.betas[1]"),
])
def test_run_config_refuses_loose_hyperparameters(params, field):
    with pytest.raises(ValueError) as e:
        RunConfig(dataset="iris", optimizer="adam", optimizer_params=params)
    assert str(e.value).startswith(field + ":") and "allowed" in str(e.value)


def test_run_config_takes_whole_floats_for_whole_numbers():
    a = RunConfig(dataset="iris", optimizer="lbfgs", mode="batch", optimizer_params={"history_size": 20.0})
    b = RunConfig(dataset="iris", optimizer="lbfgs", mode="batch", optimizer_params={"history_size": 20})
    assert a.key() == b.key() and type(a.optimizer_params["history_size"]) is int
    with pytest.raises(ValueError, match="20.5 is not a whole number"):
        RunConfig(dataset="iris", optimizer="lbfgs", mode="batch", optimizer_params={"history_size": 20.5})


def test_synthetic_refuses_too_few_informative_features_at_config_time():
    with pytest.raises(ValueError, match=r"^dataset_params.n_informative: 2 is too few for 20 classes"):
        RunConfig(dataset="synthetic", dataset_params={"n_classes": 20, "n_informative": 2})
    with pytest.raises(ValueError, match="n_informative"):
        data.split_sizes("synthetic", {"n_classes": 5, "n_informative": 3})
    ok = RunConfig(dataset="synthetic", dataset_params={"n_classes": 20, "n_informative": 6},
                   hidden=(), epochs=1)
    assert data.load(ok.dataset, ok.dataset_params).n_outputs == 20


# -- work limits --------------------------------------------------------------------------------------
HEAVY = {"dataset": "moons", "hidden": (4096, 4096, 4096), "epochs": 1}


def test_the_heavy_link_is_refused_for_its_memory():
    with pytest.raises(ValueError) as e:
        limits.check(RunConfig(**HEAVY), limits.Limits())
    msg = str(e.value)
    assert msg.startswith("hidden: 4096,4096,4096 needs about ")
    assert " GB of memory; the limit is 1.0 GB" in msg
    assert "OPTLAB_MAX_MEMORY_MB" in msg
    cost = limits.estimate(RunConfig(**HEAVY))
    assert 1.5 * 2**30 < cost.memory_bytes < 3 * 2**30  # 3 copies of 268 MB + Adam's 2 + the stored blob


def test_one_sample_updates_on_two_wide_layers_are_refused():
    config = RunConfig(dataset="synthetic", hidden=(4096, 4096), mode="sgd", epochs=1)
    with pytest.raises(ValueError, match=r"^hidden: 4096,4096 needs about .* of memory"):
        limits.check(config, limits.Limits())
    # with memory to spare, the arithmetic of 1,200 one-sample updates per epoch is the cost
    with pytest.raises(ValueError, match=r"^mode: sgd needs about .* GFLOP of arithmetic; the limit is 200"):
        limits.check(config, limits.Limits(memory_mb=math.inf))


@pytest.mark.parametrize("changes, field", [
    ({"epochs": 10_000, "batch_size": 1}, "epochs: 10000 needs about 10,790,000 updates"),
    ({"max_updates": 10**7}, "max_updates: 10000000 needs about 10,000,000 updates"),
])
def test_budgets_that_never_end_are_refused(changes, field):
    with pytest.raises(ValueError) as e:
        limits.check(RunConfig(**changes), limits.Limits())
    assert str(e.value).startswith(field), str(e.value)


def test_long_budgets_on_the_cli_are_refused_unless_limits_are_lifted(capsys, tmp_path, monkeypatch):
    err = refused_by_cli(capsys, tmp_path, {"dataset": "digits", "epochs": 10_000, "batch_size": 1},
                         "epochs: 10000 needs about", "--no-limits lifts")
    assert "updates" in err
    monkeypatch.setenv("OPTLAB_MAX_UPDATES", "5")
    refused_by_cli(capsys, tmp_path, TINY, "the limit is 5")
    rc, out, err = cli(capsys, "train", "--config", write_config(tmp_path, TINY), "--no-limits")
    assert rc == 0, err


def test_every_lesson_config_is_within_the_default_limits():
    configs = [c for lesson in lessons.LESSONS.values() if lesson.page != "playground"
               for c in lessons.configs(lesson)]
    assert len(configs) > 40
    for c in configs:
        limits.check(c, limits.Limits())


def test_estimates_match_the_trained_run():
    config = RunConfig(dataset="wine", hidden=(16, 8), batchnorm=True, optimizer="adam", epochs=3,
                       early_stopping=True)
    result = train(config)
    cost = limits.estimate(config)
    assert cost.params == result.params.size
    assert cost.state_multiple == 2.0
    assert cost.updates == result.history["updates"].iloc[-1]
    assert cost.evaluations == len(result.history)
    blob = len(to_bytes(result))
    assert 0.5 * blob < cost.stored_bytes < 2 * blob
    big = RunConfig(dataset="digits", hidden=(64, 32), optimizer="adam", epochs=2)
    blob = len(to_bytes(train(big)))
    assert 0.8 * blob < limits.estimate(big).stored_bytes < 1.25 * blob
    lb = limits.estimate(RunConfig(dataset="iris", optimizer="lbfgs", mode="batch",
                                   optimizer_params={"history_size": 7}))
    assert lb.state_multiple == 2 * 7 + 2  # two history matrices, the direction and the last gradient


def test_limits_from_the_environment():
    lim = limits.Limits.from_env({"OPTLAB_MAX_MEMORY_MB": "512", "OPTLAB_MAX_GFLOP": "inf"})
    assert lim.memory_mb == 512 and lim.gflop == math.inf and lim.updates == limits.Limits().updates
    for bad in ("0", "-1", "lots", "nan"):
        with pytest.raises(ValueError, match="OPTLAB_MAX_STORED_MB: .* allowed: a positive number"):
            limits.Limits.from_env({"OPTLAB_MAX_STORED_MB": bad})


# -- CSV uploads -----------------------------------------------------------------------------------------
def table(header: str, rows: list[str]) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def rows(n=40, f=lambda i: f"{i * 0.1:.2f},{(i * 7) % 5},{i % 2}"):
    return [f(i) for i in range(n)]


def csv_error(content: bytes, tmp_path, **kw) -> str:
    with pytest.raises(ValueError) as e:
        data.store_csv(content, data_dir=tmp_path, **kw)
    msg = str(e.value)
    assert not (tmp_path / "csv").exists()
    return msg


def test_csv_duplicate_column_names_are_an_error(tmp_path):
    msg = csv_error(table("a,a,y", rows()), tmp_path)
    assert "duplicate column names are not allowed: 'a'" in msg


def test_csv_ragged_rows_are_an_error(tmp_path):
    # one field more on every row: pandas would take the first column as the index
    msg = csv_error(table("a,b,y", rows(f=lambda i: f"{i},{i % 3},{i * 2},{i % 2}")), tmp_path)
    assert "line 2 has 4 fields but the header has 3" in msg
    short = rows()
    short[10] = "1.0,2"
    assert "line 12 has 2 fields" in csv_error(table("a,b,y", short), tmp_path)


def test_a_wide_one_line_csv_is_refused_before_parsing(tmp_path, monkeypatch):
    wide = ",".join(["1"] * 650_000).encode()[: 5 * 2**20 - 1]

    def no_parse(*a, **k):
        raise AssertionError("pandas was asked to parse a file the checks should have refused")

    monkeypatch.setattr(pd, "read_csv", no_parse)
    msg = csv_error(wide, tmp_path)
    assert "a line of 1,299,999 bytes is over the limit" in msg and "200 columns" in msg
    header = ",".join(f"c{i}" for i in range(300)).encode() + b"\n"
    assert "300 columns is over the limit" in csv_error(header + b"1\n" * 30, tmp_path)


@pytest.mark.parametrize("value", ["1e308", "-1e308", "1e200"])
def test_csv_values_too_large_to_scale_are_refused(tmp_path, value):
    r = rows()
    r[3] = f"{value},1,0"
    assert "values too large to scale in columns a" in csv_error(table("a,b,y", r), tmp_path)
    r = rows(f=lambda i: f"{i},{i % 3},{i * 0.5}")
    r[4] = f"1,2,{value}"
    assert "target: column 'y' has values too large to scale" in csv_error(table("a,b,y", r), tmp_path)


def test_an_ambiguous_whole_number_target_asks_for_the_task(tmp_path):
    content = table("a,b,y", rows(n=84, f=lambda i: f"{i * 0.1:.2f},{(i * 7) % 5},{i % 21}"))
    msg = csv_error(content, tmp_path)
    assert msg.startswith("task: column 'y' holds 21 distinct whole numbers")
    assert "'classification' or 'regression'" in msg
    params = data.store_csv(content, data_dir=tmp_path, task="classification")
    ds = data.load("csv", params, data_dir=tmp_path)
    assert ds.task == "multiclass" and ds.n_outputs == 21
    params = data.store_csv(content, data_dir=tmp_path, task="regression")
    assert data.load("csv", params, data_dir=tmp_path).task == "regression"
    # few values stay a class label, many stay a quantity
    few = table("a,b,y", rows(n=40, f=lambda i: f"{i * 0.1:.2f},{(i * 7) % 5},{i % 4}"))
    assert data.load("csv", data.store_csv(few, data_dir=tmp_path), data_dir=tmp_path).task == "multiclass"
    many = table("a,b,y", rows(n=80, f=lambda i: f"{i * 0.1:.2f},{(i * 7) % 5},{i * 3}"))
    assert data.load("csv", data.store_csv(many, data_dir=tmp_path), data_dir=tmp_path).task == "regression"


def test_csv_headers_need_names_and_text(tmp_path):
    assert "has no name" in csv_error(table("a,,y", rows()), tmp_path)
    assert "not UTF-8 text" in csv_error(b"a,b,y\n\xff\xfe,1,0\n" * 30, tmp_path)


# -- checkpoints ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run():
    return train(RunConfig(dataset="iris", hidden=(4,), epochs=2, batch_size=16, batchnorm=True))


def members(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def repack(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def meta_of(arrays) -> dict:
    return json.loads(str(arrays["meta"]))


def with_meta(arrays, **changes) -> dict:
    meta = {**meta_of(arrays), **changes}
    return {**arrays, "meta": np.array(json.dumps(meta))}


def refused(blob, *words) -> str:
    with pytest.raises(ValueError) as e:
        from_bytes(blob)
    msg = str(e.value)
    assert msg.startswith("file:"), msg
    for w in words:
        assert w in msg, msg
    return msg


def test_the_untouched_file_loads(run):
    back = from_bytes(to_bytes(run))
    assert back.key == run.key and np.array_equal(back.params, run.params)


@pytest.mark.parametrize("cut", [0, 10, 100, 1000, -200, -22, -1])
def test_truncated_files_are_refused(run, cut):
    blob = to_bytes(run)
    refused(blob[:cut] if cut else b"", "not a readable .npz archive")


def test_garbage_is_refused(run):
    refused(b"PK\x03\x04" + b"\x00" * 200, "not a readable")
    refused(np.arange(10).tobytes(), "not a readable")


def test_missing_and_unexpected_members_are_refused(run):
    arrays = members(to_bytes(run))
    refused(repack({k: v for k, v in arrays.items() if k != "meta"}), "member 'meta' is missing")
    refused(repack({k: v for k, v in arrays.items() if k != "params"}), "member 'params' is missing")
    refused(repack({**arrays, "evil": np.zeros(3)}), "unexpected member 'evil'")
    refused(repack({k: v for k, v in arrays.items() if k != "opt_state/exp_avg"}), "optimizer state")
    refused(repack({k: v for k, v in arrays.items() if k != "model_state/bn1.mean"}), "model_state")
    refused(repack({k: v for k, v in arrays.items() if k != "history/val_loss"}), "history columns")
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("meta.txt", "hello")
    refused(zbuf.getvalue(), "unexpected member 'meta.txt'")


def test_wrong_dtypes_and_shapes_are_refused(run):
    arrays = members(to_bytes(run))
    refused(repack({**arrays, "params": arrays["params"].astype(np.float32)}), "params", "float32")
    refused(repack({**arrays, "params": arrays["params"][:-1]}), "params has", "the config's network has")
    refused(repack({**arrays, "opt_state/exp_avg": arrays["opt_state/exp_avg"][:5]}), "opt_state/exp_avg")
    refused(repack({**arrays, "model_state/bn1.var": np.zeros(7)}), "model_state/bn1.var")
    refused(repack({**arrays, "history/val_loss": arrays["history/val_loss"][:1]}), "one length")
    refused(repack({**arrays, "meta": np.array([1, 2])}), "'meta' is not a JSON text")


def test_huge_declared_sizes_are_refused_without_allocating(run):
    arrays = members(to_bytes(run))
    # a params member whose header declares 10**12 values but holds only the real ones
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in arrays.items():
            if k == "params":
                header = io.BytesIO()
                np.lib.format.write_array_header_2_0(
                    header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
                zf.writestr("params.npy", header.getvalue() + v.tobytes())
            else:
                a = io.BytesIO()
                np.lib.format.write_array(a, v)
                zf.writestr(f"{k}.npy", a.getvalue())
    refused(buf.getvalue(), "member 'params' declares shape (1000000000000,)")


def test_object_arrays_are_refused(run):
    arrays = members(to_bytes(run))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in arrays.items():
            a = io.BytesIO()
            np.lib.format.write_array(a, v if k != "params" else np.array([{"x": 1}], dtype=object),
                                      allow_pickle=True)
            zf.writestr(f"{k}.npy", a.getvalue())
    refused(buf.getvalue(), "holds Python objects")


def test_a_key_that_does_not_match_its_config_is_refused(run):
    arrays = members(to_bytes(run))
    refused(repack(with_meta(arrays, key="0" * 20)), "is not its config's key")
    # a forged run: another config's settings under this run's key
    forged = dict(meta_of(arrays)["config"], seed=1)
    refused(repack(with_meta(arrays, config=forged)), "is not its config's key")
    # the key of the current engine cannot be claimed by a file of another engine version
    refused(repack(with_meta(arrays, engine_version="0.0.0-other")), "is not its config's key")


def test_broken_meta_is_refused(run):
    arrays = members(to_bytes(run))
    refused(repack({**arrays, "meta": np.array("{")}), "not valid JSON")
    refused(repack({**arrays, "meta": np.array("[" * 100_000 + "]" * 100_000)}), "not valid JSON")
    refused(repack(with_meta(arrays, status="owned")), "meta.status")
    refused(repack(with_meta(arrays, history_columns="epoch")), "meta.history_columns")
    refused(repack(with_meta(arrays, config={"dataset": "iris", "hidden": "x"})), "config is not valid")
    with pytest.raises(ValueError, match="not an Optimizer Lab run"):
        from_bytes(repack(with_meta(arrays, format="other/1")))


def test_load_run_refuses_a_tampered_file(run, tmp_path):
    path = tmp_path / "run.npz"
    save_run(run, path)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ValueError, match="^file: "):
        load_run(path)
    assert MLP.n_params_for(4, (4,), 3, True) == run.params.size
