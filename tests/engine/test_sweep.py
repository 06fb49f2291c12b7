"""Sweeps: equal budgets, reproducible trials, diverged trials scored worst, seed re-runs; stacked
learning-rate sweeps bit-identical to single runs for every optimizer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import RunConfig, optim, train
from engine.stacked import train_many

TINY = dict(dataset="iris", hidden=(4,), epochs=3, batch_size=16)


def _same(a, b) -> None:
    """Everything but the wall-clock times is bit-identical."""
    assert (a.status, a.stop_reason, a.diverged_at, a.best_epoch) == (b.status, b.stop_reason, b.diverged_at,
                                                                       b.best_epoch)
    np.testing.assert_array_equal(a.params, b.params)
    cols = [c for c in b.history.columns if c != "time_s"]
    assert a.history[cols].equals(b.history[cols])
    assert a.test_metrics == b.test_metrics and a.key == b.key
    for k, v in b.opt_state.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(a.opt_state[k], v, err_msg=k)
        else:
            assert a.opt_state[k] == v or (math.isnan(a.opt_state[k]) and math.isnan(v)), k


def _lr_sweep(name: str, extra: dict | None = None, **kw) -> list[RunConfig]:
    """Four learning rates around the default, the largest far too large (it diverges)."""
    spec = optim.REGISTRY[name]
    lr0 = spec.hyper("lr").default if "lr" in spec.defaults() else None
    mode = {"mode": "batch"} if spec.extra.get("full_batch_only") else {}
    base = {**TINY, **mode, **kw}
    if lr0 is None:  # no learning rate: the sweep is over another hyperparameter's defaults
        return [RunConfig(optimizer=name, **base) for _ in range(2)]
    lrs = [lr0 * f for f in (0.3, 1.0, 3.0, 1e4)]
    return [RunConfig(optimizer=name, optimizer_params={**(extra or {}), "lr": min(lr, 900.0)}, **base)
            for lr in lrs]


@pytest.mark.parametrize("name", list(optim.REGISTRY))
def test_stacked_lr_sweep_is_bit_identical_for_every_optimizer(name):
    configs = _lr_sweep(name)
    for stacked, c in zip(train_many(configs), configs, strict=True):
        _same(stacked, train(c))


@pytest.mark.parametrize("name, extra", [
    ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("sgd", {"momentum": 0.5, "dampening": 0.3, "maximize": False}), ("adam", {"amsgrad": True}),
    ("adam", {"betas": (0.2, 0.9)}), ("adamw", {"weight_decay": 0.1}),
    ("adam", {"decoupled_weight_decay": True, "weight_decay": 0.05}),
])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vectorised_steps_are_bit_identical(name, extra, dtype, monkeypatch):
    cls = type(optim.create(name))
    calls = []
    real = cls.stack_step
    monkeypatch.setattr(cls, "stack_step",
                        lambda self, opts, *a: calls.append(len(opts)) or real(self, opts, *a))
    configs = _lr_sweep(name, extra, dtype=dtype, epochs=4)
    # a run that stops early leaves the others stepping together, then one by one
    configs[0] = configs[0].replace(epochs=1)
    configs[1] = configs[1].replace(epochs=2)
    results = train_many(configs)
    for stacked, c in zip(results, configs, strict=True):
        _same(stacked, train(c))
    assert calls and max(calls) == len(configs)  # the runs did step together


def test_mixed_optimizers_in_one_stack_keep_their_order():
    configs = [RunConfig(optimizer=o, optimizer_params={"lr": lr}, **TINY)
               for o, lr in [("adam", 1e-2), ("sgd", 0.1), ("adam", 1e-3), ("rmsprop", 1e-3), ("sgd", 0.01)]]
    results = train_many(configs)
    assert [r.key for r in results] == [c.key() for c in configs]
    for r, c in zip(results, configs, strict=True):
        _same(r, train(c))
    assert all(math.isfinite(r.best_val_loss) for r in results)


# --------------------------------------------------------------------------
# the sweep

from engine.runs import Orchestrator  # noqa: E402
from engine.store import RunStore  # noqa: E402
from engine.sweep import draw_trials, score_run, sweep  # noqa: E402

BASE = RunConfig(**TINY)


def _table(result):
    return result.trials.drop(columns=["optimizer_params"])


@pytest.mark.parametrize("search", ["random", "grid"])
def test_trials_are_reproducible_and_every_optimizer_gets_the_same_budget(search):
    space = {"lr": (1e-3, 1.0), "momentum": (0.0, 0.9)}
    kw = dict(space={"lr": (1e-3, 1.0)} if search == "grid" else space, trials=3, seeds=1, search=search)
    a = sweep(BASE, ["sgd", "adam", "rmsprop"], **kw)
    b = sweep(BASE, ["sgd", "adam", "rmsprop"], **kw)
    assert _table(a).equals(_table(b)) and a.best == b.best
    tune = a.trials[a.trials.phase == "tune"]
    assert tune.groupby("optimizer").size().to_dict() == {"sgd": 3, "adam": 3, "rmsprop": 3}
    if search == "grid":  # log-spaced on the learning rate's log scale, ends included
        assert np.allclose(sorted(tune[tune.optimizer == "adam"].lr), [1e-3, 10**-1.5, 1.0])
    else:  # the same draws for every optimizer with the same space; momentum only where it exists
        lrs = {name: list(g.lr) for name, g in tune.groupby("optimizer")}
        assert lrs["sgd"] == lrs["rmsprop"] and all(1e-3 <= x <= 1.0 for x in lrs["adam"])
        assert tune[tune.optimizer == "sgd"].momentum.notna().all()  # sgd and rmsprop search it
        assert tune[tune.optimizer == "adam"].momentum.isna().all()
    other = draw_trials("adam", {"lr": (1e-3, 1.0)}, 3, "random", random_state=1)
    assert other != draw_trials("adam", {"lr": (1e-3, 1.0)}, 3, "random", random_state=0)


def test_random_learning_rates_are_log_uniform():
    lrs = np.log10([p["lr"] for p in draw_trials("sgd", {"lr": (1e-4, 1.0)}, 400, "random", 0)])
    # a quarter of the draws in each quarter of the decades, not most of them in the last decade
    counts = np.histogram(lrs, bins=4, range=(-4, 0))[0]
    assert counts.min() > 70 and counts.max() < 130


def test_a_diverged_trial_is_scored_worst_and_listed():
    # a regression with a mean-squared loss overflows fast at a large learning rate
    base = BASE.replace(dataset="diabetes")
    result = sweep(base, ["sgd"], space={"lr": (1e-3, 100.0)}, trials=6, seeds=2, search="grid")
    tune = result.trials[result.trials.phase == "tune"]
    diverged = tune[tune.status == "diverged"]
    assert len(diverged) >= 1 and len(tune) == 6
    assert (diverged.score == math.inf).all()
    best = result.best["sgd"]
    assert best["trial_score"] == tune.score.min() and math.isfinite(best["trial_score"])
    assert best["optimizer_params"]["lr"] not in set(diverged.lr)
    # where higher is better a diverged trial scores -inf, still the worst
    r = result.results[diverged.key.iloc[0]]
    assert score_run(r, "val_metric") == -math.inf and score_run(r, "best_val_loss") == math.inf
    assert result.to_dict()["trials"][int(diverged.index[0])]["score"] is None  # JSON has no inf


def test_the_winner_is_re_run_over_distinct_new_seeds():
    result = sweep(BASE.replace(seed=7), ["adam", "sgd"], space={"lr": (1e-3, 0.5)}, trials=3, seeds=3)
    for name, best in result.best.items():
        assert best["seeds"] == [8, 9, 10]  # distinct, and none is the tuning seed
        runs = result.trials[(result.trials.optimizer == name) & (result.trials.phase == "seeds")]
        assert list(runs.seed) == best["seeds"] and list(runs.score) == best["scores"]
        assert len(set(runs.key)) == 3
        assert best["score_mean"] == pytest.approx(np.mean(best["scores"]))
        assert best["score_std"] == pytest.approx(np.std(best["scores"], ddof=1))
        winner = result.trials.loc[(result.trials.optimizer == name) & (result.trials.phase == "tune")]
        assert best["optimizer_params"]["lr"] == winner.loc[winner.score.idxmin(), "lr"]
    board = result.leaderboard()
    assert list(board.score_mean) == sorted(board.score_mean)


def test_scores_read_the_history():
    r = train(BASE.replace(epochs=5, optimizer="adam", optimizer_params={"lr": 0.05}))
    h = r.history
    assert score_run(r, "val_loss") == h.val_loss.iloc[-1]
    assert score_run(r, "best_val_loss") == h.val_loss.min()
    assert score_run(r, "val_metric") == h.val_acc.iloc[-1]
    assert score_run(r, "best_val_metric") == h.val_acc.max()
    target = float(h.val_acc.iloc[2])
    first = h[h.val_acc >= target].iloc[0]
    assert score_run(r, "updates_to_target", target) == first.updates
    assert score_run(r, "time_to_target", target) == first.time_s
    assert score_run(r, "updates_to_target", 1.5) == math.inf  # never reached: worst
    with pytest.raises(ValueError, match="target"):
        score_run(r, "updates_to_target")


def test_bad_sweeps_name_the_field():
    with pytest.raises(ValueError, match="score: 'accuracy'"):
        sweep(BASE, ["sgd"], score="accuracy")
    with pytest.raises(ValueError, match="search: 'bayes'"):
        sweep(BASE, ["sgd"], search="bayes")
    with pytest.raises(ValueError, match="trials: 0"):
        sweep(BASE, ["sgd"], trials=0)
    with pytest.raises(ValueError, match=r"space.lr \(sgd\)"):
        sweep(BASE, ["sgd"], space={"lr": (-1.0, 1.0)})
    with pytest.raises(ValueError, match="unequal budgets"):
        sweep(BASE, ["sgd", "adam"], space={"lr": (1e-3, 1.0), "momentum": (0.0, 0.9)}, search="grid")
    with pytest.raises(ValueError, match="none of the searched"):
        sweep(BASE, ["adam"], space={"momentum": (0.0, 0.9)})


def test_a_cancelled_sweep_keeps_its_finished_trials(tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    finished = []

    def progress(p):
        if p["trial"] is not None:
            finished.append(p["trial"]["key"])

    # different seeds are different stacked groups: the sweep stops after the first group
    configs = {"lr": (1e-3, 0.1)}
    result = sweep(BASE, ["sgd", "adam"], space=configs, trials=2, seeds=2,
                   orchestrator=Orchestrator(store), progress=progress,
                   should_stop=lambda: len(finished) >= 4)
    assert result.cancelled and result.best == {}
    tune = result.trials[result.trials.phase == "tune"]
    assert len(tune) == 4 and (tune.status == "completed").all()
    assert len(store) == 4 and set(store.list().key) == set(finished)
    # asking again trains only what is missing: the seed re-runs
    orch = Orchestrator(RunStore(tmp_path / "s.sqlite"))
    again = sweep(BASE, ["sgd", "adam"], space=configs, trials=2, seeds=2, orchestrator=orch)
    assert not again.cancelled and orch.trained == 4
    assert list(again.trials.key[:4]) == list(tune.key)


def test_progress_reaches_one():
    seen = []
    sweep(BASE, ["sgd"], space={"lr": (1e-3, 0.1)}, trials=2, seeds=1, progress=seen.append)
    fractions = [p["fraction"] for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert sum(p["trial"] is not None for p in seen) == 3


# --------------------------------------------------------------------------
# the command line


def test_cli_sweep_writes_trials_and_best(tmp_path, capsys, monkeypatch):
    import json

    from engine.__main__ import main

    monkeypatch.setenv("OPTLAB_STORE", str(tmp_path / "runs.sqlite"))
    cfg = tmp_path / "base.json"
    cfg.write_text(json.dumps({**TINY, "hidden": [4], "optimizer_params": {"lr": 5}}))
    out, csv = tmp_path / "sweep.json", tmp_path / "trials.csv"
    code = main(["sweep", "--config", str(cfg), "--optimizers", "sgd", "adam", "--lr", "1e-3", "0.5",
                 "--trials", "2", "--seeds", "2", "--jobs", "1", "--out", str(out), "--csv", str(csv)])
    assert code == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[")]
    assert len(lines) == 2 * 2 + 2 * 2  # one line per finished run
    doc = json.loads(out.read_text())
    assert len(doc["trials"]) == 8
    assert set(doc["trials"][0]) >= {"optimizer", "optimizer_params", "seed", "status", "score", "key"}
    assert set(doc["best"]) == {"sgd", "adam"}
    assert set(doc["best"]["adam"]) >= {"optimizer_params", "score_mean", "score_std", "seeds", "scores"}
    import pandas as pd

    assert len(pd.read_csv(csv)) == 8
    # the same sweep again reads every run from the store
    again = tmp_path / "again.json"
    main(["sweep", "--config", str(cfg), "--optimizers", "sgd", "adam", "--lr", "1e-3", "0.5",
          "--trials", "2", "--seeds", "2", "--jobs", "1", "--out", str(again)])
    assert json.loads(again.read_text())["best"] == doc["best"]


@pytest.mark.parametrize("where", ["missing/sweep.json", "."])
def test_cli_sweep_checks_the_output_before_training(tmp_path, capsys, monkeypatch, where):
    import json

    from engine.__main__ import main

    monkeypatch.setenv("OPTLAB_STORE", str(tmp_path / "runs.sqlite"))
    cfg = tmp_path / "base.json"
    cfg.write_text(json.dumps({**TINY, "hidden": [4]}))
    code = main(["sweep", "--config", str(cfg), "--optimizers", "sgd", "--jobs", "1",
                 "--out", str(tmp_path / where)])
    assert code == 2
    err = capsys.readouterr()
    assert "--out" in err.err and "[" not in err.out
    assert not (tmp_path / "runs.sqlite").exists()
