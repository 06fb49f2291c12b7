"""Checkpoints (.npz + JSON), resuming, the SQLite run store and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from engine import RunConfig, load_run, resume, save_run, train
from engine.store import RunStore


def cfg(**kw) -> RunConfig:
    base = dict(dataset="wine", hidden=(12,), optimizer="adam", epochs=4, batch_size=16)
    base.update(kw)
    return RunConfig(**base)


def same_result(a, b) -> None:
    assert a.key == b.key and a.status == b.status and a.stop_reason == b.stop_reason
    pd.testing.assert_frame_equal(a.history, b.history, check_dtype=False)
    assert np.array_equal(a.params, b.params)
    assert a.params.dtype == b.params.dtype
    assert set(a.opt_state) == set(b.opt_state)
    for k, v in a.opt_state.items():
        w = b.opt_state[k]
        if isinstance(v, np.ndarray):
            assert np.array_equal(v, w) and v.dtype == w.dtype, k
        else:
            assert v == w and type(v) is type(w), k


def test_save_and_load_round_trip(tmp_path):
    result = train(cfg(batchnorm=True))
    path = save_run(result, tmp_path / "run.npz")
    back = load_run(path)
    same_result(result, back)
    for k, v in result.model_state.items():
        assert np.array_equal(v, back.model_state[k])
    # no pickle anywhere: the file opens with allow_pickle=False
    with np.load(path, allow_pickle=False) as z:
        assert "params" in z.files and "meta" in z.files


@pytest.mark.parametrize("optimizer, extra", [
    ("adam", {}), ("sgd", {"schedule": "step", "schedule_params": {"step_size": 5, "gamma": 0.5}}),
    ("lookahead", {}), ("rprop", {"sampling": "replacement"}),
])
def test_resume_is_bit_identical(tmp_path, optimizer, extra):
    full = train(cfg(optimizer=optimizer, epochs=6, **extra))
    half = train(cfg(optimizer=optimizer, epochs=3, **extra))
    save_run(half, tmp_path / "half.npz")
    resumed = resume(tmp_path / "half.npz", epochs=6)
    assert np.array_equal(resumed.params, full.params)
    cols = [c for c in full.history.columns if c != "time_s"]
    pd.testing.assert_frame_equal(resumed.history[cols], full.history[cols], check_dtype=False)


def test_store_put_get_list_delete(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    a, b = train(cfg()), train(cfg(optimizer="sgd", optimizer_params={"lr": 0.05}))
    store.put(a, label="adam")
    store.put(b)
    assert len(store) == 2 and a.key in store
    same_result(store.get(a.key), a)
    assert store.get("nope") is None
    table = store.list()
    assert set(table["key"]) == {a.key, b.key}
    assert table.set_index("key").loc[a.key, "label"] == "adam"
    assert store.config(b.key) == b.config
    long = store.histories([a.key, b.key])
    assert len(long) == len(a.history) + len(b.history)
    assert set(long["label"]) >= {"adam"}
    # a new store object on the same file (an app restart) sees the same runs
    again = RunStore(tmp_path / "runs.sqlite")
    same_result(again.get(b.key), b)
    assert store.delete([a.key]) == 1
    assert a.key not in again and len(again) == 1


def test_store_keeps_diverged_runs(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    bad = train(cfg(dataset="digits", hidden=(32,), optimizer="sgd", optimizer_params={"lr": 100.0},
                    epochs=5, batch_size=32))
    assert bad.status == "diverged"
    store.put(bad)
    back = store.get(bad.key)
    assert back.status == "diverged" and back.diverged_at == bad.diverged_at


def test_cli_train_and_optimizers(tmp_path):
    config_path = tmp_path / "cfg.json"
    config_path.write_text(json.dumps({"dataset": "iris", "hidden": [8], "epochs": 2, "batch_size": 16}))
    out = tmp_path / "run.npz"
    proc = subprocess.run([sys.executable, "-m", "engine", "train", "--config", str(config_path),
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sum(line.startswith("epoch") for line in lines) == 2
    assert any(line.startswith("completed") for line in lines)
    assert load_run(out).config.dataset == "iris"

    proc = subprocess.run([sys.executable, "-m", "engine", "optimizers"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    for name in ("adam", "adamw", "lbfgs", "lookahead", "rmsprop_book"):
        assert any(line.startswith(name + " ") for line in proc.stdout.splitlines()), name


def test_cli_bad_config_is_a_clear_error(tmp_path):
    config_path = tmp_path / "cfg.json"
    config_path.write_text(json.dumps({"dataset": "iris", "batch_size": 0}))
    proc = subprocess.run([sys.executable, "-m", "engine", "train", "--config", str(config_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "batch_size" in proc.stderr and "Traceback" not in proc.stderr
