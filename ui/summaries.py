"""Tables that summarise runs: the Compare leaderboard and the Modes timing table.

Pure pandas; a "run" is anything with a RunResult's ``history``, ``status``,
``best_val_loss``, ``best_epoch``, ``timings``, ``test_metrics`` and ``task``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

TARGETS = {
    "val_loss": "validation loss ≤",
    "val_acc": "validation accuracy ≥",
    "val_r2": "validation R² ≥",
}


def first_reaching(history: pd.DataFrame, column: str, target: float) -> pd.Series | None:
    """The first history row where ``column`` reaches ``target`` (≤ for losses, ≥ otherwise)."""
    if column not in history:
        return None
    values = history[column]
    hit = values <= target if column.endswith("loss") else values >= target
    hit = hit & values.notna()
    if not hit.any():
        return None
    return history.loc[hit.idxmax()]


def metric_column(task: str) -> str:
    return "val_r2" if task == "regression" else "val_acc"


def run_row(
    label: str, result: Any, target_column: str, target: float, seed: int = 0
) -> dict[str, Any]:
    """One run's figures: best/final loss and metric, time to target, status."""
    h = result.history
    mcol = metric_column(result.task)
    last = h.iloc[-1]
    reached = first_reaching(h, target_column, target)
    return {
        "optimizer": label,
        "seed": seed,
        "best val loss": result.best_val_loss,
        "best epoch": result.best_epoch,
        "final val loss": float(last["val_loss"]),
        "final val " + ("R²" if mcol == "val_r2" else "accuracy"): float(last.get(mcol, np.nan)),
        "epochs to target": float(reached["epoch"]) if reached is not None else math.nan,
        "time to target (s)": float(reached["time_s"]) if reached is not None else math.nan,
        "time (s)": float(result.timings.get("total_s", math.nan)),
        "diverged": result.status == "diverged",
        "status": result.status,
    }


def leaderboard(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per optimizer: figures averaged over seeds, best first.

    A run that never reached the target counts as not reaching it in the
    average (the mean is taken over the seeds that did, and ``reached`` says
    how many).
    """
    df = pd.DataFrame(list(rows))
    if df.empty:
        return df
    numeric = [c for c in df.columns if c not in ("optimizer", "seed", "diverged", "status")]
    agg: dict[str, Any] = {c: "mean" for c in numeric}
    agg.update({"diverged": "any", "seed": "count", "status": lambda s: ", ".join(sorted(set(s)))})
    out = df.groupby("optimizer", sort=False).agg(agg).rename(columns={"seed": "seeds"})
    out["reached target"] = df.groupby("optimizer", sort=False)["epochs to target"].apply(
        lambda s: f"{int(s.notna().sum())}/{len(s)}"
    )
    out = out.reset_index().sort_values("best val loss", na_position="last", kind="stable")
    out.insert(0, "rank", range(1, len(out) + 1))
    return out.reset_index(drop=True)


# Columns in seconds that read better in milliseconds (0.0008195 s -> 0.82 ms)
MS_COLUMNS = {"time / epoch (s)": "time / epoch (ms)", "time to target (s)": "time to target (ms)"}


def lecture_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The timing rows as shown in a lecture: milliseconds where seconds would be tiny,
    whole numbers as integers, and missing figures as empty cells (not "None" or "nan").
    """
    df = pd.DataFrame(list(rows))
    for s_col, ms_col in MS_COLUMNS.items():
        if s_col in df:
            df[s_col] = pd.to_numeric(df[s_col], errors="coerce") * 1e3
            df = df.rename(columns={s_col: ms_col})
    for col in df.columns:
        if df[col].dtype == object:
            values = df[col]
            numeric = pd.to_numeric(values, errors="coerce")
            if values.isna().all() or numeric.notna().sum() == values.notna().sum():
                df[col] = numeric  # None -> NaN, shown as an empty cell
        if df[col].dtype.kind == "f":
            df[col] = df[col].replace([np.inf, -np.inf], np.nan)
    for col in ("updates / s", "samples / s"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").round()
    for col in ("epochs to target", "updates / epoch", "batch size", "updates / s", "samples / s"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    return df


def timing_row(label: str, batch_size: int, result: Any, target: float) -> dict[str, Any]:
    """One line of the batch-size timing table (deck 001's table, with more columns)."""
    t = result.timings
    reached = first_reaching(result.history, "val_loss", target)
    return {
        "mode": label,
        "batch size": batch_size,
        "updates / epoch": int(t.get("updates_per_epoch", 0)),
        "time / epoch (s)": t.get("per_epoch_s", math.nan),
        "updates / s": t.get("updates_per_s", math.nan),
        "samples / s": t.get("samples_per_s", math.nan),
        "epochs to target": float(reached["epoch"]) if reached is not None else math.nan,
        "time to target (s)": float(reached["time_s"]) if reached is not None else math.nan,
        "final val loss": float(result.history["val_loss"].iloc[-1]),
        "training time (s)": t.get("train_s", t.get("total_s", math.nan)),
        "status": result.status,
    }
