"""The training wrapper: a configuration trains once, even across a restart."""

import streamlit as st
from apptools import no_exception, page
from streamlit.testing.v1 import AppTest


def count_train_calls(monkeypatch):
    """Count calls of the engine's training loop."""
    import engine

    calls = []
    real = engine.train

    def counting(config, callback=None, **kw):
        calls.append(config.key())
        return real(config, callback, **kw)

    real_many = engine.train_many

    def counting_many(configs, callback=None, should_stop=None):
        calls.extend(c.key() for c in configs)
        return real_many(configs, callback, should_stop)

    monkeypatch.setattr(engine, "train", counting)
    monkeypatch.setattr(engine, "train_many", counting_many)
    return calls


def script():
    import streamlit as st

    from engine.config import RunConfig
    from ui import cache

    cfg = RunConfig(dataset="iris", hidden=(4,), epochs=2, batch_size=16)
    st.session_state["status"] = cache.run(cfg).status
    st.session_state["looked_up"] = cache.lookup(cfg) is not None


def test_same_config_trains_once_even_after_a_restart(monkeypatch):
    calls = count_train_calls(monkeypatch)
    at = AppTest.from_function(script, default_timeout=60).run()
    no_exception(at)
    assert at.session_state["status"] == "completed"
    assert len(calls) == 1
    AppTest.from_function(script, default_timeout=60).run()  # another session
    assert len(calls) == 1
    # a restart: the in-memory caches are gone, the SQLite store is not
    st.cache_data.clear()
    st.cache_resource.clear()
    again = AppTest.from_function(script, default_timeout=60).run()
    no_exception(again)
    assert again.session_state["looked_up"]
    assert len(calls) == 1


def test_train_page_trains_once_and_a_fresh_url_shows_the_stored_result(monkeypatch):
    calls = count_train_calls(monkeypatch)
    at = page("train")
    at.query_params = {"dataset": "iris", "hidden": "4", "epochs": "2"}
    at.run()
    at.button(key="train_run").click().run()
    at.button(key="train_run").click().run()
    assert len(calls) == 1
    st.cache_data.clear()
    st.cache_resource.clear()
    fresh = page("train")
    fresh.query_params = dict(at.query_params)
    fresh.run()  # no click: the stored run is shown at once
    no_exception(fresh)
    assert len(calls) == 1
    assert fresh.metric and "Press **Train**" not in " ".join(i.value for i in fresh.info)
