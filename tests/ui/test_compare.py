"""Compare page: optimizers side by side, copies, seeds, leaderboard."""

import json
import math

from apptools import charts, no_exception, page, series, table, texts

from engine import optim
from ui import defaults

TINY = {"dataset": "iris", "hidden": "8", "epochs": "2", "batch_size": "16"}


def tiny(**extra):
    at = page("compare")
    at.query_params = {**TINY, **extra}
    return at.run()


def leaderboard(at):
    return table(at, "best val loss")


def test_defaults_render_with_six_optimizers():
    at = page("compare").run()
    no_exception(at)
    chosen = at.multiselect(key="compare_optimizers").value
    assert chosen == ["sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad"]
    # SGD starts from torch's defaults (no momentum): momentum is its own entry
    assert at.slider(key="compare_opt.sgd.momentum").value == optim.REGISTRY["sgd"].defaults()[
        "momentum"] == 0
    assert at.button(key="compare_run").label == "Run comparison"
    assert len(at.expander) >= len(chosen)
    assert at.number_input(key="train_epochs") if False else True
    assert at.number_input(key="compare_epochs").value == 20
    assert at.number_input(key="compare_batch_size").value == 32
    assert at.text_input(key="compare_hidden").value == "64"
    assert at.selectbox(key="compare_dataset").value == "digits"
    # the first open shows the default comparison, the one the server warms up at start
    assert charts(at) and len(leaderboard(at)) == 6
    last = at.session_state["compare_last"]
    shown = {json.loads(text)["optimizer"]: json.loads(text) for _, _, text, _ in last}
    warmed = {c.optimizer: json.loads(c.to_json()) for c in defaults.compare_configs()}
    assert shown == warmed
    # the first change keeps the comparison on screen, marked as the previous one
    at.number_input(key="compare_epochs").set_value(21).run()
    no_exception(at)
    assert "The settings changed" in texts(at.info) and charts(at)


def test_run_two_optimizers_and_read_the_leaderboard():
    at = tiny(optimizers="sgd,adam")
    at.number_input(key="compare_opt.adam.lr").set_value(0.01).run()
    at.button(key="compare_run").click().run()
    no_exception(at)
    board = leaderboard(at)
    assert sorted(board["optimizer"]) == ["Adam · lr 0.01", "SGD (torch) · lr 0.05"]
    assert board["rank"].tolist() == [1, 2]
    assert all(math.isfinite(v) for v in board["best val loss"])
    assert not board["diverged"].any()
    curves = charts(at)[0]
    assert series(curves, "label") == {"Adam · lr 0.01", "SGD (torch) · lr 0.05"}
    facets = [s for s, _ in charts(at) if "facet" in s]
    assert facets, "no small-multiples chart"


def test_the_legend_names_the_setting_that_differs():
    """SGD against SGD with momentum: the legend says momentum, not only the learning rate."""
    at = tiny(optimizers="sgd,sgd#2", **{"opt.sgd#2.momentum": "0.9"})
    at.button(key="compare_run").click().run()
    no_exception(at)
    assert sorted(leaderboard(at)["optimizer"]) == ["SGD (torch) · momentum 0",
                                                    "SGD (torch) · momentum 0.9"]


def test_a_copy_of_one_optimizer_with_other_settings():
    at = tiny(optimizers="adam")
    at.selectbox(key="compare_copy_of").set_value("adam")
    at.button(key="compare_add_copy").click().run()
    assert at.multiselect(key="compare_optimizers").value == ["adam", "adam#2"]
    at.number_input(key="compare_opt.adam#2.lr").set_value(0.02).run()
    at.button(key="compare_run").click().run()
    no_exception(at)
    assert sorted(leaderboard(at)["optimizer"]) == ["Adam · lr 0.001", "Adam · lr 0.02"]
    assert at.query_params["optimizers"] in ("adam,adam#2", ["adam,adam#2"])


def test_seeds_give_a_mean_and_band():
    at = tiny(optimizers="adam", seeds="2", band="minmax")
    at.button(key="compare_run").click().run()
    no_exception(at)
    spec, data = charts(at)[0]
    assert spec["layer"][0]["mark"]["type"] == "area"
    assert (data["runs"] == 2).all()
    assert leaderboard(at)["seeds"].tolist() == [2]


def test_url_round_trip_and_malformed_entries():
    at = tiny(optimizers="adam,adam#2", **{"opt.adam#2.lr": "0.01", "target": "0.5"})
    no_exception(at)
    assert at.multiselect(key="compare_optimizers").value == ["adam", "adam#2"]
    assert at.number_input(key="compare_opt.adam#2.lr").value == 0.01
    assert at.number_input(key="compare_target").value == 0.5
    bad = tiny(optimizers="adam,warp_drive", seeds="9")
    no_exception(bad)
    assert "`optimizers`" in texts(bad.warning) and "`seeds`" in texts(bad.warning)
    assert bad.number_input(key="compare_seeds").value == 1


def test_a_full_batch_only_optimizer_in_mini_batch_mode_is_explained():
    full = [n for n, s in optim.REGISTRY.items() if s.extra.get("full_batch_only")]
    if not full:
        return
    at = tiny(optimizers=f"adam,{full[0]}")
    no_exception(at)
    assert "optimizer" in texts(at.error) and "full-batch" in texts(at.error)
    assert not at.button(key="compare_run").disabled  # adam can still run


def test_one_click_trains_the_missing_runs_as_one_stack_equal_to_single_runs(monkeypatch):
    import engine
    from ui import cache

    stacks: list[list[str]] = []
    real_many = engine.train_many

    def recording(configs, callback=None, should_stop=None):
        stacks.append([c.optimizer for c in configs])
        return real_many(configs, callback, should_stop)

    monkeypatch.setattr(engine, "train_many", recording)
    at = tiny(optimizers="sgd,rmsprop,adagrad", seeds="2", epochs="3")
    at.button(key="compare_run").click().run()
    no_exception(at)
    # each seed's three optimizers share its batches: two stacks of three, each run as if alone
    assert stacks == [["sgd", "rmsprop", "adagrad"]] * 2
    listed = cache.store().list()
    assert len(listed) == 6
    for key in listed["key"]:
        stored = cache.store().get(key)
        assert stored.timings["stacked_runs"] == 3.0
        assert (stored.params == engine.train(stored.config).params).all()
    at.button(key="compare_run").click().run()  # everything is stored: nothing trains
    assert len(stacks) == 2
    assert leaderboard(at)["seeds"].tolist() == [2, 2, 2]
