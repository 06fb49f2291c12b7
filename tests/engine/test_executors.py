"""Executors: a pool of worker processes and a real Dask cluster give the inline results, bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from engine import RunConfig
from engine import executors as E
from engine.runs import Orchestrator
from engine.sweep import sweep

ROOT = Path(__file__).resolve().parents[2]


def cfg(**kw) -> RunConfig:
    base = dict(dataset="iris", hidden=(4,), epochs=2, batch_size=16, optimizer="adam")
    base.update(kw)
    return RunConfig(**base)


GROUPS = [[cfg(seed=0), cfg(seed=0, optimizer="sgd", optimizer_params={"lr": 0.1}),
           cfg(seed=0, optimizer_params={"lr": 0.01})], [cfg(seed=1, epochs=3)]]


def _same(a, b) -> None:
    assert (a.key, a.status, a.diverged_at, a.best_epoch) == (b.key, b.status, b.diverged_at, b.best_epoch)
    np.testing.assert_array_equal(a.params, b.params)
    cols = [c for c in b.history.columns if c != "time_s"]
    assert a.history[cols].equals(b.history[cols])
    assert a.test_metrics == b.test_metrics


@pytest.fixture(scope="module")
def inline():
    return {r.key: r for r in E.InlineExecutor().run(GROUPS)}


@pytest.fixture(scope="module")
def pool():
    ex = E.ProcessExecutor(2)
    yield ex
    ex.close()


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster

    # its workers are spawned: from a bare __main__, not an app page an earlier test ran as one
    with E._bare_main():
        lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None)
    with lc:
        ex = E.DaskExecutor(lc.scheduler_address)
        yield ex
        ex.close()


def test_a_pool_of_processes_gives_the_inline_results(pool, inline):
    seen = []
    out = {r.key: r for r in pool.run(GROUPS, progress=lambda key, p: seen.append((key, p["epoch"])))}
    assert out.keys() == inline.keys()
    for key, r in out.items():
        _same(r, inline[key])
    # every epoch of every run was reported to this process
    every = [(k, e) for k, r in inline.items() for e in range(1, r.progress["epoch"] + 1)]
    assert sorted(seen) == sorted(every)
    assert len(pool.worker_pids()) == 2


def test_a_dask_cluster_gives_the_inline_results(cluster, inline):
    seen = []
    out = {r.key: r for r in cluster.run(GROUPS, progress=lambda key, p: seen.append(key))}
    assert out.keys() == inline.keys()
    for key, r in out.items():
        _same(r, inline[key])
    assert set(seen) == set(inline)


def test_a_sweep_is_the_same_on_every_executor(pool, cluster):
    base = cfg(epochs=2)
    kw = dict(space={"lr": (1e-3, 0.3)}, trials=3, seeds=2)
    answers = {}
    for name, ex in (("jobs 1", E.InlineExecutor()), ("jobs 2", pool), ("dask", cluster)):
        result = sweep(base, ["sgd", "adam"], orchestrator=Orchestrator(None, ex), **kw)
        answers[name] = result
    first = answers["jobs 1"]
    for name, result in answers.items():
        assert result.trials.drop(columns=["optimizer_params"]).equals(
            first.trials.drop(columns=["optimizer_params"])), name
        assert result.best == first.best, name


def test_stop_ends_running_groups_and_cancels_the_rest(pool):
    # long enough (minutes) that no run can finish while the parent is slow to notice
    long = [[cfg(dataset="digits", hidden=(32,), epochs=5000, seed=s)] for s in range(6)]
    epochs = []
    out = list(pool.run(long, progress=lambda key, p: epochs.append(p["epoch"]),
                        should_stop=lambda: len(epochs) > 0))
    # the two running groups end after an epoch or so; the four waiting never start
    assert 1 <= len(out) <= 2
    assert all(r.status == "interrupted" and r.progress["epoch"] < 5000 for r in out)


def test_progress_returning_false_stops_that_run_only(pool):
    a, b = cfg(dataset="digits", hidden=(32,), epochs=5000), cfg(dataset="digits", hidden=(32,), epochs=3,
                                                                   optimizer="sgd")
    out = {r.key: r for r in pool.run([[a, b]], progress=lambda key, p: key != a.key())}
    assert out[a.key()].status == "interrupted" and out[b.key()].status == "completed"


def test_workers_are_gone_after_close():
    ex = E.ProcessExecutor(1)
    list(ex.run([[cfg()]]))
    pids = ex.worker_pids()
    assert len(pids) == 1
    ex.close()
    assert ex.worker_pids() == []
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()


def test_workers_leave_with_a_killed_parent(tmp_path):
    code = textwrap.dedent("""
        import os, signal
        from engine import RunConfig
        from engine.executors import ProcessExecutor

        if __name__ == "__main__":
            ex = ProcessExecutor(1)
            list(ex.run([[RunConfig(dataset="iris", hidden=(4,), epochs=1)]]))
            print(*ex.worker_pids(), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    script = tmp_path / "parent.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    pids = [int(p) for p in proc.stdout.split()]
    assert pids and proc.returncode == -9
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_operator_picks_the_executor(cluster):
    assert isinstance(E.from_environment({"OPTLAB_JOBS": "1"}), E.InlineExecutor)
    assert isinstance(E.from_environment({"OPTLAB_JOBS": "0"}), E.InlineExecutor)
    ex = E.from_environment({"OPTLAB_JOBS": "3"})
    assert isinstance(ex, E.ProcessExecutor) and ex.jobs == 3 and ex.worker_pids() == []
    ex.close()
    with pytest.raises(ValueError, match="OPTLAB_JOBS: 'many'"):
        E.from_environment({"OPTLAB_JOBS": "many"})
    dx = E.from_environment({"OPTLAB_DASK_SCHEDULER": cluster.address, "OPTLAB_JOBS": "2"})
    assert isinstance(dx, E.DaskExecutor)
    dx.close()
    with pytest.raises(ValueError, match="jobs: 0"):
        E.ProcessExecutor(0)


def test_groups_spread_over_the_workers():
    group = [cfg(optimizer=o, optimizer_params={"lr": lr})
             for o in ("sgd", "adam") for lr in (0.1, 0.01, 0.001)]
    assert E.spread([group], 1) == [group]
    by_opt = E.spread([group], 2)
    assert [[c.optimizer for c in g] for g in by_opt] == [["sgd"] * 3, ["adam"] * 3]
    four = E.spread([group], 4)
    assert len(four) == 4 and sorted(c.key() for g in four for c in g) == sorted(c.key() for c in group)
