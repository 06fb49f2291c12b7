"""The training loop: modes, budgets, determinism, divergence, early stopping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import RunConfig, optim, train
from engine.data import REGISTRY as DATASETS
from engine.data import split_sizes

TIME_COLUMNS = ["time_s"]


def small(**kw) -> RunConfig:
    base = dict(dataset="iris", hidden=(8,), optimizer="adam", epochs=3, batch_size=16)
    base.update(kw)
    return RunConfig(**base)


def test_digits_adam_minibatch_reaches_95_percent():
    cfg = RunConfig(dataset="digits", hidden=(128,), optimizer="adam",
                    optimizer_params={"lr": 1e-3}, mode="minibatch", batch_size=32, epochs=20)
    result = train(cfg)
    assert result.status == "completed"
    assert result.history["val_acc"].iloc[-1] >= 0.95
    assert result.test_metrics["test_acc"] >= 0.9


def test_history_has_every_axis_and_diagnostic():
    result = train(small(hidden=(8, 6)))
    h = result.history
    for col in ["epoch", "updates", "samples_seen", "time_s", "lr", "train_loss", "val_loss",
                "train_acc", "val_acc", "update_ratio", "grad_norm_layer1", "grad_norm_layer2",
                "grad_norm_output", "state_norm_exp_avg", "state_norm_exp_avg_sq"]:
        assert col in h.columns, col
    assert list(h["epoch"]) == [0, 1, 2, 3]
    n_train = split_sizes(DATASETS["iris"], {}, 0.2, 0.2)[0]
    per_epoch = math.ceil(n_train / 16)
    assert list(h["updates"]) == [0, per_epoch, 2 * per_epoch, 3 * per_epoch]
    assert list(h["samples_seen"]) == [0, n_train, 2 * n_train, 3 * n_train]
    assert h["time_s"].is_monotonic_increasing
    assert (h["update_ratio"].iloc[1:] > 0).all()


@pytest.mark.parametrize("mode", ["batch", "sgd", "minibatch"])
def test_modes_set_the_batch_size(mode):
    result = train(small(mode=mode, epochs=2))
    n_train = split_sizes(DATASETS["iris"], {}, 0.2, 0.2)[0]
    expected = {"batch": 1, "sgd": n_train, "minibatch": math.ceil(n_train / 16)}[mode]
    assert result.history["updates"].iloc[1] == expected
    assert result.timings["updates_per_epoch"] == expected


@pytest.mark.parametrize("name", sorted(optim.REGISTRY))
def test_every_optimizer_runs_on_digits(name):
    mode = "batch" if optim.REGISTRY[name].extra.get("full_batch_only") else "minibatch"
    result = train(RunConfig(dataset="digits", hidden=(16,), optimizer=name, mode=mode,
                             batch_size=64, epochs=2))
    assert result.status in ("completed", "diverged")
    assert len(result.history) >= 2
    assert np.isfinite(result.history["val_loss"].iloc[0])


def test_same_config_is_bit_identical_and_seed_matters():
    a, b = train(small(epochs=4)), train(small(epochs=4))
    cols = [c for c in a.history.columns if c not in TIME_COLUMNS]
    assert a.history[cols].equals(b.history[cols])
    assert np.array_equal(a.params, b.params)
    c = train(small(epochs=4, seed=1))
    assert not np.array_equal(a.params, c.params)
    assert not a.history["val_loss"].equals(c.history["val_loss"])


def test_sgd_with_lr_100_diverges_cleanly():
    cfg = RunConfig(dataset="digits", hidden=(32,), optimizer="sgd", optimizer_params={"lr": 100.0},
                    batch_size=32, epochs=5)
    result = train(cfg)
    assert result.status == "diverged"
    assert isinstance(result.diverged_at, int) and result.diverged_at >= 1
    assert str(result.diverged_at) in result.stop_reason
    assert len(result.history) >= 1  # the history up to divergence is kept


def test_max_updates_budget():
    result = train(small(max_updates=7, epochs=1))
    assert result.history["updates"].iloc[-1] == 7


def test_replacement_sampling_runs_and_differs_from_shuffle():
    a = train(small(sampling="shuffle"))
    b = train(small(sampling="replacement"))
    assert b.status == "completed"
    assert not np.array_equal(a.params, b.params)


def test_eval_every_adds_rows_inside_epochs():
    n_train = split_sizes(DATASETS["iris"], {}, 0.2, 0.2)[0]
    per_epoch = math.ceil(n_train / 16)
    result = train(small(epochs=2, eval_every=2))
    ups = list(result.history["updates"])
    assert ups[0] == 0 and ups[-1] == 2 * per_epoch
    assert len(ups) > 3
    assert ups == sorted(ups)


def test_early_stopping_restores_best():
    cfg = RunConfig(dataset="moons", dataset_params={"n_samples": 200, "noise": 0.3}, hidden=(64, 64),
                    optimizer="sgd", optimizer_params={"lr": 0.5, "momentum": 0.9}, batch_size=8,
                    epochs=200, early_stopping=True, patience=3, restore_best=True)
    result = train(cfg)
    assert result.status == "early_stopped"
    assert result.history["epoch"].iloc[-1] < 200
    best = result.history["val_loss"].idxmin()
    assert result.best_epoch == result.history.loc[best, "epoch"]
    # the restored params reproduce the best validation loss
    from engine import data
    from engine.nn import MLP
    ds = data.load(cfg.dataset, cfg.dataset_params, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    net = MLP(ds.n_features, cfg.hidden, ds.n_outputs, cfg.activation, ds.output)
    assert net.loss(result.params, ds.X_val, ds.Y_val, result.model_state) == pytest.approx(
        result.history.loc[best, "val_loss"], rel=1e-12)


def test_callback_every_epoch_and_stop():
    seen = []
    result = train(small(epochs=5), callback=lambda p: seen.append(p["epoch"]))
    assert seen == [1, 2, 3, 4, 5]
    assert result.status == "completed"
    stopped = train(small(epochs=5), callback=lambda p: p["epoch"] < 2)
    assert stopped.status == "interrupted"
    assert stopped.history["epoch"].iloc[-1] == 2


def test_clip_norm_caps_the_global_gradient_norm():
    result = train(small(clip_norm=0.05, optimizer="sgd", optimizer_params={"lr": 0.1}))
    h = result.history.iloc[1:]
    gcols = [c for c in h.columns if c.startswith("grad_norm_")]
    total = np.sqrt((h[gcols] ** 2).sum(axis=1))
    assert (total <= 0.05 + 1e-12).all()


def test_clip_value_caps_each_entry():
    result = train(small(clip_value=1e-4, optimizer="sgd", optimizer_params={"lr": 0.1}))
    h = result.history.iloc[1:]
    n_params = result.params.size
    gcols = [c for c in h.columns if c.startswith("grad_norm_")]
    total = np.sqrt((h[gcols] ** 2).sum(axis=1))
    assert (total <= 1e-4 * math.sqrt(n_params) + 1e-12).all()


def test_float32_run_stays_float32():
    result = train(small(dtype="float32", optimizer="adam"))
    assert result.params.dtype == np.float32
    assert all(v.dtype == np.float32 for v in result.opt_state.values() if isinstance(v, np.ndarray))


def test_regression_reports_r2():
    result = train(RunConfig(dataset="diabetes", hidden=(16,), optimizer="adam",
                             optimizer_params={"lr": 1e-2}, epochs=5, batch_size=32))
    assert "val_r2" in result.history and "val_acc" not in result.history
    assert "test_r2" in result.test_metrics


def test_schedule_drives_the_lr_column():
    result = train(small(optimizer="sgd", optimizer_params={"lr": 0.1}, schedule="exponential",
                         schedule_params={"gamma": 0.9}, mode="batch", epochs=3))
    # full batch: one update per epoch, lr for update t is 0.1 * 0.9**t
    assert result.history["lr"].iloc[1:].tolist() == pytest.approx([0.1 * 0.9**t for t in (1, 2, 3)])


def test_lbfgs_refused_outside_full_batch():
    with pytest.raises(ValueError, match="mode"):
        small(optimizer="lbfgs", mode="minibatch")
    result = train(small(optimizer="lbfgs", mode="batch", epochs=3))
    assert result.history["val_loss"].iloc[-1] < result.history["val_loss"].iloc[0]


@pytest.mark.parametrize("kwargs, field", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 100_000}, "batch_size"),
    ({"optimizer_params": {"lr": -0.1}}, "optimizer_params.lr"),
    ({"optimizer_params": {"betas": (0.9, 1.0)}}, "optimizer_params.betas"),
    ({"optimizer_params": {"betas": (-0.1, 0.9)}}, "optimizer_params.betas"),
    ({"optimizer": "adamm"}, "optimizer"),
    ({"hidden": (0,)}, "hidden"),
    ({"hidden": (8, 0)}, "hidden"),
    ({"mode": "online"}, "mode"),
    ({"dtype": "float16"}, "dtype"),
    ({"epochs": 0}, "epochs"),
    ({"dataset": "mnist"}, "dataset"),
    ({"activation": "swish"}, "activation"),
])
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(ValueError) as info:
        small(**kwargs)
    msg = str(info.value)
    assert msg.startswith(field), msg
    assert "allowed" in msg


def test_unknown_optimizer_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        small(optimizer="adamm")
    for name in ("adam", "sgd", "rmsprop", "lbfgs"):
        assert name in str(info.value)


def test_batch_size_error_gives_the_training_size():
    n_train = split_sizes(DATASETS["iris"], {}, 0.2, 0.2)[0]
    with pytest.raises(ValueError, match=str(n_train)):
        small(batch_size=n_train + 1)


def test_config_key_is_stable_and_fills_defaults():
    a = RunConfig(optimizer="adam")
    b = RunConfig(optimizer="adam", optimizer_params={"lr": 1e-3})
    assert a.key() == b.key()
    assert a.key() != RunConfig(optimizer="adam", seed=1).key()
    assert RunConfig.from_dict(a.to_dict()) == a
    assert RunConfig.from_dict(a.to_dict()).key() == a.key()


def test_plateau_schedule_lowers_the_lr_when_validation_stalls():
    cfg = small(optimizer="sgd", optimizer_params={"lr": 0.5}, mode="batch", epochs=40,
                schedule="plateau", schedule_params={"factor": 0.5, "patience": 1, "threshold": 0.5})
    result = train(cfg)
    lrs = result.history["lr"].iloc[1:]
    assert lrs.iloc[0] == 0.5
    assert lrs.min() < 0.5  # a threshold of 50 % makes almost every epoch "no improvement"
    assert lrs.is_monotonic_decreasing


# -- the loop's parts ----------------------------------------------------------------------------
def _stream(n: int, b: int, sampling: str, seed: int = 0):
    from engine.loop.batches import Batches

    X = np.arange(n, dtype=float)[:, None] * np.ones((1, 3))
    Y = np.eye(4)[np.arange(n) % 4]
    y = np.arange(n)
    return Batches(X, Y, y, b, sampling, np.random.default_rng(seed))


@pytest.mark.parametrize("n, b", [(10, 3), (12, 4), (7, 1), (9, 9)])
def test_shuffled_batches_see_every_sample_once_per_epoch(n, b):
    stream = _stream(n, b, "shuffle")
    orders = []
    for _ in range(3):
        rows = []
        for Xb, Yb in stream.epoch(stream.per_epoch):
            assert 1 <= Xb.shape[0] <= b and Yb.shape[0] == Xb.shape[0]
            assert np.array_equal(np.eye(4)[Xb[:, 0].astype(int) % 4], Yb)  # rows stay paired
            rows += Xb[:, 0].astype(int).tolist()
        assert sorted(rows) == list(range(n))
        assert np.array_equal(stream.labels, rows)  # the labels in the order they were seen
        orders.append(rows)
    if b < n:
        assert orders[0] != orders[1]  # a new permutation every epoch


def test_replacement_batches_are_drawn_one_by_one_and_stop_at_the_limit():
    stream = _stream(10, 4, "replacement", seed=1)
    batches = [Xb[:, 0].astype(int).tolist() for Xb, _ in stream.epoch(2)]
    assert len(batches) == 2
    assert all(len(set(rows)) == 4 for rows in batches)  # distinct within a batch
    assert stream.labels[:8].tolist() == batches[0] + batches[1]
    # only the batches asked for are drawn: the generator is where two draws leave it
    rng = np.random.default_rng(1)
    rng.choice(10, size=4, replace=False), rng.choice(10, size=4, replace=False)
    assert stream.rng.bit_generator.state == rng.bit_generator.state


def test_the_budget_cuts_an_epoch_short():
    stream = _stream(10, 3, "shuffle")
    assert len(list(stream.epoch(2))) == 2
    assert len(list(stream.epoch(10))) == stream.per_epoch == 4


def test_early_stopping_counts_bad_epochs_and_keeps_the_best_params():
    from engine.loop.stopping import EarlyStopping

    params = np.zeros(3)
    es = EarlyStopping("val_loss", min_delta=0.1, patience=2, enabled=True, best_params=params.copy())
    assert es.update(1.0, 1, params + 1) is False and es.best_epoch == 1
    assert es.update(0.95, 2, params + 2) is False  # better, but not by more than min_delta
    assert es.bad_epochs == 1 and np.array_equal(es.best_params, params + 1)
    assert es.update(0.5, 3, params + 3) is False and es.bad_epochs == 0
    assert es.update(0.6, 4, params + 4) is False
    assert es.update(0.45, 5, params + 5) is True  # two bad epochs in a row
    assert es.best_epoch == 3 and es.best_score == 0.5
    out = np.zeros(3)
    es.restore(out)
    assert np.array_equal(out, params + 3)
    assert "epoch 3" in es.reason() and "restored" in es.reason()


def test_early_stopping_off_still_tracks_the_best_and_val_metric_counts_higher_as_better():
    from engine.loop.stopping import EarlyStopping

    es = EarlyStopping("val_metric", patience=1, enabled=False)
    assert es.score(0.3, 0.9) == -0.9
    assert es.update(es.score(0.3, 0.9), 1, np.zeros(2)) is False
    assert es.update(es.score(0.2, 0.8), 2, np.zeros(2)) is False  # worse metric, but never stops
    assert (es.best_epoch, es.bad_epochs) == (1, 1)
    out = np.ones(2)
    es.restore(out)  # nothing kept, nothing restored
    assert np.array_equal(out, np.ones(2))


def test_divergence_is_one_check_for_losses_and_parameters():
    from engine.loop.update import divergence

    assert divergence("training loss", 0.5, 3) is None
    assert divergence("parameters", np.ones(4), 3) is None
    msg = divergence("training loss", math.inf, 7)
    assert msg.startswith("The training loss became inf at update 7;")
    bad = np.ones(4)
    bad[2] = np.nan
    assert divergence("parameters", bad, 9).startswith("The parameters became non-finite at update 9;")
    assert "validation loss became nan" in divergence("validation loss", math.nan, 2)


def test_clip_by_value_then_by_norm():
    from engine.loop.update import clip

    g = np.array([3.0, -4.0, 0.5])
    clip(g, clip_value=2.0, clip_norm=0.0)
    assert g.tolist() == [2.0, -2.0, 0.5]
    g = np.array([3.0, -4.0])
    clip(g, clip_value=0.0, clip_norm=1.0)
    np.testing.assert_allclose(g, [0.6, -0.8], rtol=1e-15)
    g = np.array([0.3, 0.4])
    clip(g, clip_value=0.0, clip_norm=1.0)  # under the cap: untouched
    assert g.tolist() == [0.3, 0.4]


def test_split_evaluator_equals_a_fresh_evaluation_and_reuses_its_buffers():
    from engine import data
    from engine.loop.evaluation import SplitEvaluator
    from engine.nn import MLP

    for name, dataset, params in [("softmax", "iris", {}), ("sigmoid", "moons", {}),
                                  ("identity", "diabetes", {})]:
        ds = data.load(dataset, params, 0.2, 0.2, 0, "float64")
        net = MLP(ds.n_features, (5,), ds.n_outputs, "tanh", ds.output)
        p = net.init_params(np.random.default_rng(2))
        ev = SplitEvaluator(net, ds.X_val, ds.Y_val, ds.y_val, ds.task)
        loss, out = net.evaluate(p, ds.X_val, ds.Y_val)
        assert ev(p, None)[0] == loss, name
        assert np.array_equal(ev.out, out), name
        buf = ev.out
        ev(p * 2, None)
        assert ev.out is buf  # evaluated again into the same buffer
        if ds.task != "regression":
            pred = out.argmax(axis=1) if out.shape[1] > 1 else (out[:, 0] >= 0.5).astype(int)
            assert ev(p, None)[1] == float(np.mean(pred == ds.y_val)), name


def test_history_update_ratio_and_grad_norms_by_hand():
    from engine.loop.history import History
    from engine.nn import MLP

    net = MLP(2, (3,), 2)
    opt = optim.create("sgd")
    p = np.arange(net.n_params, dtype=float)
    h = History(net, opt, p, "val_acc", classify=True)
    h.prev[:] = p
    p2 = p + 0.5
    assert h.update_ratio(p2) == math.sqrt(net.n_params * 0.25) / math.sqrt(float(np.dot(p, p)))
    g = np.ones(net.n_params)
    d = h.diagnostics(g, {})
    assert d == {"grad_norm_layer1": math.sqrt(9), "grad_norm_output": math.sqrt(8)}
