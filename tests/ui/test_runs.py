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


def table_key(at):
    return next(d.key for d in at.dataframe if d.key.startswith("runs_table_"))


def select(at, rows):
    at.session_state[table_key(at)] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def table(at):
    return next(d.value for d in at.dataframe if d.key.startswith("runs_table_"))


def test_empty_store():
    at = page("runs").run()
    no_exception(at)
    assert "No runs yet" in at.info[0].value


def test_list_select_overlay_download_delete(monkeypatch):
    monkeypatch.setenv("OPTLAB_ALLOW_DELETE", "1")
    store, configs = stored()
    at = page("runs").run()
    no_exception(at)
    assert len(table(at)) == 2
    select(at, [0, 1])
    no_exception(at)
    curve = charts(at)[0]
    assert len(series(curve, "run")) == 2
    assert {d.key for d in at.download_button} >= {"runs_dl_curves", "runs_dl_configs"}
    # the confirmation names every run it deletes: label (or optimizer) and short key
    confirm = "\n".join(t.value for t in at.text)
    assert all(f"sgd · {c.key()[:6]}" in confirm for c in configs)
    assert at.button(key="runs_delete").label == "Delete 2 runs"
    at.button(key="runs_delete").click().run()
    no_exception(at)
    assert len(store) == 0
    assert "No runs yet" in at.info[0].value


def test_the_table_leads_with_what_tells_runs_apart():
    _, configs = stored()
    at = page("runs").run()
    shown = next(d for d in at.dataframe if d.key.startswith("runs_table_"))
    order = list(shown.proto.column_order)
    assert order[:6] == ["label", "optimizer", "lr", "hidden", "dataset", "status"]
    assert order[6] == "best_val_loss" and order[-1] == "key"
    assert sorted(table(at)["lr"]) == [0.05, 0.2]
    assert set(table(at)["hidden"]) == {"4"}


def test_deletion_is_off_unless_the_operator_allows_it(monkeypatch):
    monkeypatch.delenv("OPTLAB_ALLOW_DELETE", raising=False)
    store, _ = stored(1)
    at = page("runs").run()
    select(at, [0])
    no_exception(at)
    assert not [b for b in at.button if b.key == "runs_delete"]
    assert any("Deletion is turned off on this server" in c.value for c in at.caption)
    assert len(store) == 1


def test_a_delete_clears_the_selection(monkeypatch):
    monkeypatch.setenv("OPTLAB_ALLOW_DELETE", "1")
    store, _ = stored(2)
    at = page("runs").run()
    before = table_key(at)
    select(at, [0])
    at.button(key="runs_delete").click().run()
    no_exception(at)
    assert len(store) == 1 and len(table(at)) == 1
    assert table_key(at) != before  # a new grid, with no row ticked
    assert any("Select one or more rows" in i.value for i in at.info)


def test_filter_by_url():
    stored()
    at = page("runs")
    at.query_params = {"search": "zzz"}
    at.run()
    assert len(table(at)) == 0
    at = page("runs")
    at.query_params = {"optimizer": "nosuch"}
    at.run()
    assert any("`optimizer`" in w.value for w in at.warning)
    # an empty default is said in words, not as an empty code span
    at = page("runs")
    at.query_params = {"dataset": "nosuch"}
    at.run()
    warned = " ".join(w.value for w in at.warning)
    assert "`dataset`" in warned and "``" not in warned and "left empty, its default" in warned
    assert len(table(at)) == 2


def test_open_in_train_shows_the_same_configuration():
    _, configs = stored(1)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("app_pages/runs.py").run()  # Train, opened first, stored its own run too
    select(at, [list(table(at)["key"]).index(configs[0].key())])
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


def test_a_run_of_another_engine_is_listed_and_marked(monkeypatch):
    """A run stored under another engine fingerprint is listed, marked, and never reused."""
    from engine import RunConfig, version
    from ui import cache

    cfg = RunConfig(dataset="iris", hidden=(4,), epochs=2, batch_size=16)
    with monkeypatch.context() as older:
        older.setattr(version, "ENGINE_VERSION", "0.1.0+older")
        old = train(cfg)
        cache.store().put(old, label="made by an older engine")
    assert cache.lookup(cfg) is None  # not a cache hit for the current engine
    at = page("runs").run()
    no_exception(at)
    shown = at.dataframe[0].value
    assert list(shown["engine"]) == ["another (not reused)"]
    assert any("another version of the engine" in c.value for c in at.caption)
