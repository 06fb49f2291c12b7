"""Playground page: paths on surfaces, the step slider, schedule previews."""

import numpy as np
from apptools import charts, no_exception, page, series, texts

from engine import surfaces


def test_defaults_show_paths_and_schedules():
    at = page("playground").run()
    no_exception(at)
    shown = charts(at)
    paths = next(c for c in shown if "step" in c[1] and "y" in c[1])
    assert len(series(paths, "label")) == len(at.multiselect(key="playground_optimizers").value)
    sched = next(c for c in shown if "update" in c[1])
    assert len(series(sched, "label")) == len(at.multiselect(key="playground_schedules").value)


def test_change_surface_optimizer_and_step():
    at = page("playground").run()
    at.selectbox(key="playground_surface").set_value("quartic").run()
    at.multiselect(key="playground_optimizers").set_value(["gd", "momentum"]).run()
    at.number_input(key="playground_opt.momentum.lr").set_value(0.05).run()
    at.number_input(key="playground_steps").set_value(30).run()
    at.slider(key="playground_step").set_value(10).run()
    no_exception(at)
    surface_chart = next(c for c in charts(at) if "step" in c[1] and "f" in c[1])
    data = surface_chart[1]
    assert data["step"].max() <= 10  # paths drawn up to the chosen step
    assert "y" not in data or data["y"].isna().all()  # the quartic is 1-D
    assert series(surface_chart, "label") == {"gd · lr 0.1", "momentum · lr 0.05"}
    start = data[data["step"] == 0]["x"].unique()
    assert np.allclose(start, surfaces.REGISTRY["quartic"].extra["start"][0])


def test_divergence_is_reported():
    at = page("playground")
    at.query_params = {"surface": "rosenbrock", "optimizers": "gd", "opt.gd.lr": "0.1"}
    at.run()
    no_exception(at)
    assert "diverged" in texts(at.warning)


def test_url_round_trip():
    at = page("playground")
    at.query_params = {
        "surface": "quadratic",
        "start.quadratic.0": "1.5",
        "steps": "20",
        "schedules": "constant,cosine",
        "sched_lr": "0.02",
    }
    at.run()
    no_exception(at)
    assert at.number_input(key="playground_start.quadratic.0").value == 1.5
    assert at.number_input(key="playground_steps").value == 20
    assert at.multiselect(key="playground_schedules").value == ["constant", "cosine"]
    assert at.number_input(key="playground_sched_lr").value == 0.02
    bad = page("playground")
    bad.query_params = {"surface": "moon", "steps": "-3"}
    bad.run()
    no_exception(bad)
    assert "`surface`" in texts(bad.warning) and "`steps`" in texts(bad.warning)


def test_a_url_number_below_its_minimum_names_the_minimum():
    at = page("playground")
    at.query_params = {"step": "-1"}
    at.run()
    no_exception(at)
    warned = texts(at.warning)
    assert "below the minimum 0" in warned and "None" not in warned


def test_url_text_is_shown_as_written_and_truncated():
    at = page("playground")
    at.query_params = {"surface": "**bold** [x](http://e) " + "y" * 80}
    at.run()
    warned = " ".join(w.value for w in at.warning)  # the Markdown source, escapes and all
    assert "\\*\\*bold\\*\\*" in warned and "\\[x\\]" in warned and "y" * 60 not in warned
