"""``kill -9`` during ``warm-lessons --jobs 2`` or a sweep: nothing finished is lost, no process is left.

The command runs as a subprocess with its own data folder; once the store
holds a run it is killed with SIGKILL (no clean-up code of its own runs).
Every run stored before the kill must load, and none of its worker
processes may survive it (they watch their parent and leave with it).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.timeout(300), pytest.mark.skipif(not Path("/proc").is_dir(),
                                                           reason="reads the process table in /proc")]


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            parent[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = set(), {pid}
    while frontier:
        frontier = {c for c, p in parent.items() if p in frontier} - out
        out |= frontier
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def _stored(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("select count(*) from runs").fetchone()[0]
    except sqlite3.Error:
        return 0


def _command(kind: str, tmp_path: Path) -> list[str]:
    if kind == "warm-lessons":
        return [sys.executable, "-m", "engine", "warm-lessons", "--jobs", "2"]
    config = tmp_path / "base.json"
    config.write_text(json.dumps({"dataset": "digits", "hidden": [64], "epochs": 30, "batch_size": 8}))
    return [sys.executable, "-m", "engine", "sweep", "--config", str(config), "--optimizers", "sgd", "adam",
            "--trials", "12", "--jobs", "2", "--out", str(tmp_path / "sweep.json")]


@pytest.mark.parametrize("kind", ["warm-lessons", "sweep"])
def test_kill_9_keeps_every_finished_run_and_leaves_no_process(tmp_path, kind):
    data = tmp_path / "data"
    data.mkdir()
    env = {**os.environ, "OPTLAB_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    env.pop("OPTLAB_STORE", None)
    proc = subprocess.Popen(_command(kind, tmp_path), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store_path = data / "runs.sqlite"
    try:
        while _stored(store_path) < 1:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert workers, "the command should train in worker processes"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10  # the workers look for their parent every 0.5 s
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [p for p in workers if _alive(p)] == []
    store = RunStore(store_path)
    keys = list(store.list()["key"])
    assert len(keys) >= 1
    for key in keys:
        run = store.get(key)
        assert run is not None and run.key == key and run.status != "interrupted"
