"""Train page: defaults, a tiny run, what it shows, URL state, bad input."""

import json
import math

import pytest
from apptools import charts, fields, metrics, no_exception, page, series, texts

from ui import defaults

TINY = {"dataset": "iris", "hidden": "8", "epochs": "2"}


def tiny(**extra):
    at = page("train")
    at.query_params = {**TINY, **extra}
    return at.run()


def test_first_open_shows_the_default_result_and_a_change_keeps_it():
    at = page("train").run()
    no_exception(at)
    assert at.title[0].value == "Train"
    assert at.button(key="train_run").label == "Train"
    assert "Press **Train**" not in texts(at.info)
    assert charts(at) and at.metric
    assert at.query_params == {}
    # the run the server warms up at start is the one the page shows
    assert json.loads(at.session_state["train_last"]) == json.loads(defaults.train_config().to_json())
    at.number_input(key="train_epochs").set_value(31).run()
    no_exception(at)
    assert "The settings changed" in texts(at.info) and charts(at)


def test_a_run_that_blows_up_is_flagged_diverged():
    at = page("train")
    at.query_params = {"optimizer": "sgd", "opt.sgd.lr": "1000"}
    at.run()
    no_exception(at)
    shown = texts(at.error) + texts(at.caption)
    assert "Diverged at update 8" in shown and "Completed 30 epochs" not in shown
    # the loss axis (up to 1e20) labels its ticks in short exponent form, not cut digits
    loss = next(spec for spec, _ in charts(at) if '"title": "loss"' in json.dumps(spec))
    assert '"format": "~e"' in json.dumps(loss)


def test_any_typed_learning_rate_in_range_is_used_and_one_out_of_range_is_named():
    at = page("train").run()
    at.number_input(key="train_opt.adam.lr").set_value(0.03).run()
    assert at.query_params["opt.adam.lr"] in ("0.03", ["0.03"])
    at.number_input(key="train_opt.adam.lr").set_value(5000.0).run()
    no_exception(at)
    assert "**lr**: 5000 is not allowed (a number in [0, 1000]); 0.03 is used" in texts(at.error)
    assert at.query_params["opt.adam.lr"] in ("0.03", ["0.03"])


def test_choosing_an_uploaded_csv_does_not_clamp_the_batch_size():
    at = page("train").run()
    at.selectbox(key="train_dataset").set_value("csv").run()
    no_exception(at)
    assert at.number_input(key="train_batch_size").value == 32
    at.selectbox(key="train_dataset").set_value("moons").run()
    assert at.number_input(key="train_batch_size").value == 32


def test_stop_says_the_run_was_stopped():
    at = page("train").run()
    at.button(key="train_stop").click().run()
    no_exception(at)
    assert "**Stopped.**" in texts(at.warning)


def test_change_optimizer_and_lr_then_train():
    at = tiny()
    at.selectbox(key="train_optimizer").set_value("sgd").run()
    at.number_input(key="train_opt.sgd.lr").set_value(0.05)
    at.slider(key="train_opt.sgd.momentum").set_value(0.9).run()
    at.button(key="train_run").click().run()
    no_exception(at)
    assert not at.error
    shown = charts(at)
    loss = next(
        c
        for c in shown
        if "train_loss" in set(c[1].columns) or {"train", "validation"} <= series(c, "series")
    )
    assert series(loss, "series") == {"train", "validation"}
    assert set(loss[1]["epoch"]) == {0, 1, 2}
    # the lr chart shows the lr the sidebar set
    lr_chart = next(c for c in shown if "lr" in fields(c[0]))
    assert set(lr_chart[1]["lr"]) == {0.05}
    m = metrics(at)
    assert math.isfinite(float(m["Best validation loss"]))
    assert 0 <= float(m["Test accuracy"]) <= 1
    assert float(m["Best epoch"]) in (0, 1, 2)
    # per-layer gradient norms and the momentum buffer's norm
    grad = next(c for c in shown if "layer" in c[1])
    assert series(grad, "layer") == {"layer1", "output"}
    state = next(c for c in shown if "state" in c[1])
    assert "momentum_buffer" in series(state, "state")
    assert {d.key for d in at.download_button} >= {"train_dl_history", "train_dl_config"}
    assert at.query_params["optimizer"] in ("sgd", ["sgd"])


def test_x_axis_and_log_scale():
    at = tiny()
    at.button(key="train_run").click().run()
    at.get("button_group")[0].set_value("updates").run()
    at.toggle(key="train_log_y").set_value(True).run()
    no_exception(at)
    spec, data = charts(at)[0]
    assert "updates" in fields(spec)
    assert '"log"' in str(spec).replace("'", '"')


