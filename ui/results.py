"""Drawing results on a page: charts with PNG export, summaries, downloads."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import altair as alt
import streamlit as st

from ui import cache, charts, state, theme
from ui.charts import X_TITLES

X_AXES = ["epoch", "updates", "samples_seen", "time_s"]


def png_bytes(chart: alt.TopLevelMixin, scale: float = 2.0, present: bool = False) -> bytes:
    """The chart as a PNG in the screen's theme (rendered by vl-convert, no browser needed)."""
    import vl_convert

    return vl_convert.vegalite_to_png(json.dumps(charts.png_spec(chart, present)), scale=scale)


def chart_with_download(chart: alt.TopLevelMixin | Callable[[], alt.TopLevelMixin], name: str,
                        key: str | None = None, view: Hashable | None = None) -> None:
    """Draw ``chart`` in the projector theme with a small "PNG" download button under it.

    The chart is as wide as its column and as tall as a share of the browser
    window (more in presentation mode). The PNG, rendered only when the
    button is clicked, has the same palette and fonts. The chart is drawn
    from a spec cached for every session (:func:`ui.cache.draw_chart`); with
    ``view`` (a key naming everything it shows) ``chart`` may be a function
    that builds it, called only when no session drew that view before.
    """
    present = theme.presenting()
    cache.draw_chart(chart, present, view)
    build = cache.builder(chart)
    st.download_button(
        "PNG",
        data=lambda: png_bytes(build(), present=present),
        file_name=f"{name}.png",
        mime="image/png",
        key=key or f"png_{name}",
        on_click="ignore",
        icon=":material/download:",
        type="tertiary",
        help="Download this chart as an image.",
    )


def boundary_chart(result: Any, height: int | None = None) -> alt.TopLevelMixin:
    """The decision boundary of a run on 2-D data: its network's prediction over the plane
    (``engine.train.decision_surface``) behind the training samples."""
    from engine.train import decision_surface

    surf = decision_surface(result)
    if result.task == "regression":
        task = "regression"
    else:
        task = "binary" if len(set(surf["y"].tolist())) <= 2 else "multiclass"
    return charts.decision_boundary(surf, task) if height is None else (
        charts.decision_boundary(surf, task, height=height))


@contextlib.contextmanager
def guard(what: str = "This part of the page") -> Iterator[None]:
    """Show an error instead of a traceback (Streamlit's own stop/rerun still pass)."""
    try:
        yield
    except ValueError as e:
        st.error(str(e), icon=":material/error:")
    except Exception as e:  # noqa: BLE001 - nothing may reach the page as a traceback
        st.error(f"{what} could not be shown: {type(e).__name__}: {state.plain(e, 300)}",
                 icon=":material/error:")


def x_axis_picker(key: str, default: str = "epoch") -> str:
    return state.bind(
        st.segmented_control,
        key,
        default,
        lambda raw: state.parse_choice(raw, X_AXES),
        "x-axis",
        X_AXES,
        format_func=lambda x: X_TITLES[x].split(" (")[0],
        selection_mode="single",
        required=True,
        help="Epochs count passes over the data; updates count optimizer steps; wall time "
        "counts what you actually wait.",
    )


def log_toggle(key: str, label: str = "Log y", default: bool = False) -> bool:
    return state.bind(
        st.toggle,
        key,
        default,
        state.parse_bool,
        label,
        help="A log scale shows late, small improvements and spans orders of magnitude.",
    )


def number(x: Any, fmt: str = ".4g") -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "–"
    return format(v, fmt) if math.isfinite(v) else "–"


def duration(seconds: Any) -> str:
    """``0.00061`` -> ``0.61 ms``; ``2.5`` -> ``2.5 s``."""
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(s):
        return "–"
    return f"{s * 1e3:.3g} ms" if abs(s) < 0.1 else f"{s:.3g} s"


BLOW_UP = 10.0  # a loss this many times its starting value has left the minimum's basin


