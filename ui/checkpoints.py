"""Checkpoints on the pages: download a run as ``.npz``, upload one to train it on.

A checkpoint is :func:`engine.checkpoint.to_bytes`: the parameters, optimizer
and batch-norm state, history and the batch RNG state as arrays, and the
config as JSON, read back with ``allow_pickle=False``. An upload is checked
by :func:`engine.checkpoint.from_bytes` (it refuses a damaged or tampered file
with a ValueError saying what is wrong) and then by :func:`read`, which
refuses what cannot be continued bit-identically here: a run from another
engine version, a diverged or early-stopped run, a run whose budget is a
number of updates, and a run whose learning-rate schedule depends on the
total budget. Training on (:func:`train_on`) gives the run the config with the
larger epoch budget would give trained in one go, so it is kept in the run
store under that config's key, and the page then shows that config.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import streamlit as st

from engine import checkpoint, limits, schedules, version
from engine.config import MAX_EPOCHS
from engine.train import RunResult
from ui import cache, sidebar, state

MAX_UPLOAD_MB = 20  # an upload larger than this is refused by the uploader itself
NOTE = "_checkpoint_trained_on"  # (old key, new key) of the last run trained on, for the note
_READ = "_checkpoint_read"  # (upload id, RunResult or error message): an upload is read once
_SCHEDULE_PROBES = 2000  # updates at which a schedule is compared under two budgets


def file_name(result: RunResult) -> str:
    return f"run-{result.key[:8]}.npz"


def download(result: RunResult, key: str) -> None:
    """A download button for the run's checkpoint (``.npz``)."""
    st.download_button(
        "Checkpoint (.npz)",
        checkpoint.to_bytes(result),
        file_name(result),
        "application/octet-stream",
        key=key,
        icon=":material/save:",
        on_click="ignore",
        help="The run's parameters, optimizer state, history and configuration: NumPy arrays and "
        "JSON, no pickle. Upload it on the Train page to train it on for more epochs.",
    )


