"""Chart builders: pandas DataFrames in, Altair charts out.

Pure functions (no Streamlit), so they are unit-tested on hand-made frames.
Line charts share one interaction: clicking a legend entry highlights that
series, and hovering shows a vertical rule with every series' value there.

:func:`themed` gives any chart the projector theme: labels of at least 14 px
in a dark colour, a colour-blind-safe palette, and a height that follows the
browser window (larger still in presentation mode). The screen and the PNG
export (:func:`png_spec`) share it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

X_TITLES = {
    "epoch": "epoch",
    "updates": "updates (optimizer steps)",
    "samples_seen": "samples seen",
    "time_s": "wall time (s)",
    "step": "step",
}
Y_TITLES = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "train_acc": "training accuracy",
    "val_acc": "validation accuracy",
    "val_r2": "validation R²",
    "lr": "learning rate",
    "update_ratio": "‖Δθ‖ / ‖θ‖",
    "loss": "f(x)",
}
SPLITS = {
    "train_loss": "train",
    "val_loss": "validation",
    "train_acc": "train",
    "val_acc": "validation",
    "val_r2": "validation",
}
# Okabe & Ito's colour-blind-safe palette (2008), ordered so that neighbours differ in hue
# (no blue next to sky blue, no vermillion next to reddish purple); its yellow, illegible on a
# white projector screen, is replaced by Tol's olive.
PALETTE = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#000000",  # black
    "#999933",  # olive
]
# An ordered quantity (batch size, learning rate…): dark to light, without viridis' pale yellow end.
SEQUENTIAL = {"name": "viridis", "extent": [0, 0.85]}
INK = "#1d1d1f"  # labels and titles: near-black
FONT = {  # px: (normal, presentation)
    "label": (14, 19),
    "title": (16, 22),
    "legend": (14, 19),
    "chart_title": (17, 24),
}
# Chart height as a share of the browser window's height, within [min, max] px.
HEIGHT_SHARE = {False: (0.45, 300, 720), True: (0.62, 380, 1100)}
PNG_HEIGHT = {False: 380, True: 520}
HEIGHT: int | None = None  # builders leave the height to :func:`themed`


def _huge(values: pd.Series) -> bool:
    """Values whose plain tick labels would be too long (≥ 10⁶ in size)."""
    v = pd.to_numeric(values, errors="coerce").abs()
    return bool((v[np.isfinite(v)] >= 1e6).any())


def title_of(column: str) -> str:
    return Y_TITLES.get(column) or X_TITLES.get(column) or column.replace("_", " ")


def theme_config(present: bool = False) -> dict[str, Any]:
    """The Vega-Lite ``config`` of the projector theme (larger in presentation mode)."""
    i = int(bool(present))
    label, title, legend, chart_title = (FONT[k][i] for k in ("label", "title", "legend", "chart_title"))
    return {
        "axis": {
            "labelFontSize": label,
            "titleFontSize": title,
            "labelColor": INK,
            "titleColor": INK,
            "tickColor": "#555555",
            "domainColor": "#555555",
            "labelLimit": 300,
            "titlePadding": 8,
        },
        "legend": {
            "labelFontSize": legend,
            "titleFontSize": legend,
            "labelColor": INK,
            "titleColor": INK,
            "labelLimit": 520,
            "symbolSize": (260, 420)[i],
            "symbolStrokeWidth": (3, 4)[i],
        },
        "header": {"labelFontSize": title, "titleFontSize": title, "labelColor": INK, "titleColor": INK},
        "title": {"fontSize": chart_title, "color": INK},
        "range": {"category": list(PALETTE)},
        "line": {"strokeWidth": (2.5, 3.5)[i]},
        "rule": {"strokeWidth": (1.5, 2)[i]},
    }


def opacity_if(param: Any, on: Any, off: Any) -> alt.OpacityValue:
    """``alt.condition(param, on, off)`` for the opacity channel, as a channel object.

    The same spec; Altair turns a condition's plain dict into a channel by searching the
    schema (validating each candidate), which was a third of a chart's build time.
    """
    return alt.OpacityValue(**alt.condition(param, on, off))


def height_expr(present: bool = False) -> str:
    """A Vega expression for a chart height that follows the browser window's height.

    ``windowSize()`` is no signal, so the expression also reads ``width`` (the
    container's width, which Vega updates when the window is resized): that
    makes Vega evaluate it again on every resize, and ``0 * width`` adds nothing.
    """
    share, lo, hi = HEIGHT_SHARE[bool(present)]
    return f"clamp(windowSize()[1] * {share}, {lo}, {hi}) + 0 * width"


def _composed(chart: alt.TopLevelMixin) -> bool:
    return isinstance(chart, alt.FacetChart | alt.ConcatChart | alt.HConcatChart | alt.VConcatChart) or (
        isinstance(chart, alt.RepeatChart)
    )


def themed(chart: alt.TopLevelMixin, present: bool = False) -> alt.TopLevelMixin:
    """``chart`` in the projector theme, its height following the window unless it fixes its own.

    A fixed height is enlarged by a third in presentation mode; composed
    charts (facets, concatenations) keep their panels' sizes.
    """
    out = chart.copy()
    config = theme_config(present)
    if not isinstance(out.config, alt.utils.schemapi.UndefinedType):
        config = _merged(config, out.config.to_dict(validate=False))
    # not Config.from_dict: its schema search was 80 % of a themed chart's cost; the whole
    # chart is validated whenever it is serialised with validation (the tests' to_dict())
    out.config = alt.Config(**config)
    if _composed(out):
        return out
    height = out.height
    if isinstance(height, int | float):
        if present:
            out.height = int(round(height * 4 / 3))
        return out
    params = [] if isinstance(out.params, alt.utils.schemapi.UndefinedType) else list(out.params)
    params = [p for p in params if getattr(p, "name", None) != "height"]
    out.params = [*params, alt.VariableParameter(name="height", expr=height_expr(present))]
    return out


def _merged(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def png_spec(chart: alt.TopLevelMixin, present: bool = False, width: int = 760) -> dict[str, Any]:
    """The themed chart as a Vega-Lite dict for a PNG: fixed width and height, same palette.

    A PNG has no browser window, so the window-following height becomes
    ``PNG_HEIGHT`` and an unset width ``width`` px.
    """
    spec = themed(chart, present).to_dict()
    params = spec.get("params", [])
    if any(p.get("name") == "height" for p in params):
        spec["params"] = [p for p in params if p.get("name") != "height"]
        if not spec["params"]:
            del spec["params"]
        spec["height"] = PNG_HEIGHT[bool(present)]
    if "width" not in spec and not _composed(chart):
        spec["width"] = width
    return spec


def _clean(df: pd.DataFrame, cols: Sequence[str], log_y: bool = False) -> pd.DataFrame:
    """Drop rows whose plotted values are not finite (or, on a log y axis, not positive)."""
    out = df.replace([np.inf, -np.inf], np.nan).dropna(subset=list(cols))
    if log_y:
        out = out[out[cols[-1]] > 0]
    return out


def _sized(chart: alt.TopLevelMixin, height: int | None) -> alt.TopLevelMixin:
    return chart if height is None else chart.properties(height=height)


def _color_scale(order: Sequence[Any] | None, ordered: bool) -> Any:
    """An explicit domain (legend order) and, for an ordered quantity, a sequential scheme."""
    if order is None and not ordered:
        return alt.Undefined
    return alt.Scale(
        domain=list(order) if order is not None else alt.Undefined,
        scheme=alt.SchemeParams(**SEQUENTIAL) if ordered else alt.Undefined,
    )


def _long(
    df: pd.DataFrame, y: str | Sequence[str], keep: Sequence[str]
) -> tuple[pd.DataFrame, str]:
    """One value column ``value`` and a ``series`` column when several y columns are drawn."""
    if isinstance(y, str):
        return df, y
    cols = [c for c in y if c in df.columns]
    ids = [c for c in dict.fromkeys(keep) if c in df.columns]
    long = df.melt(id_vars=ids, value_vars=cols, var_name="series", value_name="value")
    long["series"] = long["series"].map(lambda c: SPLITS.get(c, title_of(c)))
    return long, "value"


def curves(
    df: pd.DataFrame,
    y: str | Sequence[str],
    x: str = "epoch",
    color: str | None = "label",
    log_y: bool = False,
    log_x: bool = False,
    title: str | None = None,
    y_title: str | None = None,
    height: int | None = HEIGHT,
    mark_x: float | None = None,
    order: Sequence[Any] | None = None,
    ordered: bool = False,
    y_domain: Sequence[float] | None = None,
) -> alt.Chart:
    """Lines of ``y`` against ``x``, one per ``color`` value.

    ``mark_x`` draws a dashed vertical rule there (e.g. the current step).
    ``order`` lists the ``color`` values in legend order (e.g. batch sizes
    1, 16, 128 rather than their alphabetical 1, 128, 16); ``ordered`` colours
    them along a sequential scheme, for a quantity that has an order.
    ``y_domain`` fixes the y range; lines beyond it are cut at the frame.
    ``height`` None leaves it to :func:`themed`.

    Several ``y`` columns (e.g. train and validation loss) are drawn dashed /
    solid per series when ``color`` also splits the data, else coloured.
    The legend is interactive (click to highlight) and hovering shows values.
    """
    if color is not None and color not in df.columns:
        color = None
    data, value = _long(df, y, [x, color] if color else [x])
    several = not isinstance(y, str)
    data = _clean(data, [x, value], log_y)
    if log_x:
        data = data[data[x] > 0]
    dash = "series" if several else None
    if color is None and several:
        color = "series"
    y_name = y_title or (title_of(y) if isinstance(y, str) else "")
    if several and not y_title:
        y_name = " / ".join(dict.fromkeys(title_of(c).split()[-1] for c in y))
    x_enc = alt.X(
        f"{x}:Q", title=X_TITLES.get(x, x), scale=alt.Scale(type="log") if log_x else alt.Undefined
    )
    y_enc = alt.Y(
        f"{value}:Q",
        title=y_name,
        scale=alt.Scale(
            type="log" if log_y else "linear",
            zero=False,
            domain=list(y_domain) if y_domain is not None else alt.Undefined,
        ),
        # compact tick labels: a diverged run's 2e+11, not a cut "200,000,000,000…"
        axis=alt.Undefined if log_y else alt.Axis(format="~e" if _huge(data[value]) else alt.Undefined),
    )
    tooltip = [alt.Tooltip(f"{x}:Q", title=X_TITLES.get(x, x), format=".4~g")]
    if color:
        tooltip.insert(0, alt.Tooltip(f"{color}:N", title=color))
    if dash and dash != color:
        tooltip.insert(1, alt.Tooltip(f"{dash}:N", title="series"))
    tooltip.append(alt.Tooltip(f"{value}:Q", title=y_name or value, format=".4~g"))

    base = alt.Chart(data).encode(x=x_enc, y=y_enc)
    layers = []
    clip = y_domain is not None
    line = base.mark_line(interpolate="linear", clip=clip)
    splits = ["train", "validation"]
    dash_domain = splits if dash and set(data[dash].unique()) <= set(splits) else None
    if color == dash and dash_domain and order is None:
        order = dash_domain  # colour and dash share one legend, not two "series" legends
    if color:
        pick = alt.selection_point(fields=[color], bind="legend", name="legend_pick")
        line = line.encode(
            color=alt.Color(
                f"{color}:N",
                title=color,
                scale=_color_scale(order, ordered),
                sort=list(order) if order is not None else alt.Undefined,
                legend=alt.Legend(orient="right", symbolType="stroke"),
            ),
            opacity=opacity_if(pick, alt.value(1.0), alt.value(0.12)),
        ).add_params(pick)
    if dash:
        line = line.encode(
            strokeDash=alt.StrokeDash(
                f"{dash}:N",
                title="series",
                scale=alt.Scale(domain=dash_domain, range=[[4, 3], [1, 0]])
                if dash_domain
                else alt.Undefined,
            )
        )
    layers.append(line)
    # hover: a rule at the nearest x and the points there, with tooltips
    hover = alt.selection_point(
        fields=[x], nearest=True, on="pointerover", empty=False, clear="pointerout", name="hover"
    )
    points = (
        base.mark_point(filled=True, size=40, clip=clip)
        .encode(
            opacity=opacity_if(hover, alt.value(1.0), alt.value(0.0)),
            tooltip=tooltip,
            **({"color": alt.Color(f"{color}:N", scale=_color_scale(order, ordered))} if color else {}),
        )
        .add_params(hover)
    )
    rule = (
        alt.Chart(data)
        .mark_rule(color="gray", opacity=0.5)
        .encode(x=alt.X(f"{x}:Q"))
        .transform_filter(hover)
    )
    layers += [points, rule]
    if mark_x is not None:
        layers.append(
            alt.Chart(pd.DataFrame({x: [mark_x]}))
            .mark_rule(color="black", strokeDash=[4, 3])
            .encode(x=alt.X(f"{x}:Q"))
        )
    chart = _sized(alt.layer(*layers), height)
    if title:
        chart = chart.properties(title=title)
    return chart


def small_multiples(
    df: pd.DataFrame,
    y: str | Sequence[str],
    x: str = "epoch",
    facet: str = "label",
    columns: int = 3,
    log_y: bool = False,
) -> alt.FacetChart:
    """One small chart per ``facet`` value with shared axes (train dashed, validation solid)."""
    data, value = _long(df, y, [x, facet])
    data = _clean(data, [x, value], log_y)
    several = not isinstance(y, str)
    enc: dict[str, Any] = {
        "x": alt.X(f"{x}:Q", title=X_TITLES.get(x, x)),
        "y": alt.Y(
            f"{value}:Q",
            title=title_of(y) if isinstance(y, str) else "",
            scale=alt.Scale(type="log" if log_y else "linear", zero=False),
        ),
        "tooltip": [
            alt.Tooltip(f"{facet}:N"),
            alt.Tooltip(f"{x}:Q", format=".4~g"),
            alt.Tooltip(f"{value}:Q", format=".4~g"),
        ],
    }
    if several:
        enc["color"] = alt.Color("series:N", title="series")
        enc["strokeDash"] = alt.StrokeDash(
            "series:N",
            title="series",
            scale=alt.Scale(domain=["train", "validation"], range=[[4, 3], [1, 0]]),
        )
    return (
        alt.Chart(data)
        .mark_line()
        .encode(**enc)
        .properties(width=220, height=150)
        .facet(facet=alt.Facet(f"{facet}:N", title=None), columns=columns)
        .resolve_scale(y="shared")
    )


def band_frame(
    df: pd.DataFrame, y: str, x: str = "epoch", group: str = "label", kind: str = "std",
    run: str = "seed", points: int = 120,
) -> pd.DataFrame:
    """Mean and a band (± one std, or min–max) of ``y`` over the runs in each group.

    Runs (told apart by column ``run``) whose x values differ, as wall time
    always does, are first interpolated onto a common grid of ``points``
    values over the x range every run of the group covers, so the band
    aggregates the same x for every seed instead of single points.
    """
    data = _clean(df, [x, y])
    if run not in data.columns:
        data = data.assign(**{run: 0})
    frames = []
    for name, g in data.groupby(group, sort=False):
        runs = [r.sort_values(x) for _, r in g.groupby(run, sort=False)]
        xs = [r[x].to_numpy(float) for r in runs]
        if all(len(a) == len(xs[0]) and np.array_equal(a, xs[0]) for a in xs):
            frames.append(g[[group, x, y]])  # aligned already (epochs, updates)
            continue
        lo, hi = max(a.min() for a in xs), min(a.max() for a in xs)
        grid = np.linspace(lo, hi, points) if hi > lo else np.array([lo])
        for a, r in zip(xs, runs, strict=True):
            frames.append(pd.DataFrame({group: name, x: grid,
                                        y: np.interp(grid, a, r[y].to_numpy(float))}))
    data = pd.concat(frames, ignore_index=True) if frames else data[[group, x, y]]
    g = data.groupby([group, x], sort=False)[y]
    out = g.mean().rename("mean").to_frame()
    if kind == "minmax":
        out["lo"], out["hi"] = g.min(), g.max()
    else:
        sd = g.std(ddof=0).fillna(0.0)
        out["lo"], out["hi"] = out["mean"] - sd, out["mean"] + sd
    out["runs"] = g.count()
    return out.reset_index()


def band(
    df: pd.DataFrame,
    y: str,
    x: str = "epoch",
    group: str = "label",
    kind: str = "std",
    log_y: bool = False,
    height: int | None = HEIGHT,
) -> alt.LayerChart:
    """Mean line and shaded band (``mark_area``) of ``y`` over seeds, one per ``group``."""
    data = band_frame(df, y, x, group, kind)
    if log_y:
        data = data[(data["mean"] > 0)]
        data = data.assign(lo=data["lo"].clip(lower=data["mean"] * 1e-3))
    pick = alt.selection_point(fields=[group], bind="legend", name="legend_pick")
    scale = alt.Scale(type="log" if log_y else "linear", zero=False)
    base = alt.Chart(data).encode(
        x=alt.X(f"{x}:Q", title=X_TITLES.get(x, x)),
        color=alt.Color(f"{group}:N", title=group),
    )
    what = "± 1 std" if kind == "std" else "min–max"
    area = base.mark_area(opacity=0.18).encode(
        y=alt.Y("lo:Q", title=f"{title_of(y)} (mean, band {what})", scale=scale),
        y2="hi:Q",
        opacity=opacity_if(pick, alt.value(0.22), alt.value(0.03)),
    )
    line = (
        base.mark_line()
        .encode(
            y=alt.Y("mean:Q", scale=scale),
            opacity=opacity_if(pick, alt.value(1.0), alt.value(0.12)),
            tooltip=[
                alt.Tooltip(f"{group}:N"),
                alt.Tooltip(f"{x}:Q", format=".4~g"),
                alt.Tooltip("mean:Q", format=".4~g"),
                alt.Tooltip("lo:Q", format=".4~g"),
                alt.Tooltip("hi:Q", format=".4~g"),
                alt.Tooltip("runs:Q"),
            ],
        )
        .add_params(pick)
    )
    return _sized(alt.layer(area, line), height)


def prefixed(
    df: pd.DataFrame, prefix: str, x: str = "epoch", color: str | None = None
) -> pd.DataFrame:
    """Long frame of the columns starting with ``prefix`` (``name`` = the rest)."""
    cols = [c for c in df.columns if c.startswith(prefix)]
    ids = [c for c in (x, color) if c and c in df.columns]
    long = df[ids + cols].melt(id_vars=ids, value_vars=cols, var_name="name", value_name="norm")
    long["name"] = long["name"].str.slice(len(prefix))
    return long


def grad_norms(df: pd.DataFrame, x: str = "epoch", label: str | None = None) -> alt.Chart:
    """Gradient norm of each layer (log y): vanishing or exploding gradients show here."""
    long = prefixed(df, "grad_norm_", x, label)
    if label and label in long:
        long["name"] = long[label].astype(str) + " · " + long["name"]
    long = long.rename(columns={"name": "layer", "norm": "gradient norm"})
    return curves(long, "gradient norm", x=x, color="layer", log_y=True)


def state_norms(df: pd.DataFrame, x: str = "epoch", label: str | None = None) -> alt.Chart:
    """Norm of each optimizer state array (momentum buffer, moments, accumulators)."""
    long = prefixed(df, "state_norm_", x, label)
    if label and label in long:
        long["name"] = long[label].astype(str) + " · " + long["name"]
    long = long.rename(columns={"name": "state", "norm": "norm"})
    return curves(long, "norm", x=x, color="state", log_y=True, y_title="L2 norm")


def lr_curve(
    df: pd.DataFrame, x: str = "epoch", color: str | None = None, log_y: bool = False
) -> alt.Chart:
    """The learning rate used over the run."""
    return curves(df, "lr", x=x, color=color, log_y=log_y)


def decision_boundary(
    surface: Mapping[str, np.ndarray], task: str = "binary", height: int | None = HEIGHT
) -> alt.LayerChart:
    """The model's prediction over the plane (cells) and the training points.

    ``surface`` is ``engine.decision_surface(result)``: ``xx``, ``yy``
    (meshgrid), ``proba`` (P(class 1), the predicted class index, or the
    regression output), ``X`` and ``y``.
    """
    xx, yy, z = (np.asarray(surface[k]) for k in ("xx", "yy", "proba"))
    dx = (xx[0, 1] - xx[0, 0]) / 2 if xx.shape[1] > 1 else 0.5
    dy = (yy[1, 0] - yy[0, 0]) / 2 if yy.shape[0] > 1 else 0.5
    cells = pd.DataFrame(
        {
            "x": xx.ravel() - dx,
            "x2": xx.ravel() + dx,
            "y": yy.ravel() - dy,
            "y2": yy.ravel() + dy,
            "z": z.ravel(),
        }
    )
    X, y = np.asarray(surface["X"]), np.asarray(surface["y"])
    points = pd.DataFrame(
        {"x": X[:, 0], "y": X[:, 1], "class": y.astype(str) if task != "regression" else y}
    )
    if task == "binary":
        fill = alt.Color(
            "z:Q", title="P(class 1)", scale=alt.Scale(scheme="redblue", domain=[0, 1])
        )
        point_color = alt.Color(
            "class:N",
            title="class",
            scale=alt.Scale(domain=["0", "1"], range=["#b2182b", "#2166ac"]),
        )
    elif task == "regression":
        fill = alt.Color("z:Q", title="prediction", scale=alt.Scale(scheme="viridis"))
        point_color = alt.Color("class:Q", title="target", scale=alt.Scale(scheme="viridis"))
    else:
        cells["z"] = cells["z"].round().astype(int).astype(str)
        fill = alt.Color("z:N", title="predicted class", scale=alt.Scale(scheme="tableau10"))
        point_color = alt.Color("class:N", title="class", scale=alt.Scale(scheme="tableau10"))
    xs = alt.Scale(domain=[float(cells.x.min()), float(cells.x2.max())], nice=False)
    ys = alt.Scale(domain=[float(cells.y.min()), float(cells.y2.max())], nice=False)
    heat = (
        alt.Chart(cells)
        .mark_rect(opacity=0.55, strokeWidth=0)
        .encode(
            x=alt.X("x:Q", scale=xs, title="x₁"),
            x2="x2:Q",
            y=alt.Y("y:Q", scale=ys, title="x₂"),
            y2="y2:Q",
            color=fill,
        )
    )
    dots = (
        alt.Chart(points)
        .mark_circle(size=28, stroke="white", strokeWidth=0.6, opacity=0.95)
        .encode(
            x=alt.X("x:Q", scale=xs),
            y=alt.Y("y:Q", scale=ys),
            fill=point_color,
            tooltip=[alt.Tooltip("x:Q", format=".3f"), alt.Tooltip("y:Q", format=".3f"), "class"],
        )
    )
    return _sized(alt.layer(heat, dots).resolve_scale(color="independent"), height)


# -- the playground -----------------------------------------------------------
def contour_segments(
    xs: np.ndarray, ys: np.ndarray, z: np.ndarray, levels: Sequence[float]
) -> pd.DataFrame:
    """Iso-lines of ``z`` (on the grid ``xs`` × ``ys``) as segments, by marching squares.

    Returns columns ``x``, ``y``, ``x2``, ``y2``, ``level``.
    """
    z = np.asarray(z, dtype=float)
    out = []
    x0, x1 = xs[:-1][None, :], xs[1:][None, :]
    y0, y1 = ys[:-1][:, None], ys[1:][:, None]
    a, b, c, d = z[:-1, :-1], z[:-1, 1:], z[1:, 1:], z[1:, :-1]  # corners: bl, br, tr, tl
    for lv in levels:
        with np.errstate(invalid="ignore", divide="ignore"):

            def cut(p, q, lv=lv):
                return (lv - p) / (q - p)

            # crossing points on the four edges (NaN if the edge is not crossed)
            bottom = np.where((a < lv) != (b < lv), x0 + cut(a, b) * (x1 - x0), np.nan)
            right = np.where((b < lv) != (c < lv), y0 + cut(b, c) * (y1 - y0), np.nan)
            top = np.where((d < lv) != (c < lv), x0 + cut(d, c) * (x1 - x0), np.nan)
            left = np.where((a < lv) != (d < lv), y0 + cut(a, d) * (y1 - y0), np.nan)
        shape = a.shape
        pts = [
            (bottom, np.broadcast_to(y0, shape)),
            (np.broadcast_to(x1, shape), right),
            (top, np.broadcast_to(y1, shape)),
            (np.broadcast_to(x0, shape), left),
        ]
        crossed = [~np.isnan(p[0]) & ~np.isnan(p[1]) for p in pts]
        # pair the crossings in each cell in edge order (two or four per cell)
        edges = np.stack(crossed, axis=-1)
        for i in range(4):
            for j in range(i + 1, 4):
                mask = edges[..., i] & edges[..., j]
                # in cells with four crossings pair (0,1)+(2,3); otherwise the only pair
                four = edges.sum(axis=-1) == 4
                if (i, j) in ((0, 2), (1, 3), (0, 3), (1, 2)):
                    mask &= ~four
                if not mask.any():
                    continue
                out.append(
                    pd.DataFrame(
                        {
                            "x": pts[i][0][mask],
                            "y": pts[i][1][mask],
                            "x2": pts[j][0][mask],
                            "y2": pts[j][1][mask],
                            "level": lv,
                        }
                    )
                )
    if not out:
        return pd.DataFrame(columns=["x", "y", "x2", "y2", "level"])
    return pd.concat(out, ignore_index=True)


def contour_levels(z: np.ndarray, n: int = 14, f_min: float | None = None) -> list[float]:
    """Levels spaced evenly in log(f − f_min) (or in f when that is not possible)."""
    z = np.asarray(z, float)
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return []
    lo = float(finite.min()) if f_min is None else float(f_min)
    span = finite - lo
    pos = span[span > 0]
    if pos.size == 0:
        return []
    qs = np.geomspace(max(np.quantile(pos, 0.01), pos.max() * 1e-6), np.quantile(pos, 0.98), n)
    return [lo + q for q in qs]


def surface_chart(
    grid: Mapping[str, np.ndarray],
    paths: pd.DataFrame,
    step: int | None = None,
    minima: Sequence[Sequence[float]] = (),
    height: int | None = HEIGHT,
    play: bool = False,
) -> alt.LayerChart:
    """Contour lines (2-D) or the curve (1-D) of a surface, with optimizer paths.

    ``grid``: 2-D ``xs``, ``ys``, ``z`` (z[i, j] = f(xs[j], ys[i]), optional
    ``f_min``); 1-D ``xs``, ``z``. ``paths``: ``label``, ``step``, ``x`` (and
    ``y`` for 2-D), ``f``. Only steps ≤ ``step`` are drawn; the current point
    of each optimizer is a large marker. Paths are cut at the frame.

    ``play=True`` keeps every step in the chart and filters in the browser by
    a Vega-Lite parameter ``step`` bound to a slider, so the figure can be
    replayed (and animated, see :mod:`ui.animation`) without the server.
    """
    two_d = "ys" in grid
    cols = ["x"] + (["y"] if two_d else ["f"])
    finite = paths.replace([np.inf, -np.inf], np.nan).dropna(subset=cols)
    t_param = None
    if play:
        last = int(paths["step"].max()) if len(paths) else 0
        t_param = alt.param(
            name=STEP_PARAM,
            value=last if step is None else int(step),
            bind=alt.binding_range(min=0, max=max(last, 1), step=1, name="step "),
        )
        shown = finite
        now = finite
    else:
        shown = finite if step is None else finite[finite["step"] <= step]
        now = shown.sort_values("step").groupby("label", as_index=False).tail(1)
    pick = alt.selection_point(fields=["label"], bind="legend", name="legend_pick")
    color = alt.Color("label:N", title="optimizer")
    tip = (
        [
            alt.Tooltip("label:N", title="optimizer"),
            alt.Tooltip("step:Q"),
            alt.Tooltip("x:Q", format=".4f"),
        ]
        + ([alt.Tooltip("y:Q", format=".4f")] if two_d else [])
        + [alt.Tooltip("f:Q", title="f(x)", format=".5g")]
    )
    if two_d:
        xs, ys, z = (np.asarray(grid[k]) for k in ("xs", "ys", "z"))
        xsc = alt.Scale(domain=[float(xs.min()), float(xs.max())], nice=False)
        ysc = alt.Scale(domain=[float(ys.min()), float(ys.max())], nice=False)
        levels = contour_levels(z, f_min=grid.get("f_min"))
        segs = contour_segments(xs, ys, z, levels)
        segs["rank"] = segs["level"].rank(method="dense")
        lines = (
            alt.Chart(segs)
            .mark_rule(strokeWidth=1)
            .encode(
                x=alt.X("x:Q", scale=xsc, title="x₁"),
                y=alt.Y("y:Q", scale=ysc, title="x₂"),
                x2="x2:Q",
                y2="y2:Q",
                color=alt.Color(
                    "rank:Q",
                    scale=alt.Scale(scheme="greys", domain=[0, len(levels) + 4]),
                    legend=None,
                ),
            )
        )
        path = (
            _up_to(alt.Chart(shown), t_param)
            .mark_line(point=alt.OverlayMarkDef(size=18, clip=True), clip=True)
            .encode(
                x=alt.X("x:Q", scale=xsc),
                y=alt.Y("y:Q", scale=ysc),
                order="step:Q",
                color=color,
                opacity=opacity_if(pick, alt.value(1.0), alt.value(0.1)),
                tooltip=tip,
            )
            .add_params(pick)
        )
        cur = (
            _current(alt.Chart(now), t_param)
            .mark_point(size=160, filled=True, shape="diamond", stroke="black", clip=True)
            .encode(
                x=alt.X("x:Q", scale=xsc),
                y=alt.Y("y:Q", scale=ysc),
                color=alt.Color("label:N", legend=None),
                tooltip=tip,
            )
        )
        layers = [lines, path, cur]
        if len(minima):
            mins = pd.DataFrame([{"x": m[0], "y": m[1]} for m in minima])
            layers.append(
                alt.Chart(mins)
                .mark_point(shape="cross", size=120, color="black", strokeWidth=2)
                .encode(
                    x=alt.X("x:Q", scale=xsc),
                    y=alt.Y("y:Q", scale=ysc),
                    tooltip=[alt.Tooltip("x:Q", format=".4f"), alt.Tooltip("y:Q", format=".4f")],
                )
            )
        return _with_param(_sized(alt.layer(*layers).resolve_scale(color="independent"), height), t_param)
    xs, z = np.asarray(grid["xs"]), np.asarray(grid["z"])
    curve = pd.DataFrame({"x": xs, "f": z})
    xsc = alt.Scale(domain=[float(xs.min()), float(xs.max())], nice=False)
    finite = z[np.isfinite(z)]
    fsc = alt.Scale(domain=[float(finite.min()), float(finite.max())]) if finite.size else alt.Undefined
    f_line = (
        alt.Chart(curve)
        .mark_line(color="gray")
        .encode(x=alt.X("x:Q", scale=xsc, title="x"), y=alt.Y("f:Q", title="f(x)", scale=fsc))
    )
    path = (
        _up_to(alt.Chart(shown), t_param)
        .mark_line(point=alt.OverlayMarkDef(size=30, clip=True), clip=True)
        .encode(
            x=alt.X("x:Q", scale=xsc),
            y=alt.Y("f:Q", scale=fsc),
            order="step:Q",
            color=color,
            opacity=opacity_if(pick, alt.value(0.9), alt.value(0.1)),
            tooltip=tip,
        )
        .add_params(pick)
    )
    cur = (
        _current(alt.Chart(now), t_param)
        .mark_point(size=180, filled=True, shape="diamond", stroke="black", clip=True)
        .encode(
            x=alt.X("x:Q", scale=xsc),
            y=alt.Y("f:Q", scale=fsc),
            color=alt.Color("label:N", legend=None),
            tooltip=tip,
        )
    )
    return _with_param(_sized(alt.layer(f_line, path, cur), height), t_param)


STEP_PARAM = "step"


def _up_to(chart: alt.Chart, t: Any) -> alt.Chart:
    """The rows up to the parameter's step (all rows without a parameter)."""
    return chart if t is None else chart.transform_filter(alt.datum.step <= t)


def _current(chart: alt.Chart, t: Any) -> alt.Chart:
    """Each label's last row up to the parameter's step (the data's own rows without one)."""
    if t is None:
        return chart
    return (
        chart.transform_filter(alt.datum.step <= t)
        .transform_joinaggregate(last="max(step)", groupby=["label"])
        .transform_filter("datum.step == datum.last")
    )


def _with_param(chart: alt.LayerChart, t: Any) -> alt.LayerChart:
    if t is None:
        return chart
    params = [] if isinstance(chart.params, alt.utils.schemapi.UndefinedType) else list(chart.params)
    chart.params = [*params, t.param]
    return chart


def in_window(paths: pd.DataFrame, bounds: Sequence[tuple[float, float]]) -> pd.Series:
    """Which rows of ``paths`` (columns ``x``, and ``y`` in 2-D) lie inside the plotting window."""
    inside = pd.Series(True, index=paths.index)
    for col, (lo, hi) in zip(("x", "y"), bounds, strict=False):
        inside &= paths[col].between(lo, hi)  # NaN (diverged) is outside
    return inside


def steps_outside(paths: pd.DataFrame, bounds: Sequence[tuple[float, float]]) -> dict[str, int]:
    """Per ``label``, how many finite iterates lie outside the window (they are not drawn)."""
    cols = ["x", "y"][: len(bounds)]
    finite = np.isfinite(paths[cols].to_numpy(float)).all(axis=1)
    out = finite & ~in_window(paths, bounds).to_numpy()
    counts = pd.Series(out, index=paths.index).groupby(paths["label"], sort=False).sum()
    return {str(k): int(v) for k, v in counts.items() if v}


def loss_by_step(
    paths: pd.DataFrame,
    step: int | None = None,
    log_y: bool = False,
    f_min: float | None = None,
    bounds: Sequence[tuple[float, float]] | None = None,
) -> alt.LayerChart:
    """f(x_t) against the step t per optimizer (or f − f_min on a log axis).

    With ``bounds`` (the plotting window), the f-axis spans the values of
    the iterates inside the window, so one path that left it (f up to 1e+226
    on Rosenbrock) cannot flatten the others; lines beyond are cut.
    """
    df = paths.copy()
    y = "f"
    if log_y and f_min is not None:
        df["f − f*"] = df["f"] - f_min
        y = "f − f*"
    domain = None
    if bounds is not None:
        vals = df.loc[in_window(df, bounds), y].replace([np.inf, -np.inf], np.nan).dropna()
        if log_y:
            vals = vals[vals > 0]
        if len(vals) and vals.max() > vals.min():
            domain = [float(vals.min()), float(vals.max())]
    return curves(
        df,
        y,
        x="step",
        color="label",
        log_y=log_y,
        y_title=y if y != "f" else "f(x)",
        mark_x=step,
        y_domain=domain,
    )


def schedule_chart(df: pd.DataFrame, log_y: bool = False) -> alt.Chart:
    """Learning rate against the update index, one line per schedule (``label``)."""
    return curves(df, "lr", x="update", color="label", log_y=log_y, y_title="learning rate")


def time_per_epoch(table: pd.DataFrame, label: str = "label", ms: str = "time / epoch (ms)",
                   order: list[str] | None = None) -> alt.Chart:
    """Bars of milliseconds per epoch by batch size (deck 001's timing table as a figure).

    The y-axis is logarithmic, because one sample per update can take a
    hundred times longer than the rest; bars start at half the fastest time.
    """
    order = list(table[label]) if order is None else order
    floor = float(table[ms].min()) / 2
    return (
        alt.Chart(table)
        .mark_bar()
        .encode(
            x=alt.X(f"{label}:N", sort=order, title="batch size", axis=alt.Axis(labelAngle=0)),
            y=alt.Y(f"{ms}:Q", title="milliseconds per epoch (log)", scale=alt.Scale(type="log")),
            y2=alt.datum(floor),
            color=alt.Color(f"{label}:N", title="batch size", sort=order, legend=None,
                            scale=alt.Scale(domain=order, scheme=alt.SchemeParams(**SEQUENTIAL))),
            tooltip=[c for c in table.columns if c != label][:8],
        )
    )


def bias_correction(df: pd.DataFrame, t: str = "step t", y: str = "factor",
                    label: str = "curve") -> alt.Chart:
    """Adam's bias-correction factors against the step (deck 004), both axes logarithmic.

    ``df`` is long: one row per step ``t`` and curve ``label`` (the factors
    1/(1 − β₁ᵗ), 1/(1 − β₂ᵗ) and the step factor √(1 − β₂ᵗ)/(1 − β₁ᵗ)), in
    legend order. A dashed rule marks 1, where every factor ends.
    """
    order = list(dict.fromkeys(df[label]))
    chart = curves(df, y, x=t, color=label, log_x=True, log_y=True, y_title="factor (log)",
                   order=order)
    one = alt.Chart(pd.DataFrame({y: [1.0]})).mark_rule(color="gray", strokeDash=[4, 3]).encode(
        y=f"{y}:Q")
    out = chart.copy()
    out.layer = [*chart.layer, one]
    return out


# curvature signs: vermillion curves down, blue curves up (Okabe & Ito)
SIGN_COLORS = {"negative (curves down)": PALETTE[5], "positive (curves up)": PALETTE[0]}


def eigenvalue_bars(df: pd.DataFrame, point: str = "point", which: str = "eigenvalue",
                    value: str = "value") -> alt.Chart:
    """Hessian eigenvalues as bars, grouped by ``point`` (a saddle, a minimum), one bar per
    eigenvalue (``which``), coloured by sign: mixed signs mark a saddle (deck 001 'Flat regions')."""
    negative, positive = SIGN_COLORS
    data = df.assign(sign=np.where(df[value] < 0, negative, positive))
    points = list(dict.fromkeys(data[point]))
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(f"{point}:N", sort=points, title=None, axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset(f"{which}:N", scale=alt.Scale(paddingInner=0.15)),
            y=alt.Y(f"{value}:Q", title="eigenvalue of the Hessian"),
            color=alt.Color("sign:N", title="sign",
                            scale=alt.Scale(domain=list(SIGN_COLORS), range=list(SIGN_COLORS.values())),
                            legend=alt.Legend(orient="right")),
            tooltip=[alt.Tooltip(f"{point}:N"), alt.Tooltip(f"{which}:N"),
                     alt.Tooltip(f"{value}:Q", format=".4~g")],
        )
    )
    zero = alt.Chart(pd.DataFrame({value: [0.0]})).mark_rule(color=INK).encode(y=alt.Y(f"{value}:Q"))
    return alt.layer(bars, zero)


