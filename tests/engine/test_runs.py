"""The run orchestrator: de-duplication, the store, stacking, one writer, stop, failures."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest

from engine import RunConfig, version
from engine.executors import Executor, InlineExecutor
from engine.runs import Orchestrator, ResultCache
from engine.store import RunStore


def cfg(**kw) -> RunConfig:
    base = dict(dataset="iris", hidden=(4,), epochs=2, batch_size=16, optimizer="adam")
    base.update(kw)
    return RunConfig(**base)


class Recording(Executor):
    """The inline executor, remembering the groups it was given."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.groups: list[list[str]] = []
        self.fail_after = fail_after

    def run(self, groups, progress=None, should_stop=None):
        self.groups.extend([[c.key() for c in g] for g in groups])
        n = 0
        for result in InlineExecutor().run(groups, progress, should_stop):
            if self.fail_after is not None and n == self.fail_after:
                raise RuntimeError("worker lost")
            n += 1
            yield result


def test_duplicates_train_once_and_results_come_back_in_order(tmp_path):
    ex = Recording()
    orch = Orchestrator(RunStore(tmp_path / "s.sqlite"), ex)
    a, b = cfg(), cfg(optimizer="sgd")
    out = orch.run([a, b, a])
    assert [r.key for r in out] == [a.key(), b.key(), a.key()]
    assert out[0] is out[2]
    assert orch.trained == 2
    # a and b share a batch stream: one stacked group
    assert ex.groups == [[a.key(), b.key()]]


def test_the_store_is_read_before_training(tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    first = Orchestrator(store).run([cfg()])[0]
    again = Orchestrator(RunStore(tmp_path / "s.sqlite"), Recording())
    second = again.run([cfg()])[0]
    assert again.trained == 0 and again.executor.groups == []
    assert np.array_equal(first.params, second.params)


def test_groups_follow_the_batch_stream(tmp_path):
    ex = Recording()
    Orchestrator(None, ex).run([cfg(seed=0), cfg(seed=1), cfg(seed=0, optimizer="sgd"),
                                cfg(seed=1, batchnorm=True)])
    sizes = sorted(len(g) for g in ex.groups)
    assert sizes == [1, 1, 2]  # seed 0 stacked, seed 1 alone, batch norm alone


def test_each_run_is_stored_as_it_finishes(tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    a, b = cfg(), cfg(seed=5)  # different seeds: two groups, two results
    with pytest.raises(RuntimeError, match="worker lost"):
        Orchestrator(store, Recording(fail_after=1)).run([a, b])
    assert len(store) == 1  # the first finished run survived the failure
    # nothing is left claimed: the next call trains the missing run
    orch = Orchestrator(store)
    assert all(r is not None for r in orch.run([a, b]))
    assert orch.trained == 1


def test_a_stopped_run_is_returned_but_not_stored(tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    orch = Orchestrator(store)
    out = orch.run([cfg(epochs=5)], progress=lambda key, p: p["epoch"] < 2)
    assert out[0].status == "interrupted"
    assert len(store) == 0 and orch.lookup(cfg(epochs=5)) is None


def test_should_stop_stops_every_run(tmp_path):
    orch = Orchestrator(None)
    epochs = []
    out = orch.run([cfg(epochs=50), cfg(epochs=50, seed=1)],
                   progress=lambda key, p: epochs.append(p["epoch"]), should_stop=lambda: bool(epochs))
    # the first group stops after its first epoch; the second never starts
    assert out[0].status == "interrupted" and out[0].progress["epoch"] == 1
    assert out[1] is None and epochs == [1]


def test_concurrent_callers_share_one_training(tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    orch = Orchestrator(store)
    started = threading.Event()
    release = threading.Event()

    def slow(key, p):
        started.set()
        release.wait(10)

    results = {}
    t1 = threading.Thread(target=lambda: results.setdefault(1, orch.run([cfg()], progress=slow)))
    t1.start()
    assert started.wait(10)
    t2 = threading.Thread(target=lambda: results.setdefault(2, orch.run([cfg()])))
    t2.start()
    release.set()
    t1.join(20)
    t2.join(20)
    assert orch.trained == 1
    assert results[1][0] is results[2][0]


def test_a_failed_store_write_loses_nothing(tmp_path):
    class Broken:
        def get(self, key):
            return None

        def put(self, result, label=None):
            raise sqlite3.OperationalError("attempt to write a readonly database")

    orch = Orchestrator(Broken())
    out = orch.run([cfg()])
    assert out[0].status == "completed"
    assert "readonly" in orch.store_error
    assert orch.lookup(cfg()) is out[0]  # kept in memory


def test_a_run_from_another_engine_is_listed_but_never_a_cache_hit(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "s.sqlite")
    monkeypatch.setattr(version, "ENGINE_VERSION", "0.1.0+older")
    old = Orchestrator(store).run([cfg()])[0]
    monkeypatch.undo()
    assert old.key != cfg().key()  # the fingerprint is part of the key
    orch = Orchestrator(store)
    fresh = orch.run([cfg()])[0]
    assert orch.trained == 1 and fresh.key == cfg().key()
    listed = store.list().set_index("key")
    assert listed.loc[old.key, "engine_version"] == "0.1.0+older"
    assert not listed.loc[old.key, "current"] and listed.loc[fresh.key, "current"]
    assert store.get(old.key) is not None  # still readable


def test_the_fingerprint_covers_the_numerics_only():
    names = {p.relative_to(version.ENGINE_DIR).as_posix() for p in version.numeric_sources()}
    assert {"train.py", "optim/adam.py", "nn/mlp.py", "data.py", "config.py"} <= names
    assert not names & {"store.py", "runs.py", "lessons.py", "__main__.py"}
    assert version.ENGINE_VERSION.endswith(version.fingerprint())


def test_the_memory_cache_is_bounded():
    results = Orchestrator(None).run([cfg(seed=s) for s in range(4)])
    cache = ResultCache(max_entries=2)
    for r in results:
        cache.put(r)
    assert len(cache) == 2 and cache.get(results[0].key) is None and cache.get(results[3].key)
    tiny = ResultCache(max_bytes=10)
    tiny.put(results[0])
    assert len(tiny) == 0


def test_a_read_only_store_serves_every_stored_run(tmp_path):
    path = tmp_path / "s.sqlite"
    stored = Orchestrator(RunStore(path)).run([cfg()])[0]
    ro = RunStore(path, read_only=True)
    orch = Orchestrator(ro)
    back = orch.run([cfg()])[0]
    assert orch.trained == 0 and np.array_equal(back.params, stored.params)
    assert len(ro.list()) == 1
    fresh = orch.run([cfg(seed=3)])[0]  # a new run still trains and is shown
    assert fresh.status == "completed" and "read-only" in orch.store_error
    assert len(RunStore(path)) == 1  # nothing was written, nothing lost
    with pytest.raises(sqlite3.OperationalError, match="read-only"):
        ro.delete([stored.key])