# -- reading an upload ------------------------------------------------------------------
def _engine_of(blob: bytes) -> str | None:
    """The engine version a file says it was written by (None when it says nothing readable).

    Reads only the small JSON member, with pickle off; used to explain a refusal.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            info = zf.getinfo("meta.npy")
            if info.file_size > 2**20:
                return None
            with zf.open(info) as f:
                meta = np.lib.format.read_array(f, allow_pickle=False)
        found = json.loads(str(meta)).get("engine_version")
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, AttributeError, RecursionError):
        return None
    return found if isinstance(found, str) else None


def _other_engine(found: str) -> ValueError:
    return ValueError(
        f"This checkpoint was written by engine {found[:40]}, and this is engine "
        f"{version.ENGINE_VERSION}: its numbers would not continue bit-identically, so it cannot "
        "be trained on here. Train its configuration again instead."
    )


def read(blob: bytes) -> RunResult:
    """The run in an uploaded checkpoint, checked for training on; ValueError says why not."""
    if len(blob) > MAX_UPLOAD_MB * 2**20:
        raise ValueError(f"The file has {len(blob) / 2**20:.1f} MB; checkpoints of up to "
                         f"{MAX_UPLOAD_MB} MB can be uploaded.")
    try:
        result = checkpoint.from_bytes(blob)
    except ValueError as e:
        found = _engine_of(blob)
        if found is not None and found != version.ENGINE_VERSION:
            raise _other_engine(found) from None
        raise ValueError(f"This is not a checkpoint that can be trained on: {e}") from None
    if result.key != result.config.key():  # a consistent file of another engine version
        raise _other_engine(_engine_of(blob) or "another version")
    cfg = result.config
    if result.status == "diverged":
        raise ValueError(f"This run diverged ({result.stop_reason}); there is nothing to train on.")
    if result.status == "early_stopped":
        raise ValueError("This run stopped early by its own rule; with a larger budget it would "
                         "stop at the same epoch.")
    if cfg.max_updates:
        raise ValueError(
            f"This run's budget is {cfg.max_updates} updates, not epochs; train it on with the "
            "command line: python -m engine train --resume run.npz --max-updates N")
    if result.params is None:
        raise ValueError("This checkpoint has no parameters to train on.")
    return result


def epochs_done(result: RunResult) -> int:
    return int(result.progress.get("epoch", 0))


def check_budget(result: RunResult, epochs: int) -> None:
    """Refuse a budget under which training on is not the run trained in one go."""
    done = epochs_done(result)
    if not done < epochs <= MAX_EPOCHS:
        raise ValueError(f"epochs: {epochs} is not allowed; allowed: a whole number in "
                         f"[{done + 1}, {MAX_EPOCHS}] (the run has trained {done} epochs)")
    cfg = result.config
    new = cfg.replace(epochs=epochs)
    per_epoch = int(result.timings.get("updates_per_epoch") or 0)
    if cfg.schedule != "constant" and done and per_epoch:
        from engine.optim import create

        lr = create(cfg.optimizer, **cfg.optimizer_params).lr
        old_total, new_total = done * per_epoch, epochs * per_epoch
        a = schedules.create(cfg.schedule, lr, old_total, **cfg.schedule_params)
        b = schedules.create(cfg.schedule, lr, new_total, **cfg.schedule_params)
        probes = np.unique(np.linspace(1, old_total, min(old_total, _SCHEDULE_PROBES)).astype(int))
        if any(a(int(t)) != b(int(t)) for t in probes):
            title = schedules.REGISTRY[cfg.schedule].title
            raise ValueError(
                f"schedule: the {title} schedule depends on the total budget, so its learning "
                f"rates so far differ from those of a {epochs}-epoch run; training on would not "
                f"give that run. Train the {epochs}-epoch configuration from the start instead.")
    limits.check(new)


def train_on(result: RunResult, epochs: int) -> RunResult:
    """Train ``result`` on up to ``epochs`` epochs (bit-identical to the run trained in one go),
    with a progress bar, and keep the result in the run store."""
    check_budget(result, epochs)
    key = result.config.replace(epochs=epochs).key()
    with cache.progress_bar({key: "Training on · "}) as progress:
        resumed = checkpoint.resume(result, epochs=epochs, callback=lambda p: progress(key, p))
    cache.orchestrator().keep(resumed, label=f"trained on from {result.key[:8]}")
    return resumed


# -- the page section -----------------------------------------------------------------
def _uploaded(file) -> RunResult | str:
    """The upload read once (a rerun does not parse it again): a run, or the error message."""
    ss = st.session_state
    done = ss.get(_READ)
    if done is None or done[0] != file.file_id:
        try:
            done = (file.file_id, read(file.getvalue()))
        except ValueError as e:
            done = (file.file_id, str(e))
        ss[_READ] = done
    return done[1]


def describe(result: RunResult) -> str:
    cfg = result.config
    p = result.progress
    return (f"Run `{result.key[:8]}`: {cfg.optimizer} on {cfg.dataset}, hidden "
            f"{sidebar.widths_text(cfg.hidden) or 'none'}, {int(p.get('epoch', 0))} epochs "
            f"({int(p.get('updates', 0))} updates) done, status {result.status.replace('_', ' ')}.")


def resume_section(page: str) -> None:
    """Upload a checkpoint, choose the new epoch budget, train on, and open the result."""
    note = st.session_state.pop(NOTE, None)
    if note is not None:
        st.success(f"Trained run `{note[0][:8]}` on: the page now shows its configuration with "
                   f"the new budget (run `{note[1][:8]}`), kept in the run store.",
                   icon=":material/check_circle:")
    with st.expander("Train on from a checkpoint", icon=":material/upload_file:"):
        file = st.file_uploader(
            "Checkpoint (.npz)", type=["npz"], key=f"{page}_checkpoint_file",
            max_upload_size=MAX_UPLOAD_MB,
            help="A run's checkpoint, downloaded from the Train or Runs page (or written by "
            f"python -m engine train --out). At most {MAX_UPLOAD_MB} MB; it is read as arrays and "
            "JSON, never unpickled.",
        )
        if file is None:
            st.caption("Upload a checkpoint to train the run on for more epochs. The result is the "
                       "same, to the last bit, as training for the larger budget in one go.")
            return
        loaded = _uploaded(file)
        if isinstance(loaded, str):
            st.error(loaded, icon=":material/error:")
            return
        st.caption(describe(loaded))
        done = epochs_done(loaded)
        epochs = st.number_input(
            "Train on up to (epochs)", min_value=done + 1, max_value=MAX_EPOCHS,
            value=min(2 * max(done, 1), MAX_EPOCHS), step=1, key=f"{page}_checkpoint_epochs",
            help="The new epoch budget, counted from the run's start.",
        )
        if not st.button("Train on", key=f"{page}_checkpoint_run", icon=":material/play_arrow:",
                         type="primary"):
            return
        try:
            resumed = train_on(loaded, int(epochs))
        except ValueError as e:
            st.error(str(e), icon=":material/error:")
            return
    # show the run as the page's own configuration: the URL describes it, the store has it
    st.session_state[NOTE] = (loaded.key, resumed.key)
    st.session_state.pop(_READ, None)
    st.query_params.from_dict(sidebar.config_query(resumed.config))
    state.forget(page)
    st.rerun()