# -- sweeps -----------------------------------------------------------------------------
def sensitivity(
    trials: pd.DataFrame,
    x: str = "lr",
    y: str = "score",
    color: str = "optimizer",
    y_title: str = "score",
    lower_is_better: bool = True,
    log_y: bool = False,
    chosen: str = "chosen",
    lines: bool = True,
    log_x: bool = True,
    height: int | None = HEIGHT,
) -> alt.LayerChart:
    """A sweep's sensitivity plot: ``y`` against ``x`` (log axis unless ``log_x`` is False),
    one line per ``color``.

    One row per trial; ``lines`` False draws the points only (when a second
    hyperparameter varies too, neighbours along ``x`` are not one curve).
    Trials whose ``y`` is not finite (a diverged run, a target never
    reached) are crosses at the worst edge of the plot (the top
    when lower is better); rows where ``chosen`` is true (each optimizer's
    picked trial) are large diamonds. One dataset feeds every layer.
    """
    data = trials.copy()
    values = pd.to_numeric(data[y], errors="coerce").astype(float)
    finite = np.isfinite(values) & ((data[x] > 0) if log_x else data[x].notna())
    if log_y:
        finite &= values > 0
    data["finite"] = finite
    data[y] = values.where(finite)  # not finite -> null, drawn by the crosses' layer
    data[chosen] = data[chosen].astype(bool) if chosen in data else False
    data = data.sort_values([color, x], kind="stable").reset_index(drop=True)
    pick = alt.selection_point(fields=[color], bind="legend", name="legend_pick")
    x_enc = alt.X(f"{x}:Q", title=title_of(x), scale=alt.Scale(type="log" if log_x else "linear"))
    y_scale = alt.Scale(type="log" if log_y else "linear", zero=False)
    color_enc = alt.Color(f"{color}:N", title=color, legend=alt.Legend(orient="right"))
    tooltip = [alt.Tooltip(f"{color}:N"), alt.Tooltip(f"{x}:Q", format=".4~g"),
               alt.Tooltip(f"{y}:Q", title=y_title, format=".4~g"), alt.Tooltip("status:N")]
    base = alt.Chart(data).encode(x=x_enc, color=color_enc)
    shown = alt.datum.finite
    y_axis = alt.Axis(format="~e" if _huge(data[y]) else alt.Undefined)
    line = (base.transform_filter(shown).mark_line()
            .encode(y=alt.Y(f"{y}:Q", title=y_title, scale=y_scale, axis=y_axis),
                    opacity=opacity_if(pick, alt.value(0.9), alt.value(0.12)))
            .add_params(pick))
    points = (base.transform_filter(shown).mark_point(filled=True, size=70)
              .encode(y=alt.Y(f"{y}:Q", title=y_title, scale=y_scale, axis=y_axis), tooltip=tooltip,
                      opacity=opacity_if(pick, alt.value(1.0), alt.value(0.12))))
    best = (base.transform_filter(shown & (alt.datum[chosen] == True))  # noqa: E712 - a Vega expression
            .mark_point(shape="diamond", filled=True, size=340, stroke=INK, strokeWidth=2)
            .encode(y=alt.Y(f"{y}:Q", scale=y_scale), tooltip=tooltip))
    edge = alt.YValue(0) if lower_is_better else alt.YValue("height")
    crosses = (base.transform_filter(~shown).mark_point(shape="cross", filled=True, size=160,
                                                         angle=45, clip=False)
               .encode(y=edge, tooltip=tooltip))
    layers = [line, points, best, crosses] if lines else [points.add_params(pick), best, crosses]
    return _sized(alt.layer(*layers), height)


def ranking_slopes(
    df: pd.DataFrame, y: str = "score", x: str = "setting", color: str = "optimizer",
    y_title: str = "score", order: Sequence[str] = ("default", "tuned"), log_y: bool = False,
    height: int | None = HEIGHT,
) -> alt.LayerChart:
    """A slope chart: each ``color``'s ``y`` at each ``x`` (e.g. default vs tuned), joined by a line.

    Lines that cross are rankings that change. Values that are not finite
    (a diverged setting) are left out.
    """
    data = _clean(df, [y], log_y)
    base = alt.Chart(data).encode(
        x=alt.X(f"{x}:N", title=None, sort=list(order), axis=alt.Axis(labelAngle=0)),
        y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(type="log" if log_y else "linear", zero=False)),
        color=alt.Color(f"{color}:N", title=color),
        tooltip=[alt.Tooltip(f"{color}:N"), alt.Tooltip(f"{x}:N"),
                 alt.Tooltip(f"{y}:Q", title=y_title, format=".4~g")],
    )
    return _sized(alt.layer(base.mark_line(), base.mark_point(filled=True, size=90)), height)
