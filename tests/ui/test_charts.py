"""Chart builders on hand-made frames: layers, encodings, bands, facets."""

import numpy as np
import pandas as pd
import pytest

from ui import charts


def history(labels=("adam", "sgd"), seeds=1, epochs=6):
    rows = []
    for k, lab in enumerate(labels):
        for s in range(seeds):
            for e in range(epochs + 1):
                rows.append(
                    {
                        "label": lab,
                        "seed": s,
                        "epoch": e,
                        "updates": 10 * e,
                        "time_s": 0.1 * e,
                        "samples_seen": 320 * e,
                        "lr": 0.01 / (1 + e),
                        "train_loss": np.exp(-e / (3 + k)) + 0.01 * s,
                        "val_loss": np.exp(-e / (4 + k)) + 0.02 * s,
                        "val_acc": 1 - np.exp(-e / 3),
                        "train_acc": 1 - np.exp(-e / 2.5),
                        "grad_norm_layer1": 1 / (e + 1),
                        "grad_norm_output": 2 / (e + 1),
                        "state_norm_exp_avg": 0.1 * e,
                        "state_norm_exp_avg_sq": 0.01 * e,
                    }
                )
    return pd.DataFrame(rows)


def spec_fields(node, found=None):
    found = set() if found is None else found
    if isinstance(node, dict):
        if isinstance(node.get("field"), str):
            found.add(node["field"])
        for v in node.values():
            spec_fields(v, found)
    elif isinstance(node, list):
        for v in node:
            spec_fields(v, found)
    return found


def data_of(chart):
    spec = chart.to_dict()
    return spec, [pd.DataFrame(v) for v in spec.get("datasets", {}).values()]


def test_curves_one_line_per_label_with_legend_selection_and_tooltips():
    spec, frames = data_of(charts.curves(history(), "val_loss", x="updates"))
    line = spec["layer"][0]
    assert line["mark"]["type"] == "line"
    assert line["encoding"]["color"]["field"] == "label"
    assert line["encoding"]["x"]["field"] == "updates"
    params = spec.get("params", []) + [
        p for layer in spec["layer"] for p in layer.get("params", [])
    ]
    assert any(p.get("bind") == "legend" for p in params)
    assert any("tooltip" in layer.get("encoding", {}) for layer in spec["layer"])
    assert set(frames[0]["label"]) == {"adam", "sgd"}


def test_curves_train_and_val_are_two_dashed_series():
    spec, frames = data_of(charts.curves(history(), ["train_loss", "val_loss"]))
    enc = spec["layer"][0]["encoding"]
    assert enc["strokeDash"]["field"] == "series"
    assert set(frames[0]["series"]) == {"train", "validation"}


def test_curves_log_y_drops_nonpositive_and_nonfinite_values():
    df = history(("a",))
    df.loc[2, "val_loss"] = np.nan
    df.loc[3, "val_loss"] = np.inf
    df.loc[4, "val_loss"] = 0.0
    spec, frames = data_of(charts.curves(df, "val_loss", log_y=True))
    assert spec["layer"][0]["encoding"]["y"]["scale"]["type"] == "log"
    vals = frames[0]["val_loss"]
    assert len(vals) == len(df) - 3 and (vals > 0).all()
    assert 0 in set(frames[0]["epoch"])  # the x = 0 row survives a log y axis


def test_small_multiples_facet_per_label():
    spec = charts.small_multiples(history(("a", "b", "c")), ["train_loss", "val_loss"]).to_dict()
    assert spec["facet"]["field"] == "label"
    assert spec["columns"] == 3


@pytest.mark.parametrize("kind", ["std", "minmax"])
def test_band_over_seeds_has_area_and_mean_line(kind):
    df = history(seeds=3)
    chart = charts.band(df, "val_loss", kind=kind)
    spec = chart.to_dict()
    marks = [
        layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        for layer in spec["layer"]
    ]
    assert marks == ["area", "line"]
    assert spec["layer"][0]["encoding"]["y2"]["field"] == "hi"
    band = charts.band_frame(df, "val_loss", kind=kind)
    assert (band["runs"] == 3).all()
    assert (band["lo"] <= band["mean"]).all() and (band["mean"] <= band["hi"]).all()
    assert (band["hi"] - band["lo"] > 0).any()  # the seeds differ, so there is a band


