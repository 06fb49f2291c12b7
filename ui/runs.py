"""The Runs page's table and its operator-guarded deletion."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from ui import cache

METRICS = ["val_loss", "train_loss", "val_acc", "train_acc", "val_r2", "lr"]
# the operator's switch: without it the store is read-only for everyone who opens the app
DELETE_ENV = "OPTLAB_ALLOW_DELETE"
TABLE = "runs_table_version"  # part of the table's key: a new key clears the grid's ticks
# what tells runs apart first, then the metrics; the key last (it is long and says little)
COLUMNS = [
    "label", "optimizer", "lr", "hidden", "dataset", "status", "best_val_loss", "final_val_loss",
    "final_val_metric", "test_loss", "total_s", "mode", "batch_size", "epochs", "seed", "created",
    "engine", "key",
]


def run_name(row: pd.Series) -> str:
    """The run's label, or what tells it apart: optimizer, mode, batch size, seed, key."""
    if row["label"]:
        return f"{row['label']} · {row['key'][:6]}"
    mode = {"batch": "full batch", "sgd": "b=1"}.get(row["mode"], f"b={row['batch_size']}")
    return f"{row['optimizer']} · {row['dataset']} · {mode} · seed {row['seed']} · {row['key'][:6]}"


def deletion_allowed() -> bool:
    return os.environ.get(DELETE_ENV, "").strip() == "1"


def short_name(row: pd.Series) -> str:
    """The run's label (or optimizer) and the first characters of its key."""
    return f"{row['label'] or row['optimizer']} · {row['key'][:6]}"


def delete(keys: list[str], names: list[str]) -> None:
    if not deletion_allowed():
        return
    cache.store().delete(keys)
    cache.forget(keys)
    ss = st.session_state
    ss[TABLE] = ss.get(TABLE, 0) + 1  # a fresh grid: no row of it is ticked
    ss["runs_deleted"] = names


def hidden_text(widths) -> str:
    return ", ".join(str(w) for w in widths) if len(widths) else "linear"


def delete_block(slot, keys: list[str], names: list[str]) -> None:
    """Delete the selected runs after a confirmation naming them, where the operator allows it."""
    if not deletion_allowed():
        slot.caption(
            "Deletion is turned off on this server.",
            help=f"The operator allows it by starting the app with {DELETE_ENV}=1.",
        )
        return
    with slot.popover("Delete selected", icon=":material/delete:"):
        n = len(keys)
        st.markdown(f"Delete {'this run' if n == 1 else f'these {n} runs'} from the store?")
        st.text("\n".join(names))
        st.caption("Anyone who asks for them again trains them again.")
        st.button(
            f"Delete {n} run{'s' if n != 1 else ''}", key="runs_delete", type="primary",
            on_click=delete, args=(keys, names),
        )
