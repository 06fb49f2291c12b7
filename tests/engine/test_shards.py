"""A large batch is computed as two shards of rows (engine.nn.shards): the gradient is still the
gradient, the split points depend only on the batch and the architecture, and running the shards
on one thread or two gives the same bits, for a single run, a stack of runs and an evaluation."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

import engine
from engine import limits
from engine.config import RunConfig
from engine.nn import MLP, shards
from engine.nn.stacked import StackedMLP
from engine.stacked import stack_key
from engine.train import run_threads
from tests.engine.test_nn import make_problem, random_params, ref_forward, ref_loss, rel_error

# digits full batch with 128 hidden units: 1,437 rows × 9,610 multiply-adds, above SPLIT_WORK
SPLIT_RUN = RunConfig(dataset="digits", hidden=(128,), mode="batch", epochs=3, optimizer="adam",
                      optimizer_params={"lr": 0.01})
TRAIN = sys.modules["engine.train"]  # the module (the package's ``engine.train`` is the function)
SMALL_RUN = RunConfig(dataset="iris", hidden=(8,), epochs=2, batch_size=16)


@pytest.fixture
def split_everything(monkeypatch):
    """Split every batch of at least 2 × MIN_ROWS rows, so small networks exercise the shards."""
    monkeypatch.setattr(shards, "SPLIT_WORK", 0)


def test_where_a_batch_splits():
    assert shards.cut(2 * shards.MIN_ROWS - 1, 10**9) == 0  # too few rows for two shards
    assert shards.cut(1000, shards.SPLIT_WORK // 1000 - 1) == 0  # too little work
    assert shards.cut(1001, shards.SPLIT_WORK // 1000) == 500
    net = MLP(64, (128,), 10)
    assert net.split_at(1437) == 718 and net.split_at(32) == 0
    assert MLP(64, (128,), 10, batchnorm=True).split_at(1437) == 0  # batch statistics are whole


@pytest.mark.parametrize("output", ["softmax", "sigmoid", "identity"])
def test_a_split_batch_has_the_gradient_and_the_loss_of_the_whole_batch(output, split_everything):
    X, Y, n_out = make_problem(output, n_in=4, n_out=3, n=2 * shards.MIN_ROWS + 3)
    net = MLP(4, (6, 5), n_out, "tanh", output)
    assert net.split_at(X.shape[0]) == shards.MIN_ROWS + 1
    params = random_params(net, np.random.default_rng(1))
    grad = np.full(net.n_params, np.nan)
    loss = net.loss_grad(params, X, Y, grad)
    shown = net.last_output.copy()
    z, _ = ref_forward(net, params, X)
    assert loss == pytest.approx(ref_loss(output, z, Y), rel=1e-12)
    # centred differences of the split loss, on every 7th parameter
    h, scratch = 1e-6, np.empty_like(params)
    idx = np.arange(0, net.n_params, 7)
    num = np.empty(idx.size)
    for j, i in enumerate(idx):
        old = params[i]
        params[i] = old + h
        fp = net.loss_grad(params, X, Y, scratch)
        params[i] = old - h
        fm = net.loss_grad(params, X, Y, scratch)
        params[i] = old
        num[j] = (fp - fm) / (2 * h)
    assert rel_error(num, grad[idx]) < 1e-6
    # and the outputs the training step shows are the whole batch's
    np.testing.assert_allclose(shown, net.predict(params, X), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("output", ["softmax", "sigmoid", "identity"])
def test_one_thread_or_two_give_the_same_bits(output, split_everything):
    X, Y, n_out = make_problem(output, n_in=5, n_out=4, n=301)
    nets = [MLP(5, (16, 8), n_out, "relu", output) for _ in range(2)]
    nets[1].threads = 2
    assert nets[0].split_at(301) == 150
    params = random_params(nets[0], np.random.default_rng(2))
    grads = [np.empty_like(params) for _ in nets]
    losses = [net.loss_grad(params, X, Y, g) for net, g in zip(nets, grads, strict=True)]
    assert losses[0] == losses[1]
    assert np.array_equal(grads[0], grads[1])
    assert np.array_equal(nets[0].last_output, nets[1].last_output)
    assert np.array_equal(nets[0].predict(params, X), nets[1].predict(params, X))


def test_the_second_shard_runs_on_another_thread_and_its_errors_reach_the_caller():
    seen: list[int] = []
    shards.both(lambda: seen.append(threading.get_ident()),
                lambda: seen.append(threading.get_ident()), parallel=True)
    assert len(set(seen)) == 2 and threading.get_ident() in seen

    def fail():
        raise ArithmeticError("second shard")

    with pytest.raises(ArithmeticError, match="second shard"):
        shards.both(lambda: None, fail, parallel=True)
    # helpers are reused, not started per call
    before = threading.active_count()
    for _ in range(50):
        shards.both(lambda: None, lambda: None, parallel=True)
    assert threading.active_count() <= before + 1


def test_a_stack_of_split_runs_equals_its_runs_one_by_one(split_everything):
    X, Y, n_out = make_problem("softmax", n_in=5, n_out=4, n=260)
    net = MLP(5, (12,), n_out, "relu", "softmax")
    net.threads = 2
    rng = np.random.default_rng(3)
    P = np.stack([random_params(net, rng) for _ in range(3)])
    G = np.empty_like(P)
    losses, outs = StackedMLP(net, 3).loss_grad(P, X, Y, G)
    for k in range(3):
        g = np.empty(net.n_params)
        assert net.loss_grad(np.ascontiguousarray(P[k]), X, Y, g) == losses[k]
        assert np.array_equal(g, G[k])
        assert np.array_equal(net.last_output, outs[k])


def test_a_split_run_trains_alike_on_one_thread_or_two_and_blas_stays_on_one():
    blas = ThreadpoolController().select(user_api="blas")
    seen: list[int] = []

    def blas_now(_i, _p):
        seen.extend(p["num_threads"] for p in blas.info())

    one = engine.train_many([SPLIT_RUN.replace(threads=1)], blas_now)[0]
    two = engine.train(SPLIT_RUN.replace(threads=2))
    assert np.array_equal(one.params, two.params)
    for column in ("train_loss", "val_loss", "val_acc", "grad_norm_layer1", "update_ratio"):
        assert one.history[column].tolist() == two.history[column].tolist()
    assert one.test_metrics == two.test_metrics
    assert not blas.info() or set(seen) == {1}


def test_split_runs_stacked_equal_split_runs_alone():
    configs = [SPLIT_RUN.replace(optimizer_params={"lr": lr}) for lr in (0.01, 0.003)]
    stacked = engine.train_many(configs)
    for cfg, res in zip(configs, stacked, strict=True):
        alone = engine.train(cfg)
        assert np.array_equal(alone.params, res.params)
        assert alone.history["val_loss"].tolist() == res.history["val_loss"].tolist()


def test_the_thread_count_is_the_configs_or_what_the_host_and_the_operator_allow(monkeypatch):
    monkeypatch.delenv("OPTLAB_MAX_THREADS", raising=False)
    monkeypatch.setattr(TRAIN, "_usable_cores", lambda: 8)
    assert run_threads(SMALL_RUN) == 2  # never more than the two shards
    monkeypatch.setenv("OPTLAB_MAX_THREADS", "1")
    assert run_threads(SMALL_RUN) == 1
    assert run_threads(SMALL_RUN.replace(threads=2)) == 2  # asked for: the limits refuse it
    monkeypatch.delenv("OPTLAB_MAX_THREADS")
    monkeypatch.setattr(TRAIN, "_usable_cores", lambda: 1)
    assert run_threads(SMALL_RUN) == 1


def test_thread_counts_are_separate_configs_that_may_share_a_stack():
    one, two = SMALL_RUN.replace(threads=1), SMALL_RUN.replace(threads=2)
    assert one.key() != two.key() != SMALL_RUN.key()  # the key holds the complete config
    assert stack_key(one) == stack_key(two)  # the numbers are the same, so they may train as one
    assert RunConfig.from_dict(two.to_dict()) == two


def test_a_thread_count_out_of_range_or_over_the_cap_names_the_field():
    for bad in (3, -1):
        with pytest.raises(ValueError, match="threads"):
            RunConfig(threads=bad)
    limits.check(SMALL_RUN.replace(threads=2), limits.Limits())
    with pytest.raises(ValueError, match=r"threads: 2 needs about 2 threads; the limit is 1 "
                                         r"\(the operator sets it with OPTLAB_MAX_THREADS\)"):
        limits.check(SMALL_RUN.replace(threads=2), limits.Limits(threads=1))
    limits.check(SMALL_RUN, limits.Limits(threads=1))  # automatic stays within the cap