def blown_up(history) -> dict | None:
    """Where a run that stayed finite diverged: the first evaluation whose loss exceeds
    ``BLOW_UP`` times its starting value, in a run that ends above where it started.

    Returns its ``updates``, ``epoch``, the starting and the largest loss, or None.
    """
    if "train_loss" not in history or len(history) < 2:
        return None
    losses = history[[c for c in ("train_loss", "val_loss") if c in history]]
    start = float(losses.iloc[0].max())
    if not (math.isfinite(start) and start > 0):
        return None
    worst = losses.max(axis=1)
    above = worst > BLOW_UP * start
    if not above.any() or not float(history["train_loss"].iloc[-1]) > start:
        return None
    at = history.loc[above.idxmax()]
    return {"updates": int(at["updates"]), "epoch": float(at["epoch"]), "start": start,
            "peak": float(worst.max())}


def status_note(result) -> None:
    """Explain how the run ended (a diverged run says where and what to try).

    A run whose loss exploded but stayed finite completes its epochs in the
    engine; here it is called diverged too, at the update where it blew up.
    """
    blew = blown_up(result.history) if result.status == "completed" else None
    if result.status == "diverged":
        st.error(f"**Diverged.** {result.stop_reason}", icon=":material/trending_up:")
    elif blew is not None:
        st.error(
            f"**Diverged at update {blew['updates']}** (epoch {blew['epoch']:g}): the loss rose "
            f"from {number(blew['start'], '.3g')} to {number(blew['peak'], '.3g')} and ended "
            "above where it started, so the run went through its epochs without learning. "
            "Try a learning rate ten times smaller.",
            icon=":material/trending_up:",
        )
    elif result.status == "early_stopped":
        st.info(f"**Stopped early.** {result.stop_reason}", icon=":material/front_hand:")
    elif result.status == "interrupted":
        st.warning(f"**Interrupted.** {result.stop_reason}")
    else:
        st.caption(result.stop_reason)


def summary_metrics(result) -> None:
    """Best validation loss and its epoch, test metrics, timing."""
    metric = "R²" if result.task == "regression" else "accuracy"
    test_metric = result.test_metrics.get("test_r2" if result.task == "regression" else "test_acc")
    cols = st.columns(5)
    cols[0].metric(
        "Best validation loss",
        number(result.best_val_loss),
        help="The lowest validation loss of the run.",
    )
    cols[1].metric(
        "Best epoch",
        number(result.best_epoch, "g"),
        help="The epoch at which the validation loss was lowest.",
    )
    cols[2].metric(
        "Test loss",
        number(result.test_metrics.get("test_loss")),
        help="Loss on the held-out test split, with the final (or restored best) weights.",
    )
    cols[3].metric(f"Test {metric}", number(test_metric, ".3f"))
    cols[4].metric(
        "Time per epoch",
        duration(result.timings.get("per_epoch_s")),
        help=f"{number(result.timings.get('updates_per_epoch'), 'g')} updates per epoch, "
        f"{number(result.timings.get('updates_per_s'), '.3g')} updates/s.",
    )


def downloads(result, name: str, key_prefix: str) -> None:
    c1, c2 = st.columns(2)
    c1.download_button(
        "History (CSV)",
        result.history.to_csv(index=False),
        f"{name}-history.csv",
        "text/csv",
        key=f"{key_prefix}_dl_history",
        icon=":material/table:",
        on_click="ignore",
    )
    c2.download_button(
        "Config (JSON)",
        json.dumps(result.config.to_dict(), indent=2),
        f"{name}-config.json",
        "application/json",
        key=f"{key_prefix}_dl_config",
        icon=":material/data_object:",
        on_click="ignore",
    )


CURVES = ["val_loss", "train_loss", "val_acc", "train_acc", "val_r2", "lr"]


def metric_picker(key: str, history, choices: list[str] = CURVES) -> str:
    """A 'Curve' selectbox over the history columns that exist (URL-synced)."""
    available = [m for m in choices if m in history]
    return state.bind(
        st.selectbox,
        key,
        "val_loss",
        lambda r: state.parse_choice(r, choices),
        "Curve",
        available,
        format_func=charts.title_of,
        fix=lambda v: v if v in available else "val_loss",
    )
