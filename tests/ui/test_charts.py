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


# -- the projector theme ----------------------------------------------------------
def _hue(hex_colour):
    import colorsys

    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, light, sat = colorsys.rgb_to_hls(r, g, b)
    return h * 360, light, sat


def test_theme_labels_are_large_and_dark_and_grow_in_presentation_mode():
    normal = charts.themed(charts.curves(history(), "val_loss")).to_dict()["config"]
    present = charts.themed(charts.curves(history(), "val_loss"), present=True).to_dict()["config"]
    for cfg in (normal, present):
        assert cfg["axis"]["labelFontSize"] >= 14 and cfg["legend"]["labelFontSize"] >= 14
        assert _hue(cfg["axis"]["labelColor"])[1] < 0.2  # near-black, not light grey
    assert present["axis"]["labelFontSize"] > normal["axis"]["labelFontSize"]
    assert present["axis"]["titleFontSize"] > normal["axis"]["titleFontSize"]


def test_palette_neighbours_differ_in_hue():
    assert normal_palette() == charts.PALETTE
    for a, b in zip(charts.PALETTE, charts.PALETTE[1:], strict=False):
        (ha, la, sa), (hb, lb, sb) = _hue(a), _hue(b)
        if sa < 0.1 or sb < 0.1:  # black or grey next to a colour: differs in lightness
            assert abs(la - lb) > 0.25
            continue
        gap = abs(ha - hb) % 360
        assert min(gap, 360 - gap) >= 30, (a, b)


def normal_palette():
    return charts.themed(charts.curves(history(), "val_loss")).to_dict()["config"]["range"]["category"]


def test_height_follows_the_window_and_fixed_heights_grow_when_presenting():
    spec = charts.themed(charts.curves(history(), "val_loss")).to_dict()
    assert "height" not in spec  # no fixed 300 px
    height = next(p for p in spec["params"] if p["name"] == "height")
    assert "windowSize()[1]" in height["expr"]
    big = next(p for p in charts.themed(charts.curves(history(), "val_loss"), True).to_dict()["params"]
               if p["name"] == "height")
    assert charts.HEIGHT_SHARE[True][0] > charts.HEIGHT_SHARE[False][0]
    assert big["expr"] != height["expr"]
    fixed = charts.themed(charts.curves(history(), "val_loss", height=240), present=True).to_dict()
    assert fixed["height"] == 320 and all(p["name"] != "height" for p in fixed.get("params", []))
    facets = charts.themed(charts.small_multiples(history(("a", "b")), "val_loss")).to_dict()
    assert all(p.get("name") != "height" for p in facets.get("params", []))


def test_png_uses_the_screen_palette_a_fixed_size_and_one_series_legend():
    vl_convert = pytest.importorskip("vl_convert")
    import json

    single = history(("a",)).drop(columns="label")
    chart = charts.curves(single, ["train_loss", "val_loss"])
    spec = charts.png_spec(chart)
    assert spec["config"]["range"]["category"] == charts.PALETTE
    assert spec["height"] == charts.PNG_HEIGHT[False] and "windowSize" not in json.dumps(spec)
    legends = vl_convert.vegalite_to_vega(json.dumps(spec)).get("legends", [])
    assert len(legends) == 1  # colour and dash of "series" share one legend
    png = vl_convert.vegalite_to_png(json.dumps(spec))
    assert png[:4] == b"\x89PNG"


def test_legend_order_and_sequential_colours_for_an_ordered_quantity():
    df = history(("b=1", "b=128", "b=16"))
    spec = charts.curves(df, "val_loss", order=["b=1", "b=16", "b=128"], ordered=True).to_dict()
    color = spec["layer"][0]["encoding"]["color"]
    assert color["scale"]["domain"] == ["b=1", "b=16", "b=128"]
    assert color["sort"] == ["b=1", "b=16", "b=128"]
    assert color["scale"]["scheme"]["name"] == charts.SEQUENTIAL["name"]


def test_huge_values_get_short_tick_labels():
    df = history(("a",))
    df["val_loss"] = df["val_loss"] * 2e11
    spec = charts.curves(df, "val_loss").to_dict()
    assert spec["layer"][0]["encoding"]["y"]["axis"]["format"] == "~e"


# -- playground framing and play ---------------------------------------------------
def escaping_paths():
    return pd.DataFrame(
        {
            "label": ["gd"] * 4 + ["adam"] * 4,
            "step": [0, 1, 2, 3] * 2,
            "x": [0.5, 0.8, 3.0, np.nan, 0.5, 0.4, 0.3, 0.2],
            "y": [0.5, 0.5, 0.5, np.nan, 0.5, 0.4, 0.3, 0.2],
            "f": [0.5, 0.9, 1e226, np.nan, 0.5, 0.3, 0.2, 0.1],
        }
    )


