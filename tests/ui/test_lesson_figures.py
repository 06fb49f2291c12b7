"""Figures a lesson shows besides its runs: Adam's bias-correction factors (deck 004) and the
Hessian's eigenvalues at a saddle and a minimum (deck 001 'Flat regions')."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from apptools import charts, fields, no_exception, page

from ui import charts as chart_builders
from ui import lessons as ui_lessons


def open_lesson(lesson_id: str):
    at = page("lessons")
    at.query_params["lesson"] = lesson_id
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    return at


def bias_chart(at):
    found = [c for c in charts(at) if {"step t", "factor", "curve"} <= set(c[1].columns)]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("lesson_id, beta1, beta2", [
    ("adam-bias-correction", 0.9, 0.999),
    ("adam-beta1-zero-is-rmsprop", 0.0, 0.9),
])
def test_adam_lessons_plot_the_bias_correction_factors(lesson_id, beta1, beta2):
    spec, data = bias_chart(open_lesson(lesson_id))
    by = {name: df.sort_values("step t") for name, df in data.groupby("curve")}
    c1 = by[f"1/(1 − β₁ᵗ), β₁ = {beta1:g}"]
    c2 = by[f"1/(1 − β₂ᵗ), β₂ = {beta2:g}"]
    step = by["step factor √(1 − β₂ᵗ)/(1 − β₁ᵗ)"]
    t = c1["step t"].to_numpy()
    assert t[0] == 1 and t[-1] == ui_lessons.BIAS_STEPS and np.all(np.diff(t) > 0)
    # by hand at t = 1: 1/(1 − β), and the step factor √(1 − β₂)/(1 − β₁)
    assert c1["factor"].iloc[0] == pytest.approx(1 / (1 - beta1), rel=1e-12)
    assert c2["factor"].iloc[0] == pytest.approx(1 / (1 - beta2), rel=1e-12)
    assert step["factor"].iloc[0] == pytest.approx(np.sqrt(1 - beta2) / (1 - beta1), rel=1e-12)
    # at every t, the formulas
    np.testing.assert_allclose(c1["factor"], 1 / (1 - beta1 ** t.astype(float)), rtol=1e-12)
    np.testing.assert_allclose(c2["factor"], 1 / (1 - beta2 ** t.astype(float)), rtol=1e-12)
    np.testing.assert_allclose(step["factor"], np.sqrt(1 - beta2 ** t.astype(float)) / (1 - beta1 ** t),
                               rtol=1e-12)
    # every factor tends to 1
    for df in by.values():
        assert df["factor"].iloc[-1] == pytest.approx(1.0, abs=1e-4)
    # both axes are logarithmic
    scales = [v.get("scale", {}).get("type") for layer in spec["layer"]
              for v in layer.get("encoding", {}).values() if isinstance(v, dict)]
    assert scales.count("log") >= 2


def test_the_saddle_lesson_shows_the_hessian_eigenvalues_by_sign():
    from engine import surfaces

    at = open_lesson("hessian-saddle-vs-minimum")
    found = [c for c in charts(at) if {"point", "eigenvalue", "value", "sign"} <= set(c[1].columns)]
    assert len(found) == 1
    spec, data = found[0]
    saddle = data[data["point"].str.startswith("saddle")].sort_values("value")
    minimum = data[data["point"].str.startswith("minimum")].sort_values("value")
    assert list(minimum["point"])[0] == "minimum (3.00, 2.00)"  # where the lesson's paths end
    s_eig, _ = surfaces.curvature("himmelblau", surfaces.get("himmelblau").extra["saddles"][0])
    m_eig, _ = surfaces.curvature("himmelblau", [3.0, 2.0])
    np.testing.assert_allclose(saddle["value"], s_eig, rtol=1e-12)
    np.testing.assert_allclose(minimum["value"], m_eig, rtol=1e-12)
    np.testing.assert_allclose(saddle["value"], [-31.7, 75.5], atol=0.05)  # the lesson's text
    np.testing.assert_allclose(minimum["value"], [25.7, 82.3], atol=0.05)
    # negative and positive in different colours
    assert list(saddle["sign"]) == ["negative (curves down)", "positive (curves up)"]
    assert set(minimum["sign"]) == {"positive (curves up)"}
    colour = next(layer["encoding"]["color"] for layer in spec["layer"]
                  if "color" in layer.get("encoding", {}))
    assert colour["field"] == "sign"
    assert colour["scale"]["range"][0] != colour["scale"]["range"][1]
    assert {"point", "eigenvalue", "value"} <= fields(spec)


def test_other_lessons_show_no_extra_figure():
    at = open_lesson("saddle-point")
    assert not [c for c in charts(at) if "curve" in c[1] or "sign" in c[1]]


def test_eigenvalue_bars_colour_by_sign_on_a_hand_made_frame():
    df = pd.DataFrame({"point": ["a", "a"], "eigenvalue": ["λ₁", "λ₂"], "value": [-1.0, 2.0]})
    spec = chart_builders.eigenvalue_bars(df).to_dict()
    values = next(iter(spec["datasets"].values()))
    assert [v["sign"] for v in values] == list(chart_builders.SIGN_COLORS)
