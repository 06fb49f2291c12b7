"""Checkpoints in the app: download from Train and Runs, upload on Train, train on.

The round trip goes through the pages: the Train page's download button
gives the bytes, the same page's uploader takes them back, and training on
to a larger budget must give the parameters of the run trained for that
budget in one go (np.array_equal).
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import streamlit.testing.v1.app_test as app_test
from apptools import no_exception, page, texts
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from engine import checkpoint, paths, version
from engine.config import RunConfig
from engine.store import RunStore
from engine.train import train
from ui import checkpoints

TINY = {"dataset": "iris", "hidden": "8", "epochs": "2"}


@pytest.fixture
def media(monkeypatch):
    """Every media store AppTest makes (one per run), so a download button's bytes can be read."""
    made: list[MemoryMediaFileStorage] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)
    return made


def download_file(media, button):
    """The file a download button serves (it holds data, not a deferred callable)."""
    name = button.proto.url.rsplit("/", 1)[1]
    for storage in reversed(media):
        try:
            return storage.get_file(name)
        except Exception:  # noqa: BLE001 - another run's store
            continue
    raise AssertionError(f"no media file {name}")


def download_data(media, button) -> bytes:
    return download_file(media, button).content


def trained(media):
    at = page("train")
    at.query_params = dict(TINY)
    at.run()
    at.button(key="train_run").click().run()
    no_exception(at)
    blob = download_data(media, at.download_button(key="train_dl_checkpoint"))
    return at, blob


def upload(at, blob: bytes, name: str = "run.npz"):
    at.file_uploader(key="train_checkpoint_file").set_value((name, blob, "application/octet-stream"))
    return at.run()


def test_download_upload_train_on_equals_the_uninterrupted_run(media):
    at, blob = trained(media)
    first = checkpoint.from_bytes(blob)
    assert first.config.epochs == 2 and first.config.dataset == "iris"
    served = download_file(media, at.download_button(key="train_dl_checkpoint"))
    assert served.filename == f"run-{first.key[:8]}.npz"
    upload(at, blob)
    no_exception(at)
    assert not at.error
    assert f"Run `{first.key[:8]}`" in texts(at.caption)
    at.number_input(key="train_checkpoint_epochs").set_value(5)
    at.button(key="train_checkpoint_run").click().run()
    no_exception(at)
    assert not at.error, texts(at.error)
    # the page now shows the 5-epoch configuration and its result, which the store keeps
    assert at.number_input(key="train_epochs").value == 5
    assert at.query_params["epochs"] in ("5", ["5"])
    assert "Trained run" in texts(at.success)
    longer = first.config.replace(epochs=5)
    stored = RunStore(paths.store_path()).get(longer.key())
    assert stored is not None
    whole = train(longer)
    assert np.array_equal(stored.params, whole.params)
    np.testing.assert_array_equal(stored.history["val_loss"], whole.history["val_loss"])
    assert len(stored.history) == 6  # the initial row and five epochs
    # and the page's own download is that run
    again = checkpoint.from_bytes(download_data(media, at.download_button(key="train_dl_checkpoint")))
    assert again.key == longer.key() and np.array_equal(again.params, whole.params)
    for k, v in whole.opt_state.items():
        np.testing.assert_array_equal(again.opt_state[k], v)


def damaged(blob: bytes) -> bytes:
    """The same archive with one byte of the parameters changed (the zip's CRC no longer fits)."""
    zf = zipfile.ZipFile(io.BytesIO(blob))
    info = zf.getinfo("params.npy")
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size - 3
    out = bytearray(blob)
    out[at] ^= 0xFF
    return bytes(out)


@pytest.mark.parametrize("make, says", [
    (lambda b: b[: len(b) // 2], "truncated or damaged"),
    (lambda b: b"this is not a checkpoint", "not a readable .npz archive"),
    (damaged, "not a readable .npz archive"),
])
def test_a_corrupted_upload_is_refused_with_a_clear_message(media, make, says):
    at, blob = trained(media)
    upload(at, make(blob))
    no_exception(at)
    errors = texts(at.error)
    assert "This is not a checkpoint that can be trained on" in errors and says in errors, errors
    assert "Traceback" not in errors
    assert not [b for b in at.button if b.key == "train_checkpoint_run"]


def test_a_checkpoint_of_another_engine_version_is_refused(monkeypatch):
    r = train(RunConfig(dataset="iris", hidden=(4,), epochs=1))
    monkeypatch.setattr(version, "ENGINE_VERSION", "0.1+000000000000")
    r.key = r.config.key()
    old = checkpoint.to_bytes(r)
    monkeypatch.undo()
    assert checkpoint.from_bytes(old).key != r.config.key()  # it loads: the file is consistent
    with pytest.raises(ValueError, match="written by engine 0.1\\+000000000000"):
        checkpoints.read(old)
    # an older engine's file whose config this engine reads differently (e.g. a field added
    # since): its key does not match, and the message says which engine wrote it
    with np.load(io.BytesIO(old), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["key"] = "0" * 20
    arrays["meta"] = np.array(json.dumps(meta))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.raises(ValueError, match="is not its config's key"):
        checkpoint.from_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="written by engine 0.1\\+000000000000"):
        checkpoints.read(buf.getvalue())


def test_runs_that_cannot_be_trained_on_bit_identically_are_refused():
    base = {"dataset": "iris", "hidden": (4,), "epochs": 2}
    cosine = train(RunConfig(**base, schedule="cosine"))
    with pytest.raises(ValueError, match="schedule: the .* schedule depends on the total budget"):
        checkpoints.check_budget(checkpoints.read(checkpoint.to_bytes(cosine)), 4)
    step = train(RunConfig(**base, schedule="step", schedule_params={"step_size": 3}))
    checkpoints.check_budget(checkpoints.read(checkpoint.to_bytes(step)), 4)
    with pytest.raises(ValueError, match=r"epochs: 2 is not allowed; allowed: a whole number in \[3,"):
        checkpoints.check_budget(step, 2)
    with pytest.raises(ValueError, match="budget is 30 updates"):
        checkpoints.read(checkpoint.to_bytes(train(RunConfig(**base, max_updates=30))))
    diverged = train(RunConfig(**{**base, "dataset": "diabetes"}, optimizer="sgd",
                               optimizer_params={"lr": 100.0}))
    assert diverged.status == "diverged"
    with pytest.raises(ValueError, match="diverged"):
        checkpoints.read(checkpoint.to_bytes(diverged))


def test_the_runs_page_downloads_the_selected_run(media):
    store = RunStore()
    r = train(RunConfig(dataset="iris", hidden=(4,), epochs=2, batch_size=16))
    store.put(r)
    at = page("runs").run()
    assert not [b for b in at.download_button if b.key == "runs_dl_checkpoint"]
    grid = next(d.key for d in at.dataframe if d.key.startswith("runs_table_"))
    at.session_state[grid] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    no_exception(at)
    back = checkpoint.from_bytes(download_data(media, at.download_button(key="runs_dl_checkpoint")))
    assert back.key == r.key and np.array_equal(back.params, r.params)