def test_steps_outside_the_window_are_counted_and_the_f_axis_stays_bounded():
    bounds = [(-1.0, 1.0), (-1.0, 1.0)]
    paths = escaping_paths()
    assert charts.steps_outside(paths, bounds) == {"gd": 1}  # the NaN step diverged, not outside
    spec = charts.loss_by_step(paths, bounds=bounds).to_dict()
    y = spec["layer"][0]["encoding"]["y"]
    assert y["scale"]["domain"] == [0.1, 0.9]
    assert spec["layer"][0]["mark"]["clip"] is True


def test_surface_paths_are_clipped_to_the_frame():
    xs = np.linspace(-1, 1, 20)
    xx, yy = np.meshgrid(xs, xs)
    spec = charts.surface_chart({"xs": xs, "ys": xs, "z": xx**2 + yy**2}, escaping_paths()).to_dict()
    path, current = spec["layer"][1], spec["layer"][2]
    assert path["mark"]["clip"] is True and current["mark"]["clip"] is True


def test_playable_surface_chart_filters_by_a_slider_parameter():
    xs = np.linspace(-1, 1, 20)
    xx, yy = np.meshgrid(xs, xs)
    grid = {"xs": xs, "ys": xs, "z": xx**2 + yy**2}
    spec = charts.surface_chart(grid, escaping_paths(), step=1, play=True).to_dict()
    step = next(p for p in spec["params"] if p["name"] == charts.STEP_PARAM)
    assert step["value"] == 1 and step["bind"]["input"] == "range" and step["bind"]["max"] == 3
    frames = [pd.DataFrame(v) for v in spec["datasets"].values()]
    assert max(f["step"].max() for f in frames if "step" in f) == 3  # every step, not only ≤ 1


def test_player_advances_step_on_a_timer_in_the_browser():
    pytest.importorskip("vl_convert")
    from ui import animation

    xs = np.linspace(-1, 1, 20)
    xx, yy = np.meshgrid(xs, xs)
    chart = charts.surface_chart({"xs": xs, "ys": xs, "z": xx**2 + yy**2}, escaping_paths(), play=True)
    vg = animation.vega_spec(chart, last=3, height=400, speed=12)
    signals = {s["name"]: s for s in vg["signals"]}
    assert signals["playing"]["bind"]["input"] == "checkbox"
    assert signals["speed"]["value"] == 12 and signals["speed"]["bind"]["input"] == "range"
    assert signals["clock"]["on"][0]["events"].startswith("timer")
    assert "clock" in signals["step"]["on"][0]["update"]
    with pytest.raises(ValueError, match="step parameter"):
        animation.vega_spec(charts.curves(history(), "val_loss"), last=3, height=400)


def test_bands_on_the_time_axis_interpolate_every_seed_onto_one_grid():
    """Wall-time x values differ per seed: the band aggregates all seeds at every x."""
    import numpy as np
    import pandas as pd

    from ui import charts as ch

    rows = []
    for seed, (scale, offset) in enumerate([(1.0, 0.0), (1.3, 0.5), (0.8, 1.0)]):
        t = np.cumsum(np.full(11, scale))
        rows.append(pd.DataFrame({"label": "adam", "seed": seed, "time_s": t, "val_loss": offset + 1 / t}))
    hist = pd.concat(rows, ignore_index=True)
    band = ch.band_frame(hist, "val_loss", x="time_s")
    assert (band["runs"] == 3).all() and len(band) == 120
    assert band["time_s"].min() == pytest.approx(1.3) and band["time_s"].max() == pytest.approx(8.8)
    # each point is the mean of the three seeds' interpolated values
    x = float(band["time_s"].iloc[50])
    expect = np.mean([np.interp(x, r["time_s"], r["val_loss"]) for _, r in hist.groupby("seed")])
    assert band["mean"].iloc[50] == pytest.approx(expect)
    # aligned axes (epochs) are aggregated as they are
    hist["epoch"] = hist.groupby("seed").cumcount()
    by_epoch = ch.band_frame(hist, "val_loss", x="epoch")
    assert len(by_epoch) == 11 and (by_epoch["runs"] == 3).all()


@pytest.mark.parametrize("present", [False, True])
def test_the_unvalidated_spec_a_page_draws_is_streamlits_validated_spec(present):
    # pages draw ui.cache.vega_spec (no schema validation per view); Streamlit's own
    # conversion validates, so equal specs mean every drawn chart is valid Vega-Lite
    from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec

    from ui.cache import vega_spec

    h = history()
    built = [
        charts.curves(h, ["train_loss", "val_loss"], color=None, y_title="loss"),
        charts.curves(h, "val_loss", log_y=True),
        charts.band(history(seeds=3), "val_loss", kind="minmax"),
        charts.grad_norms(h[h["label"] == "adam"]),
        charts.state_norms(h[h["label"] == "adam"]),
        charts.lr_curve(h[h["label"] == "adam"]),
    ]
    for chart in built:
        themed = charts.themed(chart, present)
        assert vega_spec(themed) == _convert_altair_to_vega_lite_spec(themed)
