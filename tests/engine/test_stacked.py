"""Compare-many: a stacked pass equals K single passes, and stacked runs equal single runs, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from engine import RunConfig, train
from engine.nn import ACTIVATIONS, MLP
from engine.nn.stacked import StackedMLP
from engine.stacked import stack_key, train_many, train_stacked

OUTPUTS = {"softmax": 3, "sigmoid": 1, "identity": 2}


def _targets(rng, output: str, n: int, dtype: str) -> np.ndarray:
    k = OUTPUTS[output]
    if output == "softmax":
        return np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    if output == "sigmoid":
        return rng.integers(0, 2, (n, 1)).astype(dtype)
    return rng.standard_normal((n, k)).astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output", list(OUTPUTS))
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_stacked_pass_equals_single_passes(activation, output, dtype):
    rng = np.random.default_rng(3)
    for hidden in [(), (9,), (12, 7)]:
        net = MLP(5, hidden, OUTPUTS[output], activation, output, dtype=dtype)
        K = 3
        params = np.stack([net.init_params(np.random.default_rng(s)) for s in range(K)])
        params[1] *= 3.0  # runs far apart, so no two rows agree by accident
        stack = StackedMLP(net, K)
        for n in (1, 6, 33):
            X = rng.standard_normal((n, 5)).astype(dtype)
            Y = _targets(rng, output, n, dtype)
            grad = np.full_like(params, np.nan)
            losses, outs = stack.loss_grad(params, X, Y, grad)
            for k in range(K):
                g = np.zeros(net.n_params, dtype=dtype)
                loss = net.loss_grad(params[k].copy(), X, Y, g)
                assert losses[k] == loss, (hidden, n, k)
                np.testing.assert_array_equal(grad[k], g, err_msg=f"{hidden} n={n} run {k}")
                np.testing.assert_array_equal(outs[k], net.last_output)
            assert grad.dtype == np.dtype(dtype) and outs.dtype == np.dtype(dtype)


def test_stacked_pass_rejects_batchnorm_and_wrong_shapes():
    with pytest.raises(ValueError, match="batchnorm"):
        StackedMLP(MLP(4, (3,), 2, batchnorm=True), 2)
    net = MLP(4, (3,), 2)
    stack = StackedMLP(net, 2)
    X, Y = np.zeros((5, 4)), np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"params: shape \(3, "):
        stack.loss_grad(np.zeros((3, net.n_params)), X, Y, np.zeros((3, net.n_params)))


def _same(a, b) -> None:
    """Everything but the wall-clock times is bit-identical."""
    assert (a.status, a.stop_reason, a.diverged_at, a.best_epoch) == (b.status, b.stop_reason, b.diverged_at,
                                                                       b.best_epoch)
    np.testing.assert_array_equal(a.params, b.params)
    assert a.params.dtype == b.params.dtype
    cols = [c for c in b.history.columns if c != "time_s"]
    assert list(a.history.columns) == list(b.history.columns)
    assert a.history[cols].equals(b.history[cols])
    assert a.test_metrics == b.test_metrics
    assert a.key == b.key
    for k, v in b.opt_state.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(a.opt_state[k], v, err_msg=k)
        else:
            assert a.opt_state[k] == v, k


MIXED = [  # optimizer, its hyperparameters, other per-run settings
    ("sgd", {"lr": 0.05, "momentum": 0.9}, {}),
    ("adam", {}, {"epochs": 2}),  # stops first: the others go on without it
    ("rmsprop", {"lr": 0.01}, {"early_stopping": True, "patience": 1, "min_delta": 10.0}),
    ("adagrad", {"lr": 0.05}, {"schedule": "step", "clip_norm": 0.5}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, {"clip_value": 0.01, "eval_every": 7}),
    ("adamw", {}, {"initializer": "xavier_uniform"}),
    ("lookahead", {}, {"schedule": "plateau"}),
    ("sgd", {"lr": 1000.0, "momentum": 0.99}, {"epochs": 6}),  # the longest budget
]


@pytest.mark.parametrize(("dataset", "mode", "batch", "sampling"), [
    ("iris", "minibatch", 16, "shuffle"),
    ("moons", "sgd", 1, "shuffle"),
    ("breast_cancer", "minibatch", 32, "replacement"),
    ("diabetes", "batch", 0, "shuffle"),
])
def test_stacked_runs_equal_runs_trained_one_by_one(dataset, mode, batch, sampling):
    base = dict(dataset=dataset, hidden=(10, 6), mode=mode, sampling=sampling, epochs=4, seed=2)
    if batch:
        base["batch_size"] = batch
    if dataset == "moons":
        base["dataset_params"] = {"n_samples": 120}
    configs = [RunConfig(optimizer=o, optimizer_params=p, **{**base, **extra}) for o, p, extra in MIXED]
    stacked = train_stacked(configs)
    assert {r.status for r in stacked} >= {"completed", "early_stopped"}
    for got, cfg in zip(stacked, configs, strict=True):
        _same(got, train(cfg))
        assert got.timings["stacked_runs"] == len(configs)


def test_a_run_that_diverges_drops_out_and_the_others_go_on():
    base = dict(dataset="digits", hidden=(32,), batch_size=32, epochs=3)
    configs = [RunConfig(optimizer="sgd", optimizer_params={"lr": 100.0}, **base),
               RunConfig(optimizer="adam", **base), RunConfig(optimizer="sgd", **base)]
    stacked = train_stacked(configs)
    assert [r.status for r in stacked] == ["diverged", "completed", "completed"]
    assert 1 <= stacked[0].diverged_at < stacked[1].history["updates"].iloc[-1]
    for got, cfg in zip(stacked, configs, strict=True):
        _same(got, train(cfg))


def test_float32_stacked_runs_stay_float32_and_equal_single_runs():
    base = dict(dataset="digits", hidden=(32,), batch_size=32, epochs=2, dtype="float32")
    configs = [RunConfig(optimizer=o, **base) for o in ("sgd", "adam", "nadam", "radam")]
    for got, cfg in zip(train_stacked(configs), configs, strict=True):
        assert got.params.dtype == np.float32
        assert all(v.dtype == np.float32 for v in got.opt_state.values() if isinstance(v, np.ndarray))
        _same(got, train(cfg))


def test_full_batch_lbfgs_stacks_with_first_order_runs():
    base = dict(dataset="iris", hidden=(8,), mode="batch", epochs=5)
    configs = [RunConfig(optimizer="lbfgs", **base), RunConfig(optimizer="adam", **base),
               RunConfig(optimizer="rprop", **base)]
    for got, cfg in zip(train_stacked(configs), configs, strict=True):
        _same(got, train(cfg))


def test_train_many_groups_by_batch_stream_and_keeps_order():
    a = dict(dataset="iris", hidden=(8,), batch_size=16, epochs=2)
    configs = [
        RunConfig(optimizer="sgd", **a),
        RunConfig(optimizer="adam", **{**a, "seed": 1}),  # another batch order: alone
        RunConfig(optimizer="adam", **a),
        RunConfig(optimizer="adam", batchnorm=True, **a),  # batch norm: alone
        RunConfig(optimizer="rmsprop", **{**a, "batch_size": 8}),  # another batch size: alone
        RunConfig(optimizer="adagrad", **a),
    ]
    assert len({stack_key(c) for c in configs if stack_key(c)}) == 3
    assert stack_key(configs[3]) is None
    results = train_many(configs)
    assert [r.key for r in results] == [c.key() for c in configs]
    assert [r.timings.get("stacked_runs") for r in results] == [3.0, None, 3.0, None, None, 3.0]
    for got, cfg in zip(results, configs, strict=True):
        _same(got, train(cfg))


def test_callback_stops_one_run_and_the_others_finish_unchanged():
    base = dict(dataset="iris", hidden=(8,), batch_size=16, epochs=4)
    configs = [RunConfig(optimizer=o, **base) for o in ("sgd", "adam", "rmsprop")]
    seen: list[tuple[int, int]] = []

    def callback(i, progress):
        seen.append((i, progress["epoch"]))
        return not (i == 1 and progress["epoch"] == 2)

    results = train_many(configs, callback)
    assert results[1].status == "interrupted" and results[1].history["epoch"].iloc[-1] == 2
    assert (0, 4) in seen and (2, 4) in seen and (1, 3) not in seen
    for i in (0, 2):
        _same(results[i], train(configs[i]))


def test_train_stacked_refuses_runs_that_do_not_share_batches():
    a = RunConfig(dataset="iris", hidden=(8,), optimizer="sgd")
    with pytest.raises(ValueError, match="configs: runs that differ"):
        train_stacked([a, RunConfig(dataset="iris", hidden=(8,), optimizer="adam", seed=5)])
    with pytest.raises(ValueError, match=r"configs\[1\]: expected a RunConfig"):
        train_many([a, {"optimizer": "adam"}])
    assert train_stacked([]) == []


def test_cli_compare_prints_a_leaderboard_and_writes_one_row_per_run(tmp_path):
    import json
    import subprocess
    import sys

    import pandas as pd

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"dataset": "iris", "hidden": [8], "epochs": 3, "batch_size": 16, "seed": 4}))
    out = tmp_path / "runs.csv"
    proc = subprocess.run([sys.executable, "-m", "engine", "compare", "--config", str(cfg), "--optimizers",
                           "sgd", "adam", "--seeds", "2", "--csv", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    board = [line.split() for line in proc.stdout.splitlines() if line.split()[:1] in (["sgd"], ["adam"])]
    assert sorted(row[0] for row in board) == ["adam", "sgd"] and all(row[1] == "2" for row in board)
    runs = pd.read_csv(out)
    assert sorted(zip(runs["optimizer"], runs["seed"], strict=True)) == [
        ("adam", 4), ("adam", 5), ("sgd", 4), ("sgd", 5)]
    alone = train(RunConfig(dataset="iris", hidden=(8,), epochs=3, batch_size=16, seed=5, optimizer="adam"))
    row = runs[(runs["optimizer"] == "adam") & (runs["seed"] == 5)].iloc[0]
    assert row["best_val_loss"] == pytest.approx(alone.best_val_loss, rel=1e-12)

    bad = subprocess.run([sys.executable, "-m", "engine", "compare", "--config", str(cfg), "--optimizers",
                          "lbfgs"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "mode" in bad.stderr and "Traceback" not in bad.stderr


def test_each_stacked_run_clocks_its_own_share_of_the_stack():
    import time

    base = dict(dataset="digits", hidden=(32,), batch_size=32, epochs=2)
    configs = [RunConfig(optimizer=o, **base) for o in ("sgd", "adam", "nadam", "rmsprop")]
    t0 = time.perf_counter()
    results = train_stacked(configs)
    wall = time.perf_counter() - t0
    clocks = [r.timings["train_s"] for r in results]
    # the clocks partition the stack's wall time instead of each counting all of it
    assert all(c > 0 for c in clocks)
    assert sum(clocks) <= wall
    for r in results:
        assert r.history["time_s"].is_monotonic_increasing
        assert r.history["time_s"].iloc[-1] == pytest.approx(r.timings["train_s"])