def test_grad_and_state_norms_one_series_per_layer_on_log_axes():
    h = history(("a",))
    spec, frames = data_of(charts.grad_norms(h))
    assert set(frames[0]["layer"]) == {"layer1", "output"}
    assert spec["layer"][0]["encoding"]["y"]["scale"]["type"] == "log"
    spec, frames = data_of(charts.state_norms(h))
    assert set(frames[0]["state"]) == {"exp_avg", "exp_avg_sq"}


def test_lr_curve():
    spec, frames = data_of(charts.lr_curve(history(("a",)), x="updates"))
    assert spec["layer"][0]["encoding"]["y"]["field"] == "lr"


def test_decision_boundary_cells_and_points():
    xx, yy = np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 2, 4))
    surf = {
        "xx": xx,
        "yy": yy,
        "proba": xx * 0.5 + 0.2,
        "X": np.array([[0.1, 0.2], [0.9, 1.5]]),
        "y": np.array([0, 1]),
    }
    spec = charts.decision_boundary(surf, "binary").to_dict()
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks == ["rect", "circle"]
    frames = [pd.DataFrame(v) for v in spec["datasets"].values()]
    assert sorted(len(f) for f in frames) == [2, 20]
    multi = charts.decision_boundary(
        dict(surf, proba=np.round(xx * 2), y=np.array([0, 2])), "multiclass"
    ).to_dict()
    assert multi["layer"][0]["encoding"]["color"]["type"] == "nominal"


def test_contour_segments_of_a_bowl_are_circles():
    xs = np.linspace(-2, 2, 81)
    xx, yy = np.meshgrid(xs, xs)
    segs = charts.contour_segments(xs, xs, xx**2 + yy**2, [1.0])
    r = np.hypot(segs["x"], segs["y"])
    assert len(segs) > 50
    assert np.allclose(r, 1.0, atol=0.01)


def test_surface_chart_2d_and_1d_paths_up_to_step():
    xs = np.linspace(-2, 2, 30)
    xx, yy = np.meshgrid(xs, xs)
    paths = pd.DataFrame(
        {
            "label": ["gd"] * 11,
            "step": range(11),
            "x": np.linspace(-1.5, 0, 11),
            "y": np.linspace(1.5, 0, 11),
            "f": np.linspace(4, 0, 11),
        }
    )
    spec = charts.surface_chart(
        {"xs": xs, "ys": xs, "z": xx**2 + yy**2, "f_min": 0.0}, paths, step=4, minima=[(0, 0)]
    ).to_dict()
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks == ["rule", "line", "point", "point"]
    path_data = [pd.DataFrame(v) for v in spec["datasets"].values()]
    steps = max((f for f in path_data if "step" in f), key=len)["step"]
    assert steps.max() == 4
    spec1 = charts.surface_chart({"xs": xs, "z": xs**2}, paths.drop(columns="y"), step=10).to_dict()
    assert [layer["mark"]["type"] for layer in spec1["layer"]] == ["line", "line", "point"]


def test_loss_by_step_marks_the_current_step():
    paths = pd.DataFrame(
        {"label": ["gd"] * 5, "step": range(5), "x": range(5), "f": [4.0, 2, 1, 0.5, 0.25]}
    )
    spec = charts.loss_by_step(paths, step=3, log_y=True, f_min=0.0).to_dict()
    assert spec["layer"][-1]["mark"]["type"] == "rule"
    assert "f − f*" in spec_fields(spec)


def test_every_chart_renders_to_png():
    vl_convert = pytest.importorskip("vl_convert")
    png = vl_convert.vegalite_to_png(charts.curves(history(), ["train_loss", "val_loss"]).to_json())
    assert png[:4] == b"\x89PNG"
