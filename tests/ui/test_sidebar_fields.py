"""The sidebar and the URL derive from the config fields' declarations.

For every RunConfig field, a config that differs from the defaults in that
field alone is written as URL parameters (:func:`ui.sidebar.config_query`),
opened in a fresh session, and read back from the widgets the sidebar drew:
it must be the same config. A field added to RunConfig gets its widget and
URL parameter from its spec, and is covered here with no change.
"""

from __future__ import annotations

import json

import pytest
from apptools import no_exception
from streamlit.testing.v1 import AppTest

from engine.config import FIELD, FIELDS, RunConfig
from ui import sidebar, state

BASE = {"dataset": "iris", "hidden": (4,), "epochs": 2, "batch_size": 16}


def script():
    import streamlit as st

    from ui import links, sidebar, state
    from ui.pages import SIDEBAR_GROUPS

    links.begin("train")
    fields = sidebar.render("train", SIDEBAR_GROUPS["train"], {})
    try:
        st.session_state["config"] = sidebar.make_config(fields).to_json()
    except ValueError as e:
        st.session_state["config"] = f"error: {e}"
    st.session_state["keys"] = sorted(k for k in st.session_state if isinstance(k, str))
    state.finish()


def variants():
    """(field name, config differing from BASE in that field) for every field."""
    out = []
    for h in FIELDS:
        changes = {
            "dataset": {"dataset": "wine"},
            "dataset_params": {"dataset": "moons", "dataset_params": {"noise": 0.3}},
            "hidden": {"hidden": (6, 3)},
            "activation": {"activation": "tanh"},
            "initializer": {"initializer": "xavier_normal"},
            "init_params": {"initializer": "normal", "init_params": {"std": 0.05}},
            "batchnorm": {"batchnorm": True},
            "mse_form": {"dataset": "diabetes", "batch_size": 16, "mse_form": "half_sum"},
            "optimizer": {"optimizer": "rmsprop"},
            "optimizer_params": {"optimizer_params": {"lr": 0.03, "betas": (0.8, 0.99), "amsgrad": True}},
            "mode": {"mode": "sgd"},
            "batch_size": {"batch_size": 8},
            "sampling": {"sampling": "replacement"},
            "epochs": {"epochs": 3},
            "seed": {"seed": 7},
            "schedule": {"schedule": "cosine"},
            "schedule_params": {"schedule": "step", "schedule_params": {"step_size": 3}},
            "early_stopping": {"early_stopping": True},
            "monitor": {"early_stopping": True, "monitor": "val_metric"},
            "patience": {"early_stopping": True, "patience": 3},
            "min_delta": {"early_stopping": True, "min_delta": 0.01},
            "restore_best": {"early_stopping": True, "restore_best": False},
            "clip_norm": {"clip_norm": 2.5},
            "clip_value": {"clip_value": 0.5},
            "max_updates": {"max_updates": 40},
            "eval_every": {"eval_every": 5},
            "val_fraction": {"val_fraction": 0.25},
            "test_fraction": {"test_fraction": 0.1},
            "dtype": {"dtype": "float32"},
            "threads": {"threads": 2},
        }.get(h.name)
        assert changes is not None, f"add a variant for the new field {h.name}"
        out.append((h.name, RunConfig(**{**BASE, **changes})))
    return out


@pytest.mark.parametrize("name, config", variants(), ids=[n for n, _ in variants()])
def test_every_field_round_trips_through_the_url_and_the_sidebar(name, config):
    assert getattr(config, name) != getattr(RunConfig(**BASE), name) or name == "initializer"
    at = AppTest.from_function(script, default_timeout=60)
    at.query_params = sidebar.config_query(config)
    at.run()
    no_exception(at)
    back = at.session_state["config"]
    assert not back.startswith("error"), back
    assert RunConfig.from_dict(json.loads(back)) == config
    # the field has its own widget, keyed by its URL name
    h = FIELD[name]
    keys = at.session_state["keys"]
    prefix = f"train_{h.query}"
    assert any(k == prefix or k.startswith(prefix + ".") for k in keys), (prefix, keys[:20])


def test_a_malformed_url_value_names_the_field_and_falls_back(monkeypatch):
    at = AppTest.from_function(script, default_timeout=60)
    at.query_params = {**sidebar.config_query(RunConfig(**BASE)), "epochs": "lots", "mode": "x"}
    at.run()
    no_exception(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "`epochs` (lots)" in warnings and "`mode` (x)" in warnings
    back = RunConfig.from_dict(json.loads(at.session_state["config"]))
    assert back.epochs == FIELD["epochs"].default and back.mode == FIELD["mode"].default


def test_hide_groups_come_from_the_declarations():
    for h in FIELDS:
        if h.group in state.GROUPS:
            assert h.query in state.GROUPS[h.group]
    # a group named like one of its fields (optimizer, mode) hides that field only
    assert set(state.GROUPS) == {"data", "model", "budget", "advanced"}
