"""Save, load and resume runs as ``.npz`` + JSON (never pickle).

One ``.npz`` file holds the arrays (parameters, batch-norm running
statistics, optimizer state, history columns) and one JSON document (config,
status, summaries, loop counters and the batch RNG state). It is read with
``allow_pickle=False``, so a file from anywhere cannot run code.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine import data, optim, version
from engine.config import RunConfig
from engine.nn.mlp import MLP
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


# a checkpoint is refused before it is read when it declares more than this
MAX_BYTES = 2 * 2**30
_META_KEYS = {
    "format": str, "engine_version": str, "config": dict, "key": str, "status": str,
    "stop_reason": str, "task": str, "test_metrics": dict, "timings": dict, "progress": dict,
    "history_columns": list,
}
_STATUSES = ("completed", "early_stopped", "diverged", "interrupted")


def _bad(what: str) -> ValueError:
    return ValueError(f"file: {what}; allowed: a run written by save_run (python -m engine train --out)")


def _members(blob: bytes) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Name -> (shape, dtype) of every array in the archive, read from the .npy headers only.

    Nothing is allocated from what the file declares until its sizes are known
    to be consistent: a header that claims more data than its member holds, an
    object dtype, or a total beyond :data:`MAX_BYTES` is refused here.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(blob))
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        if total > MAX_BYTES:
            raise _bad(f"the archive declares {total / 2**30:.1f} GB of arrays, over the "
                       f"{MAX_BYTES / 2**30:.0f} GB limit")
        out: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise _bad(f"unexpected member {info.filename[:60]!r}")
            name = info.filename[:-4]
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                header = f.tell()
            if dtype.hasobject:
                raise _bad(f"member {name!r} holds Python objects")
            need = math.prod(shape) * dtype.itemsize
            if need != info.file_size - header:
                raise _bad(f"member {name!r} declares shape {shape} ({need:,} bytes) but holds "
                           f"{info.file_size - header:,} bytes")
            out[name] = (tuple(shape), dtype)
        return out
    except ValueError as e:
        if str(e).startswith("file:"):
            raise
        raise _bad(f"not a readable .npz archive ({str(e)[:120]})") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, KeyError, RuntimeError) as e:
        raise _bad(f"not a readable .npz archive, truncated or damaged ({type(e).__name__})") from None


def _read_meta(z) -> dict[str, Any]:
    raw = z["meta"]
    if raw.shape != () or raw.dtype.kind != "U":
        raise _bad("member 'meta' is not a JSON text")
    try:
        meta = json.loads(str(raw), parse_constant=lambda c: None)
    except (json.JSONDecodeError, RecursionError):
        raise _bad("member 'meta' is not valid JSON") from None
    if not isinstance(meta, dict):
        raise _bad("member 'meta' is not a JSON object")
    if meta.get("format") != FORMAT:
        raise ValueError(f"file: not an Optimizer Lab run (format {str(meta.get('format'))[:40]!r})")
    for k, t in _META_KEYS.items():
        if not isinstance(meta.get(k), t):
            raise _bad(f"meta.{k} is missing or not a {t.__name__}")
    if meta["status"] not in _STATUSES:
        raise _bad(f"meta.status {meta['status'][:40]!r} is not one of {', '.join(_STATUSES)}")
    if not all(isinstance(c, str) for c in meta["history_columns"]):
        raise _bad("meta.history_columns is not a list of names")
    return meta


def _key_for(config: RunConfig, engine_version: str) -> str:
    """The run key ``config`` has under ``engine_version`` (RunConfig.key for this engine)."""
    if engine_version == version.ENGINE_VERSION:
        return config.key()
    payload = json.dumps({"engine": engine_version, "config": config.to_dict()}, sort_keys=True,
                         separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _expected_state(config: RunConfig, n: int) -> dict[str, tuple[tuple[int, ...], str]]:
    """Key -> (shape, dtype kind) of the optimizer state for ``n`` parameters, from the
    optimizer's own ``init`` on two small sizes (the dimensions that follow the size are ``n``)."""
    opt = optim.create(config.optimizer, **config.optimizer_params)
    dt = np.dtype(config.dtype)
    a, b = (state_to_arrays(opt.init(np.zeros(m, dtype=dt))) for m in (2, 3))
    return {k: (tuple(n if x != y else x for x, y in zip(v.shape, b[k].shape, strict=True)), v.dtype.kind)
            for k, v in a.items()}


