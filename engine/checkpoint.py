"""Save, load and resume runs as ``.npz`` + JSON (never pickle).

One ``.npz`` file holds the arrays (parameters, batch-norm running
statistics, optimizer state, history columns) and one JSON document (config,
status, summaries, loop counters and the batch RNG state). It is read with
``allow_pickle=False``, so a file from anywhere cannot run code.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine import version
from engine.config import RunConfig
from engine.optim.base import state_from_arrays, state_to_arrays
from engine.train import RunResult, train

FORMAT = "optimizer-lab-run/1"


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def to_bytes(result: RunResult) -> bytes:
    """The run as the bytes of one ``.npz`` file."""
    arrays: dict[str, np.ndarray] = {}
    if result.params is not None:
        arrays["params"] = result.params
    for k, v in result.model_state.items():
        arrays[f"model_state/{k}"] = np.asarray(v)
    for k, v in state_to_arrays(result.opt_state).items():
        arrays[f"opt_state/{k}"] = v
    columns = list(result.history.columns)
    for c in columns:
        arrays[f"history/{c}"] = result.history[c].to_numpy(dtype=np.float64, na_value=np.nan)
    meta = {
        "format": FORMAT,
        "engine_version": version.ENGINE_VERSION,
        "config": result.config.to_dict(),
        "key": result.key,
        "status": result.status,
        "stop_reason": result.stop_reason,
        "task": result.task,
        "diverged_at": result.diverged_at,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "test_metrics": result.test_metrics,
        "timings": result.timings,
        "progress": result.progress,
        "history_columns": columns,
    }
    arrays["meta"] = np.array(json.dumps(meta, default=_json_default))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def from_bytes(blob: bytes) -> RunResult:
    """Inverse of :func:`to_bytes`."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != FORMAT:
            raise ValueError(f"file: not an Optimizer Lab run (format {meta.get('format')!r})")
        params = z["params"] if "params" in z else None
        model_state = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("model_state/")}
        opt_state = state_from_arrays(
            {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("opt_state/")}
        )
        history = pd.DataFrame({c: z[f"history/{c}"] for c in meta["history_columns"]})
    config = RunConfig.from_dict(meta["config"])
    best_val = meta["best_val_loss"]
    return RunResult(
        config=config,
        key=meta["key"],
        history=history,
        status=meta["status"],
        stop_reason=meta["stop_reason"],
        task=meta["task"],
        diverged_at=meta["diverged_at"],
        best_epoch=meta["best_epoch"],
        best_val_loss=math.nan if best_val is None else best_val,
        test_metrics=meta["test_metrics"],
        timings=meta["timings"],
        params=params,
        model_state=model_state,
        opt_state=opt_state,
        progress=meta["progress"],
    )


def save_run(result: RunResult, path: str | Path) -> Path:
    """Write ``result`` to ``path`` (``.npz``)."""
    path = Path(path)
    path.write_bytes(to_bytes(result))
    return path


def load_run(path: str | Path) -> RunResult:
    """Read a run written by :func:`save_run`."""
    return from_bytes(Path(path).read_bytes())


def resume(result: RunResult | str | Path, epochs: int | None = None, max_updates: int | None = None,
           callback=None) -> RunResult:
    """Continue a saved run up to a larger budget.

    The parameters, optimizer state, batch-norm statistics, batch RNG state,
    early-stopping and plateau counters all come from the checkpoint, so the
    result equals a run trained for the larger budget in one go. A schedule
    that depends on the total budget (cosine, linear) uses the new budget.
    """
    if not isinstance(result, RunResult):
        result = load_run(result)
    if result.status == "diverged":
        raise ValueError("checkpoint: a diverged run cannot be resumed")
    changes: dict[str, Any] = {}
    if epochs is not None:
        changes["epochs"] = epochs
    if max_updates is not None:
        changes["max_updates"] = max_updates
    config = result.config.replace(**changes) if changes else result.config
    start = {
        "params": result.params,
        "model_state": result.model_state,
        "opt_state": result.opt_state,
        "loop": result.progress,
        "history": result.history,
    }
    return train(config, callback, start=start)
