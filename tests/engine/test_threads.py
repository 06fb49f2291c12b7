"""BLAS threads are part of a run: its config names the count, the count is applied while it
trains, and runs that differ only in it are separate runs that never share a stack."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

import engine
from engine.config import RunConfig
from engine.stacked import stack_key
from engine.train import LARGE_WORK_THREADS, SMALL_WORK, blas_threads

SMALL = RunConfig(dataset="iris", hidden=(8,), epochs=2, batch_size=16)


def test_zero_picks_one_thread_for_small_work_and_a_fixed_count_above_it():
    assert blas_threads(SMALL) == 1
    # batch × widest layer just above SMALL_WORK (the synthetic set has 16,000 training rows)
    large = RunConfig(dataset="synthetic", hidden=(512,), mode="batch", epochs=1)
    assert large.batch_size * 512 > SMALL_WORK
    assert blas_threads(large) == LARGE_WORK_THREADS
    for n in (1, 2, 3):
        assert blas_threads(SMALL.replace(threads=n)) == n


def test_a_run_trains_with_its_thread_count():
    blas = ThreadpoolController().select(user_api="blas")
    if not blas.info():
        pytest.skip("no BLAS library reports its threads here")
    cap = max(p["num_threads"] for p in blas.info())  # the library's own cap (the host's cores)
    def blas_now() -> int:
        return max(p["num_threads"] for p in ThreadpoolController().select(user_api="blas").info())

    for n in (1, 2):
        seen: list[int] = []
        engine.train_many([SMALL.replace(threads=n)], lambda _i, _p, seen=seen: seen.append(blas_now()))
        assert seen and set(seen) == {min(n, cap)}, (n, cap, seen)


def test_thread_counts_are_separate_runs_and_separate_stacks():
    one, two = SMALL.replace(threads=1), SMALL.replace(threads=2)
    assert one.key() != two.key() != SMALL.key()
    assert stack_key(one) != stack_key(two)
    assert RunConfig.from_dict(two.to_dict()) == two


def test_the_same_thread_count_gives_the_same_result():
    cfg = RunConfig(dataset="digits", hidden=(256,), mode="batch", epochs=3, threads=2)
    a, b = engine.train(cfg), engine.train(cfg)
    assert np.array_equal(a.params, b.params)
    assert a.history["val_loss"].tolist() == b.history["val_loss"].tolist()


def test_a_thread_count_out_of_range_names_the_field():
    with pytest.raises(ValueError, match="threads"):
        RunConfig(threads=99)
    with pytest.raises(ValueError, match="threads"):
        RunConfig(threads=-1)


def test_the_work_limits_cap_the_threads_a_run_asks_for():
    from engine import limits

    limits.check(SMALL.replace(threads=2), limits.Limits())
    with pytest.raises(ValueError, match=r"threads: 3 needs about 3 BLAS threads; the limit is 2 "
                                         r"\(the operator sets it with OPTLAB_MAX_THREADS\)"):
        limits.check(SMALL.replace(threads=3), limits.Limits())
    assert limits.Limits.from_env({"OPTLAB_MAX_THREADS": "4"}).threads == 4
