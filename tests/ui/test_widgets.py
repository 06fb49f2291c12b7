"""Spec-rendered widgets: every registered entry draws and round-trips through the URL."""

import pytest
from streamlit.testing.v1 import AppTest

from engine import optim, schedules
from ui.widgets import log_grid


def render_spec(registry_module: str, name: str):
    def script(registry_module, name):
        import importlib

        import streamlit as st

        from ui import state
        from ui.widgets import spec_params

        state.begin("t")
        spec = importlib.import_module(registry_module).REGISTRY[name]
        params = spec_params(spec, f"t_p.{name}")
        st.session_state["out"] = params
        st.session_state["resolved"] = spec.resolve(params)
        state.finish()

    return AppTest.from_function(
        script, kwargs={"registry_module": registry_module, "name": name}, default_timeout=30
    )


def widgets(at):
    kinds = ["select_slider", "slider", "number_input", "toggle", "selectbox", "checkbox"]
    return [w for k in kinds for w in at.get(k)]


@pytest.mark.parametrize("name", list(optim.REGISTRY))
def test_every_optimizer_renders_its_hyperparameters(name):
    at = render_spec("engine.optim", name).run()
    assert not at.exception, [e.value for e in at.exception]
    spec = optim.REGISTRY[name]
    assert at.session_state["resolved"] == spec.resolve(at.session_state["out"])
    keys = {w.key for w in widgets(at)}
    for h in spec.hypers:
        if h.kind == "params":
            continue
        wanted = f"t_p.{name}.{h.name}"
        assert wanted in keys or f"{wanted}.0" in keys, (wanted, keys)
    for w in widgets(at):
        assert w.help, f"{w.key} has no help"
    assert at.query_params == {}  # defaults stay out of the URL


@pytest.mark.parametrize("name", list(schedules.REGISTRY))
def test_every_schedule_renders(name):
    at = render_spec("engine.schedules", name).run()
    assert not at.exception, [e.value for e in at.exception]


def test_changed_value_goes_to_the_url_and_back():
    at = render_spec("engine.optim", "sgd").run()
    at.number_input(key="t_p.sgd.lr").set_value(0.05).run()
    at.toggle(key="t_p.sgd.nesterov").set_value(True)
    at.slider(key="t_p.sgd.momentum").set_value(0.5).run()
    assert at.query_params["p.sgd.lr"] == ["0.05"] or at.query_params["p.sgd.lr"] == "0.05"
    fresh = render_spec("engine.optim", "sgd")
    fresh.query_params = dict(at.query_params)
    fresh.run()
    assert fresh.session_state["out"]["lr"] == 0.05
    assert fresh.session_state["out"]["momentum"] == 0.5
    assert fresh.session_state["out"]["nesterov"] is True


def test_malformed_url_value_warns_and_falls_back_to_the_default():
    at = render_spec("engine.optim", "sgd")
    at.query_params = {"p.sgd.lr": "fast", "p.sgd.momentum": "7"}
    at.run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "p.sgd.lr" in warnings and "p.sgd.momentum" in warnings
    assert at.session_state["out"]["lr"] == optim.REGISTRY["sgd"].hyper("lr").default
    assert at.session_state["out"]["momentum"] == 0.0


def test_url_value_off_the_log_grid_is_kept():
    at = render_spec("engine.optim", "sgd")
    at.query_params = {"p.sgd.lr": "0.0037"}
    at.run()
    assert at.session_state["out"]["lr"] == 0.0037


def test_hide_keeps_the_value_but_draws_no_widget():
    at = render_spec("engine.optim", "sgd")
    at.query_params = {"p.sgd.lr": "0.2", "hide": "lr,nesterov"}
    at.run()
    keys = {w.key for w in widgets(at)}
    assert "t_p.sgd.lr" not in keys and "t_p.sgd.nesterov" not in keys
    assert "t_p.sgd.momentum" in keys
    assert at.session_state["out"]["lr"] == 0.2


def test_log_grid():
    g = log_grid(0.0, 10.0, 1e-3, 0.0037)
    assert g[0] == pytest.approx(1e-6) and g[-1] == 10.0
    assert 0.0037 in g and 1e-3 in g and 0.0 not in g
    assert log_grid(0.0, 1.0, 0.0)[0] == 0.0  # an "off" default stays selectable
