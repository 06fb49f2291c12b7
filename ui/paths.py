"""Optimizer paths on a test surface, as the Playground and its lessons show them.

:func:`frame` turns trajectories into one long table; :func:`notice` says,
once for all paths, which diverged and which left the plotted window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import streamlit as st

from engine import surfaces
from ui import charts


def frame(surface: str, trajectories: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Paths as one long table: label, step, x, (y), f."""
    spec = surfaces.REGISTRY[surface]
    frames = []
    for label, traj in trajectories.items():
        with np.errstate(all="ignore"):  # a diverged path's f overflows harmlessly
            f = np.asarray(spec.extra["f_grid"](*traj.T), float)
        df = pd.DataFrame({"label": label, "step": np.arange(len(traj)), "x": traj[:, 0], "f": f})
        if traj.shape[1] == 2:
            df["y"] = traj[:, 1]
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def diverged(paths: pd.DataFrame) -> dict[str, int]:
    """Per label, the first step whose iterate is not finite (paths that diverged only)."""
    cols = ["x", "y"] if "y" in paths else ["x"]
    out = {}
    for label, df in paths.groupby("label", sort=False):
        bad = ~np.isfinite(df[cols].to_numpy(float)).all(axis=1)
        if bad.any():
            out[str(label)] = int(df["step"].iloc[int(np.argmax(bad))])
    return out


def notice(paths: pd.DataFrame, bounds: Sequence[tuple[float, float]], steps: int) -> None:
    """One warning for the paths that diverged, one caption for those that left the window."""
    gone = diverged(paths)
    outside = charts.steps_outside(paths, bounds)
    if gone:
        st.warning(
            ("These paths" if len(gone) > 1 else "This path")
            + " diverged (lower the learning rate): "
            + ", ".join(f"{label} at step {step}" for label, step in gone.items()) + ".",
            icon=":material/warning:",
        )
    if outside:
        st.caption(
            "Left the window (those steps are not drawn): "
            + ", ".join(f"{label} {n} of {steps} steps" for label, n in outside.items()) + "."
        )