def _check_arrays(config: RunConfig, meta: dict[str, Any], members: dict) -> None:
    """Every member is one the run must have, with the dtype and shape its config implies."""
    dt = np.dtype(config.dtype)
    if "params" not in members:  # a run without parameters keeps no state either
        members = {k: v for k, v in members.items() if k != "meta"}
        if any(not k.startswith("history/") for k in members):
            raise _bad("member 'params' is missing")
        _check_history(meta, members)
        return
    shape, dtype = members["params"]
    if len(shape) != 1 or dtype != dt:
        raise _bad(f"params has shape {shape} and dtype {dtype}; expected one {dt} vector")
    n = shape[0]
    spec = data.REGISTRY.get_spec(config.dataset, "config.dataset")
    if config.dataset != "csv":
        d, k = spec.extra["shape"](config.dataset_params)
        want = MLP.n_params_for(d, config.hidden, k, config.batchnorm)
        if n != want:
            raise _bad(f"params has {n} values; the config's network has {want}")
    state = _expected_state(config, n)
    got = {name.split("/", 1)[1]: v for name, v in members.items() if name.startswith("opt_state/")}
    if set(got) != set(state):
        raise _bad(f"the optimizer state has {sorted(got)[:8]}; {config.optimizer} keeps {sorted(state)}")
    for key, (want_shape, kind) in state.items():
        shape, dtype = got[key]
        if shape != want_shape or dtype.kind != kind or (kind == "f" and len(shape) and dtype != dt):
            raise _bad(f"opt_state/{key} has shape {shape} and dtype {dtype}; expected shape "
                       f"{want_shape}")
    widths = [w for w in config.hidden] if config.batchnorm else []
    want_model = {f"bn{i + 1}.{s}": (w,) for i, w in enumerate(widths) for s in ("mean", "var")}
    model = {name.split("/", 1)[1]: v for name, v in members.items() if name.startswith("model_state/")}
    if set(model) != set(want_model):
        raise _bad(f"model_state has {sorted(model)[:8]}; the config's network keeps {sorted(want_model)}")
    for key, want_shape in want_model.items():
        if model[key] != (want_shape, dt):
            raise _bad(f"model_state/{key} has shape {model[key][0]} and dtype {model[key][1]}; "
                       f"expected {want_shape} {dt}")
    known = {"params", "meta"} | {f"opt_state/{k}" for k in state} | {f"model_state/{k}" for k in want_model}
    _check_history(meta, {k: v for k, v in members.items() if k not in known})


def _check_history(meta: dict[str, Any], members: dict) -> None:
    """``members`` (all but the parameters and state) are exactly the history columns."""
    columns = meta["history_columns"]
    extra = sorted(k for k in members if not k.startswith("history/"))
    if extra:
        raise _bad(f"unexpected member {extra[0][:60]!r}")
    hist = {name.split("/", 1)[1]: v for name, v in members.items()}
    if set(hist) != set(columns) or len(columns) != len(set(columns)):
        raise _bad("the history columns do not match meta.history_columns")
    lengths = {v[0] for v in hist.values()}
    if any(len(v[0]) != 1 or v[1] != np.float64 for v in hist.values()) or len(lengths) > 1:
        raise _bad("the history columns are not float64 vectors of one length")


def from_bytes(blob: bytes) -> RunResult:
    """Inverse of :func:`to_bytes`. A damaged or tampered file raises ValueError saying what is
    wrong: not a zip, truncated, a missing or unexpected member, an array of the wrong dtype or
    shape for its config, sizes beyond the file, or a key that is not its config's key."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise _bad(f"{type(blob).__name__} is not the bytes of a run")
    if len(blob) > MAX_BYTES:
        raise _bad(f"{len(blob) / 2**30:.1f} GB is over the {MAX_BYTES / 2**30:.0f} GB limit")
    blob = bytes(blob)
    members = _members(blob)
    if "meta" not in members:
        raise _bad("member 'meta' is missing")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            meta = _read_meta(z)
            try:
                config = RunConfig.from_dict(meta["config"])
            except ValueError as e:
                raise _bad(f"its config is not valid ({str(e)[:200]})") from None
            except (TypeError, KeyError, RecursionError):
                raise _bad("its config is not valid") from None
            if meta["key"] != _key_for(config, meta["engine_version"]):
                raise _bad(f"the key {meta['key'][:24]!r} is not its config's key")
            _check_arrays(config, meta, members)
            params = z["params"]
            model_state = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("model_state/")}
            opt_state = state_from_arrays(
                {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("opt_state/")}
            )
            history = pd.DataFrame({c: z[f"history/{c}"] for c in meta["history_columns"]})
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as e:
        raise _bad(f"not a readable .npz archive, truncated or damaged ({type(e).__name__})") from None
    best_val = meta.get("best_val_loss")
    return RunResult(
        config=config,
        key=meta["key"],
        history=history,
        status=meta["status"],
        stop_reason=meta["stop_reason"],
        task=meta["task"],
        diverged_at=meta.get("diverged_at"),
        best_epoch=meta.get("best_epoch"),
        best_val_loss=math.nan if best_val is None else float(best_val),
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
    blob = to_bytes(result)
    # write beside the target, then rename: a failed write (a full disk) leaves no partial file
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def load_run(path: str | Path) -> RunResult:
    """Read a run written by :func:`save_run`; a file that is not one raises ValueError."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise _bad(f"{size / 2**30:.1f} GB is over the {MAX_BYTES / 2**30:.0f} GB limit")
    return from_bytes(path.read_bytes())


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
