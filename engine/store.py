"""The persistent run store: SQLite, keyed by ``RunConfig.key()``.

Configs, status, summaries, histories and parameters survive restarts, and a
config that has already been run is read back instead of trained again. Each
row keeps the whole run as the same ``.npz`` bytes a checkpoint file holds
(no pickle), plus JSON columns for listing and filtering without loading it.

Every call opens its own connection, so one store can serve the many threads
of a Streamlit server; WAL mode lets readers proceed while a run is written.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

import pandas as pd

from engine import paths, version
from engine.checkpoint import from_bytes, to_bytes
from engine.config import RunConfig
from engine.train import RunResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    label TEXT,
    created REAL NOT NULL,
    engine_version TEXT NOT NULL,
    config TEXT NOT NULL,
    summary TEXT NOT NULL,
    blob BLOB NOT NULL
)
"""

LIST_COLUMNS = [
    "key", "label", "created", "dataset", "optimizer", "lr", "hidden", "mode", "batch_size", "epochs",
    "seed", "status", "best_val_loss", "final_val_loss", "final_val_metric", "test_loss", "total_s",
    "engine_version", "current",
]


def _lr(params: dict) -> float | None:
    """A stored config's learning rate (a wrapper optimizer's is its inner optimizer's)."""
    return params.get("lr", (params.get("inner_params") or {}).get("lr"))


class RunStore:
    """A folder-local SQLite database of finished runs.

    A store in a folder that cannot be written (a read-only host, a full
    disk at start-up) opens read-only: every stored run is still served,
    and :meth:`put` and :meth:`delete` raise ``sqlite3.OperationalError``
    with a message saying so. ``read_only=True`` asks for that explicitly.
    """

    def __init__(self, path: str | Path | None = None, read_only: bool | None = None) -> None:
        self.path = Path(path) if path is not None else paths.store_path()
        self.read_only = bool(read_only)
        if not self.read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with closing(self._connect()) as con, con:
                    con.execute("PRAGMA journal_mode=WAL")
                    con.execute(SCHEMA)
            except (sqlite3.Error, OSError):
                if read_only is False or not self.path.is_file():
                    raise
                self.read_only = True  # serve what is there
        if self.read_only and not self.path.is_file():
            raise ValueError(f"store: {self.path} does not exist and cannot be created")

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            # immutable: no -wal/-shm files are needed (or created) beside the database
            return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                   timeout=30)
        return sqlite3.connect(self.path, timeout=30)

    def _writable(self) -> None:
        if self.read_only:
            raise sqlite3.OperationalError(
                f"the run store {self.path.name} is read-only on this server; new runs are not saved")

    # -- single runs -----------------------------------------------------
    def put(self, result: RunResult, label: str | None = None) -> None:
        """Store (or replace) a run under its key."""
        self._writable()
        summary = result.summary()
        with closing(self._connect()) as con, con:
            con.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (result.key, label, time.time(), version.ENGINE_VERSION, result.config.to_json(),
                 json.dumps(summary), to_bytes(result)),
            )

    def get(self, key: str) -> RunResult | None:
        """The stored run, or None."""
        with closing(self._connect()) as con:
            row = con.execute("SELECT blob FROM runs WHERE key = ?", (key,)).fetchone()
        return from_bytes(row[0]) if row else None

    def __contains__(self, key: str) -> bool:
        with closing(self._connect()) as con:
            return con.execute("SELECT 1 FROM runs WHERE key = ?", (key,)).fetchone() is not None

    def config(self, key: str) -> RunConfig:
        with closing(self._connect()) as con:
            row = con.execute("SELECT config FROM runs WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise ValueError(f"key: no stored run has key {key!r}")
        return RunConfig.from_dict(json.loads(row[0]))

    def delete(self, keys: Iterable[str]) -> int:
        """Remove runs; returns how many were removed."""
        self._writable()
        keys = list(keys)
        with closing(self._connect()) as con, con:
            cur = con.executemany("DELETE FROM runs WHERE key = ?", [(k,) for k in keys])
            return cur.rowcount if cur.rowcount >= 0 else len(keys)

    # -- tables ----------------------------------------------------------
    def list(self) -> pd.DataFrame:
        """One row per stored run, newest first, with the columns of LIST_COLUMNS.

        ``current`` is False for a run stored by another engine version: it
        stays listable and readable, but its key is not one the current
        engine makes, so it is never served as a cache hit.
        """
        with closing(self._connect()) as con:
            rows = con.execute(
                "SELECT key, label, created, config, summary, engine_version FROM runs "
                "ORDER BY created DESC"
            ).fetchall()
        records = []
        for key, label, created, cfg, summ, engine_version in rows:
            c, s = json.loads(cfg), json.loads(summ)
            records.append({
                "key": key, "label": label,
                "created": pd.Timestamp(created, unit="s"),
                "dataset": c["dataset"], "optimizer": c["optimizer"],
                "lr": _lr(c.get("optimizer_params") or {}), "hidden": tuple(c["hidden"]),
                "mode": c["mode"],
                "batch_size": c["batch_size"], "epochs": c["epochs"], "seed": c["seed"],
                "status": s.get("status"), "best_val_loss": s.get("best_val_loss"),
                "final_val_loss": s.get("final_val_loss"),
                "final_val_metric": s.get("final_val_metric"),
                "test_loss": s.get("test_loss"), "total_s": s.get("total_s"),
                "engine_version": engine_version,
                "current": engine_version == version.ENGINE_VERSION,
            })
        return pd.DataFrame.from_records(records, columns=LIST_COLUMNS)

    def histories(self, keys: Iterable[str]) -> pd.DataFrame:
        """The history rows of several runs, stacked long, with ``key`` and ``label``."""
        frames = []
        for key in keys:
            with closing(self._connect()) as con:
                row = con.execute("SELECT label, blob FROM runs WHERE key = ?", (key,)).fetchone()
            if row is None:
                continue
            result = from_bytes(row[1])
            h = result.history.copy()
            h.insert(0, "label", row[0] or f"{result.config.optimizer} · {key[:6]}")
            h.insert(0, "key", key)
            frames.append(h)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["key", "label"])

    def __len__(self) -> int:
        with closing(self._connect()) as con:
            return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
