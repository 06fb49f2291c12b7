"""Sweep page: a tiny equal-budget sweep, its figures, its URL, its work cap, and the store."""

import json
import math

from apptools import charts, no_exception, page, table, texts

from engine.sweep import draw_trials
from ui import cache
from ui import sweep as sweep_ui

TINY = {"dataset": "iris", "hidden": "4", "epochs": "2", "optimizers": "sgd,adam", "trials": "2",
        "seeds": "1"}
N_TINY = 2 * (2 + 1) + 2 * 1  # trials and a seed re-run per optimizer, and a run at the defaults


def tiny(**extra):
    at = page("sweep")
    at.query_params = {**TINY, **extra}
    return at.run()


def sensitivity(at):
    """The sensitivity chart: its spec and data (the chart whose data has a ``chosen`` column)."""
    found = [(spec, data) for spec, data in charts(at) if "chosen" in data]
    assert found, "no sensitivity chart"
    return found[0]


def url(at) -> dict[str, str]:
    """The page's query parameters as plain text."""
    return {k: v[-1] if isinstance(v, list) else v for k, v in at.query_params.items()}


def trained() -> int:
    return cache.orchestrator().trained


def test_a_tiny_sweep_shows_every_figure():
    at = tiny()
    no_exception(at)
    assert at.multiselect(key="sweep_optimizers").value == ["sgd", "adam"]
    assert f"{N_TINY} runs" in texts(at.caption)
    at.button(key="sweep_run").click().run()
    no_exception(at)
    assert trained() == N_TINY
    # the sensitivity plot: one point per trial, each optimizer's pick highlighted
    spec, data = sensitivity(at)
    assert len(data) == 4 and data["phase"].eq("tune").all()
    assert sorted(data["optimizer"]) == ["Adam", "Adam", "SGD (torch)", "SGD (torch)"]
    assert data.groupby("optimizer")["chosen"].sum().tolist() == [1, 1]
    assert spec["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"
    assert {"diamond", "cross"} <= {layer["mark"].get("shape") for layer in spec["layer"]}
    for name, g in data.groupby("optimizer"):  # the pick is the trial with the best score
        assert g.loc[g["chosen"], "score"].iloc[0] == g["score"].min(), name
    # the tuned comparison: curves of the winners' seed re-runs, and the leaderboard
    curves = [d for _, d in charts(at) if "val_loss" in d]
    assert curves and len(set(curves[0]["label"])) == 2
    board = table(at, "score mean")
    assert board["rank"].tolist() == [1, 2] and board["seeds"].tolist() == [1, 1]
    assert board["score mean"].is_monotonic_increasing
    assert all(" ± " in s for s in board["score"])
    assert "time to target (s)" in board and "reached target" in board
    # default vs tuned: both rankings, the defaults at the registry's learning rate
    ranking = table(at, "default rank")
    assert sorted(ranking["default rank"]) == [1, 2] and sorted(ranking["tuned rank"]) == [1, 2]
    assert set(ranking["default"]) == {"lr 0.001"}
    assert all(math.isfinite(v) for v in ranking["default score"])
    # the trial table and the downloads
    trials = table(at, "phase")
    assert len(trials) == 4 + 2 and set(trials["phase"]) == {"tune", "seeds"}
    downloads = [b.label for b in at.get("download_button")]
    assert "Trial table (CSV)" in downloads and "Sweep (JSON)" in downloads


def test_the_result_stays_on_reruns_and_a_second_press_trains_nothing():
    at = tiny()
    at.button(key="sweep_run").click().run()
    assert trained() == N_TINY
    at.toggle(key="sweep_log_y").set_value(True).run()  # a display control: the result stays
    no_exception(at)
    assert len(sensitivity(at)[1]) == 4 and trained() == N_TINY
    at.button(key="sweep_run").click().run()
    no_exception(at)
    assert trained() == N_TINY
    # a shared link in a new session: every run is stored, so Run shows the result at once
    other = tiny()
    assert not [d for _, d in charts(other) if "chosen" in d]  # nothing before Run
    other.button(key="sweep_run").click().run()
    no_exception(other)
    assert trained() == N_TINY
    assert table(other, "score mean")["score mean"].tolist() == table(at, "score mean")["score mean"].tolist()
    # other settings are another sweep: the last result is not shown for them
    at.number_input(key="sweep_trials").set_value(3).run()
    assert not [d for _, d in charts(at) if "chosen" in d]


def test_the_url_reproduces_the_sweep():
    query = {**TINY, "optimizers": "sgd,momentum", "low.lr": "0.001", "high.lr": "0.5",
             "extra": "momentum", "low.momentum": "0.5", "high.momentum": "0.9", "search": "grid",
             "score": "updates_to_target", "target": "0.8"}
    at = tiny(**query)
    no_exception(at)
    assert not at.warning, texts(at.warning)
    assert at.multiselect(key="sweep_optimizers").value == ["sgd", "momentum"]
    assert at.number_input(key="sweep_low.lr").value == 0.001
    assert at.number_input(key="sweep_high.lr").value == 0.5
    assert at.selectbox(key="sweep_extra").value == "momentum"
    assert at.slider(key="sweep_low.momentum").value == 0.5
    assert at.slider(key="sweep_high.momentum").value == 0.9
    assert at.selectbox(key="sweep_search").value == "grid"
    assert at.selectbox(key="sweep_score").value == "updates_to_target"
    assert at.number_input(key="sweep_target").value == 0.8
    assert {k: url(at).get(k) for k in query} == query
    # a changed control is written back
    at.number_input(key="sweep_seeds").set_value(2).run()
    assert url(at)["seeds"] == "2"
    # grid: 2 values per hyperparameter, 2 × 2 trials per optimizer
    caption = texts(at.caption)
    assert f"{2 * (4 + 2) + 2 * 2} runs" in caption, caption
    # the URL the page wrote opens the same sweep in a new session
    again = page("sweep")
    again.query_params = url(at)
    again.run()
    keys = ["sweep_optimizers", "sweep_low.lr", "sweep_high.lr", "sweep_extra", "sweep_low.momentum",
            "sweep_high.momentum", "sweep_trials", "sweep_seeds", "sweep_search", "sweep_score",
            "sweep_target", "sweep_dataset", "sweep_hidden", "sweep_epochs"]
    assert {k: again.session_state[k] for k in keys} == {k: at.session_state[k] for k in keys}
    assert again.session_state["sweep_seeds"] == 2


def test_the_work_cap_refuses_a_huge_sweep():
    at = tiny(optimizers="sgd,momentum,adam,rmsprop", trials="60")
    no_exception(at)
    errors = texts(at.error)
    assert "Trials per optimizer" in errors and "4 optimizers × (60 trials + 1 seed re-runs" in errors
    assert f"= {4 * (60 + 1 + 1)} runs; the limit is {sweep_ui.MAX_RUNS} runs per sweep" in errors
    assert at.button(key="sweep_run").disabled
    # one run over the server's limits is refused too, naming the field
    big = tiny(hidden="4096,4096,4096", dataset="digits")
    assert "hidden: 4096,4096,4096 needs about" in texts(big.error)
    assert big.button(key="sweep_run").disabled
    # a grid over a hyperparameter only some optimizers have: unequal budgets, refused
    grid = tiny(extra="momentum", search="grid")
    assert "unequal budgets" in texts(grid.error)
    assert trained() == 0


def test_a_cancelled_sweep_continues_from_its_stored_trials():
    at = tiny()
    # the trials of SGD finished before the sweep was cancelled
    plan, _ = sweep_ui.plan(
        {**sweep_ui.sidebar.defaults(sweep_ui.START), "dataset": "iris", "hidden": (4,), "epochs": 2},
        sweep_ui.Settings(["sgd", "adam"], {"lr": sweep_ui.LR_RANGE}, None, 2, 1, "random", "val_loss", 0.9),
    )
    done = [plan.base.replace(optimizer="sgd", optimizer_params=p)
            for p in draw_trials("sgd", {"lr": sweep_ui.LR_RANGE}, 2, "random", 0)]
    cache.orchestrator().run(done)
    assert trained() == 2
    at.session_state["_sweep_cancelled"] = True
    at.run()
    no_exception(at)
    assert "Sweep cancelled. 2 of its 4 trials are stored" in texts(at.warning)
    at.button(key="sweep_run").click().run()
    no_exception(at)
    assert trained() == N_TINY  # only the rest trained
    assert len(sensitivity(at)[1]) == 4


def test_the_json_download_is_the_engine_sweep():
    at = tiny()
    at.button(key="sweep_run").click().run()
    out = at.session_state["_sweep_last"]
    doc = json.loads(json.dumps(out["result"].to_dict()))
    assert [t["optimizer"] for t in doc["trials"]].count("sgd") == 3
    assert set(doc["best"]) == {"sgd", "adam"}
    assert doc["settings"]["trials"] == 2 and doc["settings"]["seeds"] == 1
    assert set(out["defaults"]) == {"sgd", "adam"}
    assert all(r.config.optimizer_params["lr"] == 0.001 for rs in out["defaults"].values() for r in rs)


def test_a_diverged_trial_is_kept_marked_and_never_picked():
    # a grid of two learning rates on diabetes: SGD at lr 100 overflows within the first epoch
    at = tiny(dataset="diabetes", search="grid", **{"low.lr": "0.001", "high.lr": "100.0"})
    at.button(key="sweep_run").click().run()
    no_exception(at)
    spec, data = sensitivity(at)
    sgd = data[data["optimizer"] == "SGD (torch)"].set_index("lr")
    assert sorted(sgd.index) == [0.001, 100.0]
    assert sgd.loc[100.0, "status"] == "diverged" and not sgd.loc[100.0, "finite"]
    assert not sgd.loc[100.0, "chosen"] and sgd.loc[0.001, "chosen"]
    crosses = [layer for layer in spec["layer"] if layer["mark"].get("shape") == "cross"]
    assert crosses[0]["encoding"]["y"] == {"value": 0}  # at the top: lower is better
    trials = table(at, "phase")
    assert (trials["status"] == "diverged").any()
    board = table(at, "score mean")
    assert board.set_index("optimizer").loc["SGD (torch)", "tuned"] == "lr 0.001"


def test_the_chart_builders():
    import numpy as np
    import pandas as pd

    from ui import charts as builders

    trials = pd.DataFrame({"optimizer": ["a", "a", "b"], "lr": [0.01, 1.0, 0.1],
                           "score": [0.5, np.inf, 0.2], "status": ["completed", "diverged", "completed"],
                           "chosen": [True, False, True]})
    spec = builders.sensitivity(trials, lower_is_better=False).to_dict()
    data = pd.DataFrame(next(iter(spec["datasets"].values())))
    assert data["finite"].tolist() == [True, False, True]
    assert data["score"].isna().tolist() == [False, True, False]  # drawn by the crosses, not the lines
    crosses = [layer for layer in spec["layer"] if layer["mark"].get("shape") == "cross"]
    assert crosses[0]["encoding"]["y"] == {"value": "height"}  # higher is better: the bottom
    assert len(builders.sensitivity(trials, lines=False).to_dict()["layer"]) == 3
    slopes = pd.DataFrame({"optimizer": ["a", "a", "b", "b"], "setting": ["default", "tuned"] * 2,
                           "score": [np.inf, 0.2, 0.3, 0.25]})
    spec = builders.ranking_slopes(slopes).to_dict()
    assert len(next(iter(spec["datasets"].values()))) == 3  # the diverged default is left out


def test_a_second_hyperparameter_gets_its_own_sensitivity_plot():
    at = tiny(optimizers="sgd,momentum", extra="momentum", **{"low.momentum": "0.5", "high.momentum": "0.9"})
    at.button(key="sweep_run").click().run()
    no_exception(at)
    found = [(spec, data) for spec, data in charts(at) if "chosen" in data]
    assert len(found) == 2
    (by_lr, data), (by_momentum, _) = found
    assert data["momentum"].between(0.5, 0.9).all() and len(data) == 4
    assert by_momentum["layer"][0]["encoding"]["x"]["field"] == "momentum"
    assert by_momentum["layer"][0]["encoding"]["x"]["scale"]["type"] == "linear"  # its spec's scale
    assert not any(layer["mark"]["type"] == "line" for layer in by_lr["layer"])  # points only
    board = table(at, "score mean")
    assert all(t.startswith("lr ") and ", momentum " in t for t in board["tuned"])
