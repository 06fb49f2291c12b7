"""Runs page: the stored runs, overlay, downloads, delete, open in Train."""

from apptools import ROOT, charts, no_exception, page, series
from streamlit.testing.v1 import AppTest

from engine.config import RunConfig
from engine.store import RunStore
from engine.train import train


def stored(n=2):
    store = RunStore()
    configs = [
        RunConfig(
            dataset="iris",
            hidden=(4,),
            optimizer=o,
            epochs=2,
            batch_size=16,
            optimizer_params={"lr": lr},
        )
        for o, lr in [("sgd", 0.05), ("sgd", 0.2)][:n]
    ]
    for c in configs:
        store.put(train(c))
    return store, configs


def select(at, rows):
    at.session_state["runs_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def table(at):
    return next(d.value for d in at.dataframe if d.key == "runs_table")


def test_empty_store():
    at = page("runs").run()
    no_exception(at)
    assert "No runs yet" in at.info[0].value


def test_list_select_overlay_download_delete():
    store, configs = stored()
    at = page("runs").run()
    no_exception(at)
    assert len(table(at)) == 2
    select(at, [0, 1])
    no_exception(at)
    curve = charts(at)[0]
    assert len(series(curve, "run")) == 2
    assert {d.key for d in at.download_button} >= {"runs_dl_curves", "runs_dl_configs"}
    at.button(key="runs_delete").click().run()
    no_exception(at)
    assert len(store) == 0
    assert "No runs yet" in at.info[0].value


def test_filter_by_url():
    stored()
    at = page("runs")
    at.query_params = {"search": "zzz"}
    at.run()
    assert len(table(at)) == 0
    at = page("runs")
    at.query_params = {"optimizer": "nosuch"}
    at.run()
    assert any("`optimizer=" in w.value for w in at.warning)
    assert len(table(at)) == 2


def test_open_in_train_shows_the_same_configuration():
    _, configs = stored(1)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("app_pages/runs.py").run()
    select(at, [0])
    at.button(key="runs_open").click().run()
    no_exception(at)
    assert at.title[0].value == "Train"
    assert at.selectbox(key="train_dataset").value == "iris"
    assert at.selectbox(key="train_optimizer").value == "sgd"
    assert at.text_input(key="train_hidden").value == "4"
    assert at.number_input(key="train_epochs").value == 2
    assert at.number_input(key="train_batch_size").value == 16
    # the stored run is shown without training again
    assert at.metric
