"""A stop is seen inside an epoch: a run asked to stop ends mid-epoch, in every executor.

The long run is one epoch of one-sample updates through two 1024-wide layers
(12,000 updates, minutes of work); a run that saw its stop only at the end of
the epoch would do all of them. No wall-clock assertion: the number of
updates done shows where the run stopped.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

import engine
from engine import RunConfig
from engine import executors as E
from engine.runs import Orchestrator

pytestmark = pytest.mark.timeout(300)

LONG = RunConfig(dataset="synthetic", dataset_params={"n_samples": 20000}, hidden=(1024, 1024),
                 epochs=1, batch_size=1)
EPOCH = 12000  # updates in LONG's one epoch (its training split)


def small(**kw) -> RunConfig:
    base = dict(dataset="moons", hidden=(8,), epochs=3, batch_size=16, optimizer="adam")
    base.update(kw)
    return RunConfig(**base)


def after(n: int):
    """A stop check that says stop from its ``n``-th call on (calls come a few times a second)."""
    calls = itertools.count(1)
    return lambda *_: next(calls) >= n


def _same(a, b) -> None:
    np.testing.assert_array_equal(a.params, b.params)
    cols = [c for c in b.history.columns if c != "time_s"]
    assert a.history[cols].equals(b.history[cols])
    assert (a.status, a.stop_reason, a.test_metrics) == (b.status, b.stop_reason, b.test_metrics)


def test_the_long_run_has_the_epoch_assumed_here():
    from engine import data

    c = LONG
    ds = data.load(c.dataset, c.dataset_params, c.val_fraction, c.test_fraction, c.seed, c.dtype)
    assert ds.X_train.shape[0] == EPOCH


def test_a_stop_check_that_never_fires_changes_nothing():
    c = small(epochs=4, batch_size=1, dataset_params={"n_samples": 200})
    _same(engine.train(c, should_stop=lambda: False), engine.train(c))
    many = [small(), small(optimizer="sgd"), small(seed=3, batchnorm=True)]
    for a, b in zip(engine.train_many(many, should_stop=lambda i: False), engine.train_many(many),
                    strict=True):
        _same(a, b)


def test_train_stops_mid_epoch():
    r = engine.train(LONG, should_stop=after(3))
    assert r.status == "interrupted"
    assert 0 < r.progress["updates"] < EPOCH // 10
    assert r.progress["epoch"] == 1 and "during epoch 1" in r.stop_reason
    assert len(r.history) == 1  # the initial row only: a cut epoch has no row
    assert r.test_metrics == {}


def test_a_stop_before_the_first_update_trains_nothing():
    r = engine.train(LONG, should_stop=lambda: True)
    assert r.status == "interrupted" and r.progress["updates"] == 0 and len(r.history) == 0


def test_stacked_runs_stop_mid_epoch_each_on_its_own_check():
    runs = [LONG, LONG.replace(optimizer="adam"), small()]
    stop = {0: after(3), 1: after(3), 2: lambda: False}
    out = engine.train_many(runs, should_stop=lambda i: stop[i]())
    assert [r.status for r in out] == ["interrupted", "interrupted", "completed"]
    assert all(0 < r.progress["updates"] < EPOCH // 10 for r in out[:2])


def test_inline_orchestrator_stops_mid_epoch_and_stores_nothing(tmp_path):
    from engine.store import RunStore

    store = RunStore(tmp_path / "runs.sqlite")
    orch = Orchestrator(store, E.InlineExecutor())
    (r,) = orch.run([LONG], should_stop=after(3))
    assert r.status == "interrupted" and r.progress["updates"] < EPOCH // 10
    assert LONG.key() not in store and orch.lookup(LONG) is None


class Abandoned(Exception):
    """What a page's stop check raises (Streamlit's StopException) when the page goes away."""


def test_inline_stop_check_that_raises_abandons_the_run_mid_epoch():
    seen = []

    def stop_check():
        seen.append(1)
        if len(seen) >= 3:
            raise Abandoned

    with pytest.raises(Abandoned):
        Orchestrator(None, E.InlineExecutor()).run([LONG], should_stop=stop_check)


@pytest.fixture(scope="module")
def pool():
    ex = E.ProcessExecutor(1)
    list(ex.run([[small()]]))  # the worker is up: stops below are not confounded by its start-up
    yield ex
    ex.close()


def test_process_worker_stops_mid_epoch(pool):
    out = list(pool.run([[LONG]], should_stop=after(20)))  # asked every 0.1 s while waiting
    assert len(out) == 1
    assert out[0].status == "interrupted" and out[0].progress["updates"] < EPOCH // 10


def test_process_worker_is_freed_when_the_caller_abandons_mid_epoch(pool):
    seen = []

    def stop_check():
        seen.append(1)
        if len(seen) >= 8:
            raise Abandoned

    with pytest.raises(Abandoned):
        list(pool.run([[LONG]], should_stop=stop_check))
    # one worker: this run can only train once the abandoned one has let it go, mid-epoch
    (r,) = pool.run([[small(seed=5)]])
    assert r.status == "completed"


def test_queue_position_is_reported_while_the_workers_are_busy(pool):
    stop_a = threading.Event()
    a_out: list = []
    a = threading.Thread(target=lambda: a_out.extend(
        pool.run([[LONG], [LONG.replace(seed=1)]], should_stop=stop_a.is_set)))
    a.start()
    try:
        while pool.queued != 1:  # the first long group is on the worker, the second waits
            threading.Event().wait(0.05)
        heard: list = []
        done = threading.Event()

        def tell(n):
            heard.append(n)
            if n is not None and not stop_a.is_set():
                stop_a.set()  # the page saw its place: let the queue move

        b = threading.Thread(target=lambda: (list(pool.run([[small(seed=9)]], on_wait=tell)), done.set()))
        b.start()
        b.join()
    finally:
        stop_a.set()
        a.join()
    assert done.is_set()
    # one run of the earlier call waits ahead of this one (0 when the pool handed that group to
    # its call queue before this call's first look: a busy machine's timing)
    assert heard and heard[0] in (0, 1)
    assert heard[-1] is None  # and at the end nothing of this call waits
    assert [r.status for r in a_out] == ["interrupted"]  # the waiting long group never started