def test_two_d_dataset_shows_the_decision_boundary():
    at = page("train")
    at.query_params = {
        "dataset": "moons",
        "data.moons.n_samples": "200",
        "hidden": "8",
        "epochs": "2",
    }
    at.run()
    at.button(key="train_run").click().run()
    no_exception(at)
    boundary = [c for c in charts(at) if {"x2", "y2", "z"} <= set(c[1].columns)]
    assert boundary, "no decision-boundary chart"
    assert "Decision boundary" in [t.label for t in at.tabs]


def test_diverged_run_is_explained():
    at = tiny(dataset="diabetes", optimizer="sgd", batch_size="16", **{"opt.sgd.lr": "10.0"})
    at.button(key="train_run").click().run()
    no_exception(at)
    message = texts(at.error)
    assert "Diverged" in message and "update" in message and "learning rate" in message


def test_url_round_trip():
    at = tiny(
        optimizer="sgd",
        **{
            "opt.sgd.lr": "0.02",
            "mode": "minibatch",
            "batch_size": "7",
            "seed": "3",
            "activation": "tanh",
        },
    )
    no_exception(at)
    assert at.selectbox(key="train_optimizer").value == "sgd"
    assert at.number_input(key="train_opt.sgd.lr").value == 0.02
    assert at.number_input(key="train_batch_size").value == 7
    assert at.number_input(key="train_seed").value == 3
    assert at.number_input(key="train_epochs").value == 2
    assert at.selectbox(key="train_activation").value == "tanh"
    assert at.text_input(key="train_hidden").value == "8"
    # a second visit with the URL the page wrote shows the same configuration
    again = page("train")
    again.query_params = dict(at.query_params)
    again.run()
    assert again.number_input(key="train_opt.sgd.lr").value == 0.02
    assert again.number_input(key="train_batch_size").value == 7


def test_malformed_url_values_warn_and_use_defaults():
    at = tiny(epochs="many", optimizer="nosuch", batch_size="100000")
    no_exception(at)
    warned = texts(at.warning)
    for name in ("epochs", "optimizer", "batch_size"):
        assert f"`{name}`" in warned
    assert at.number_input(key="train_epochs").value == 30
    assert at.selectbox(key="train_optimizer").value == "adam"
    assert at.number_input(key="train_batch_size").value == 32


def test_invalid_config_shows_an_error_naming_the_field():
    at = tiny()
    at.text_input(key="train_hidden").input("64, lots").run()
    no_exception(at)
    assert "hidden" in texts(at.error)
    assert at.button(key="train_run").disabled


def test_full_batch_only_optimizer_forces_full_batch():
    from engine import optim

    full = [n for n, s in optim.REGISTRY.items() if s.extra.get("full_batch_only")]
    if not full:
        pytest.skip("no full-batch-only optimizer registered")
    at = tiny()
    at.selectbox(key="train_optimizer").set_value(full[0]).run()
    no_exception(at)
    assert "train_mode" not in [r.key for r in at.radio]
    assert "Full batch" in texts(at.caption)
    assert not at.error


def csv_page():
    at = page("train")
    at.query_params = {"dataset": "csv", "hidden": "4", "epochs": "2", "batch_size": "8"}
    return at.run()


def test_csv_upload_errors_are_shown_not_raised():
    at = csv_page()
    no_exception(at)
    assert at.button(key="train_run").disabled  # nothing uploaded yet
    at.file_uploader(key="train_csv_file").upload("bad.csv", b"a,b\n1,x\n2,y\n", "text/csv")
    at.run()
    no_exception(at)
    assert "CSV upload" in texts(at.error)
    assert at.button(key="train_run").disabled


def test_csv_upload_trains_and_the_url_keeps_the_table():
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(60))
    at = csv_page()
    at.file_uploader(key="train_csv_file").upload(
        "t.csv", f"x1,x2,label\n{rows}\n".encode(), "text/csv"
    )
    at.run()
    no_exception(at)
    assert not at.error
    at.button(key="train_run").click().run()
    no_exception(at)
    assert metrics(at)
    assert (
        len(at.query_params["data.csv.sha256"][0]) == 64
        or len(at.query_params["data.csv.sha256"]) == 64
    )
    fresh = page("train")
    fresh.query_params = dict(at.query_params)
    fresh.run()  # the same uploaded table, and its stored run, from the link alone
    no_exception(fresh)
    assert metrics(fresh)


def test_hide_removes_controls_but_keeps_their_values():
    at = tiny(optimizer="sgd", hide="optimizer,opt,schedule")
    no_exception(at)
    keys = {w.key for w in [*at.selectbox, *at.number_input, *at.slider]}
    assert "train_optimizer" not in keys and "train_opt.sgd.lr" not in keys
    assert "train_schedule" not in keys and "train_dataset" in keys
    at.button(key="train_run").click().run()
    assert "keeps no state" in texts(at.info)  # plain SGD ran, not the default Adam
    assert at.query_params["optimizer"] in ("sgd", ["sgd"])
