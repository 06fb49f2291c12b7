"""The fused numba kernels (engine.fused behind engine.kernels) against the NumPy path.

Every kernel must give the NumPy path's results bit for bit: compared as raw bytes
(``view(uint8)``), so even the sign of a zero counts; with NaNs in the input, values are
compared with ``equal_nan``. Skipped where numba is not installed, except the fallback
test, which needs no numba.
"""

from __future__ import annotations

import builtins
import importlib.util
import logging
import os
import sys

import numpy as np
import pytest

import engine
from engine import RunConfig, kernels, optim, train
from engine.nn import ACTIVATIONS, LOSSES, MLP

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba is not installed")
DTYPES = [np.float64, np.float32]


@pytest.fixture(autouse=True)
def _switch_back():
    yield
    kernels.set_enabled(None)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))


def awkward(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """Random values of mixed scale, with exact zeros of both signs mixed in."""
    x = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 3, size=shape)
    flat = x.reshape(-1)
    k = max(1, flat.size // 10)
    flat[rng.choice(flat.size, k, replace=False)] = 0.0
    flat[rng.choice(flat.size, k, replace=False)] = -0.0
    return x.astype(dtype)


# -- optimizers ------------------------------------------------------------------------------
OPTIMIZERS = [
    ("sgd", {"lr": 0.05}),
    ("sgd", {"lr": 0.01, "momentum": 0.9}),
    ("sgd", {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("sgd", {"lr": 0.02, "momentum": 0.5, "dampening": 0.3, "maximize": True, "weight_decay": 0.01}),
    ("momentum", {}),
    ("nesterov", {}),
    ("adam", {}),
    ("adam", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    ("adam", {"betas": (0.2, 0.9), "amsgrad": True}),  # lerp weight 0.8: torch's second branch
    ("adam", {"weight_decay": 0.05, "decoupled_weight_decay": True, "eps": 1e-3}),
    ("adamw", {}),
    ("adamw", {"lr": 0.01, "amsgrad": True, "betas": (0.5, 0.5)}),
]


def run_steps(name, hp, dtype, on, size, steps=6, seed=0):
    kernels.set_enabled(on)
    rng = np.random.default_rng(seed)
    opt = optim.create(name, **hp)
    params = awkward(rng, size, dtype)
    state = opt.init(params)
    for t in range(steps):
        # every few steps the learning rate changes, as a schedule would
        opt.lr = opt.lr * (0.5 if t == 3 else 1.0)
        opt.step(params, awkward(rng, size, dtype), state)
    return params, state


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,hp", OPTIMIZERS)
def test_optimizer_step_bit_identical(name, hp, dtype):
    for size in (1, 7, 1000, 9610):
        p0, s0 = run_steps(name, hp, dtype, False, size, seed=size)
        p1, s1 = run_steps(name, hp, dtype, True, size, seed=size)
        assert same_bits(p0, p1), (name, hp, size)
        assert s0.keys() == s1.keys()
        for k in s0:
            if isinstance(s0[k], np.ndarray):
                assert same_bits(s0[k], s1[k]), (name, k, size)
            else:
                assert s0[k] == s1[k], (name, k, size)


@needs_numba
def test_optimizer_kernels_really_run():
    """The switch reaches the kernels: with them on, the NumPy work buffers stay unused."""
    for name in ("sgd", "adam", "adamw"):
        kernels.set_enabled(True)
        opt = optim.create(name, **({"momentum": 0.9} if name == "sgd" else {}))
        p = np.ones(10)
        opt.step(p, np.ones(10), opt.init(p))
        assert opt._work == {}, name
        kernels.set_enabled(False)
        opt.step(p, np.ones(10), opt.init(p))
        assert opt._work, name


@needs_numba
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_optimizer_nan_and_inf_propagate_alike():
    for name, hp in OPTIMIZERS:
        out = []
        for on in (False, True):
            kernels.set_enabled(on)
            opt = optim.create(name, **hp)
            p = np.array([1.0, -2.0, 0.0, 3.0, np.inf, 5.0])
            state = opt.init(p)
            for g in ([np.nan, 1.0, np.inf, -np.inf, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
                opt.step(p, np.array(g), state)
            out.append(p)
        assert np.array_equal(out[0], out[1], equal_nan=True), name


# -- activations and losses ------------------------------------------------------------------
@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_bit_identical(name, dtype):
    fwd, bwd = ACTIVATIONS[name].extra["forward"], ACTIVATIONS[name].extra["backward"]
    kernels.set_enabled(True)
    kfwd, kbwd, _ = kernels.nn_functions(name, "softmax_ce", fwd, bwd, None)
    rng = np.random.default_rng(3)
    for shape in [(1, 1), (5, 1), (128, 32), (17, 9), (3, 4, 6)]:
        for _ in range(3):
            z, delta = awkward(rng, shape, dtype), awkward(rng, shape, dtype)
            a0, a1 = fwd(z, np.empty_like(z)), kfwd(z, np.empty_like(z))
            assert same_bits(a0, a1), (name, shape)
            # backward: the NumPy one may use z as scratch; each gets its own copy
            d0, d1 = delta.copy(), delta.copy()
            bwd(z.copy(), a0, d0, z.copy())
            kbwd(z.copy(), a1, d1, z.copy())
            assert same_bits(d0, d1), (name, shape)
            # in place, out is z (the MLP's eval path)
            z0, z1 = z.copy(), z.copy()
            assert same_bits(fwd(z0, z0), kfwd(z1, z1))


@needs_numba
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_nan_alike(name):
    fwd, bwd = ACTIVATIONS[name].extra["forward"], ACTIVATIONS[name].extra["backward"]
    kernels.set_enabled(True)
    kfwd, kbwd, _ = kernels.nn_functions(name, "softmax_ce", fwd, bwd, None)
    z = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 2.0, -3.0])
    delta = np.array([1.0, np.nan, 2.0, np.inf, -1.0, 0.5, np.nan])
    a0, a1 = fwd(z, np.empty_like(z)), kfwd(z, np.empty_like(z))
    assert np.array_equal(a0, a1, equal_nan=True)
    d0, d1 = delta.copy(), delta.copy()
    bwd(z.copy(), a0, d0)
    kbwd(z.copy(), a1, d1)
    assert np.array_equal(d0, d1, equal_nan=True)


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["softmax_ce", "sigmoid_bce", "identity_mse"])
def test_loss_train_bit_identical(loss, dtype):
    train_t = LOSSES[loss].extra["train_t"]
    kernels.set_enabled(True)
    _, _, ktrain = kernels.nn_functions("relu", loss, None, None, train_t)
    rng = np.random.default_rng(4)
    for k, n in [(10, 1), (10, 32), (3, 7), (1, 50), (2, 1)]:
        z = awkward(rng, (k, n), dtype)
        z[:, 0] = 0.0  # a column whose maximum is a tie of +0 and -0
        z[k // 2, 0] = -0.0
        Y = np.zeros((k, n), dtype=dtype)
        Y[rng.integers(0, k, n), np.arange(n)] = 1.0
        outs = []
        for fn in (train_t, ktrain):
            zc = z.copy()
            p = zc if loss == "identity_mse" else np.empty_like(z)
            delta = np.empty_like(z)
            value = fn(zc, Y, p, delta)
            outs.append((value, zc, p, delta))
        (v0, z0, p0, d0), (v1, z1, p1, d1) = outs
        assert v0 == v1, (loss, k, n)
        assert same_bits(z0, z1) and same_bits(p0, p1) and same_bits(d0, d1), (loss, k, n)


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation,output", [("relu", "softmax"), ("tanh", "sigmoid"),
                                               ("leaky_relu", "softmax"), ("elu", "identity")])
def test_mlp_loss_grad_bit_identical(activation, output, dtype):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((33, 6)).astype(dtype)
    k = 1 if output != "softmax" else 4
    Y = (np.eye(4)[rng.integers(0, 4, 33)] if k == 4 else rng.integers(0, 2, (33, 1))).astype(dtype)
    outs = []
    for on in (False, True):
        kernels.set_enabled(on)
        net = MLP(6, (9, 5), k, activation, output, dtype=dtype)
        params = net.init_params(np.random.default_rng(0))
        grad = np.empty_like(params)
        losses = [net.loss_grad(params, X[lo:lo + b], Y[lo:lo + b], grad)
                  for lo, b in ((0, 1), (1, 16), (17, 16))]
        outs.append((losses, grad.copy(), net.last_output.copy()))
    assert outs[0][0] == outs[1][0]
    assert same_bits(outs[0][1], outs[1][1]) and same_bits(outs[0][2], outs[1][2])


# -- whole runs ------------------------------------------------------------------------------
RUNS = [
    dict(dataset="digits", hidden=(32,), optimizer="adam", batch_size=32, epochs=3),
    dict(dataset="digits", hidden=(16,), optimizer="sgd", batch_size=1, epochs=1,
         optimizer_params={"lr": 0.01, "momentum": 0.9}),
    dict(dataset="moons", hidden=(8, 8), activation="tanh", optimizer="nesterov", batch_size=16,
         epochs=4, dtype="float32"),
    dict(dataset="iris", hidden=(8,), activation="leaky_relu", optimizer="adamw", batch_size=8,
         epochs=5, schedule="cosine", optimizer_params={"amsgrad": True}, clip_norm=1.0),
    dict(dataset="diabetes", hidden=(8,), activation="elu", optimizer="adam", batch_size=32,
         epochs=3, dtype="float32", batchnorm=True),
]


@needs_numba
@pytest.mark.parametrize("cfg", RUNS, ids=lambda c: f"{c['dataset']}-{c['optimizer']}")
def test_train_bit_identical_with_and_without_jit(cfg):
    results = []
    for on in (False, True):
        kernels.set_enabled(on)
        results.append(train(RunConfig(**cfg)))
    a, b = results
    assert a.status == b.status == "completed"
    assert same_bits(a.params, b.params)
    cols = [c for c in a.history.columns if c != "time_s"]
    assert a.history[cols].equals(b.history[cols])
    assert a.test_metrics == b.test_metrics
    for k, v in a.opt_state.items():
        assert same_bits(v, b.opt_state[k]) if isinstance(v, np.ndarray) else v == b.opt_state[k]


# -- the switch and the fallback --------------------------------------------------------------
def test_switch_reads_the_environment(monkeypatch):
    kernels.set_enabled(None)
    monkeypatch.setenv(kernels.ENV, "0")
    assert not kernels.requested()
    monkeypatch.setenv(kernels.ENV, "1")
    assert kernels.requested()
    monkeypatch.delenv(kernels.ENV)
    assert kernels.requested() is kernels.DEFAULT
    monkeypatch.setenv(kernels.ENV, "yes")
    with pytest.raises(ValueError, match="OPTLAB_JIT: 'yes' is not allowed; allowed: 0, 1"):
        kernels.requested()


def test_missing_numba_falls_back_with_one_log_line(monkeypatch, caplog):
    real_import = builtins.__import__

    def no_numba(name, *args, **kwargs):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("No module named 'numba'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numba)
    monkeypatch.delitem(sys.modules, "engine.fused", raising=False)
    monkeypatch.delattr(engine, "fused", raising=False)
    monkeypatch.setattr(kernels, "_fused", None)
    monkeypatch.setattr(kernels, "_failed", None)
    monkeypatch.setenv(kernels.ENV, "1")
    kernels.set_enabled(None)
    with caplog.at_level(logging.WARNING, logger="engine.kernels"):
        assert not kernels.enabled()
        kernels.set_enabled(None)
        assert not kernels.enabled()  # asked again: no second line
        result = train(RunConfig(dataset="iris", hidden=(4,), optimizer="adam", epochs=2))
    assert result.status == "completed"
    lines = [r for r in caplog.records if r.name == "engine.kernels"]
    assert len(lines) == 1
    assert "OPTLAB_JIT=1" in lines[0].getMessage() and "using NumPy" in lines[0].getMessage()
    assert kernels.cache_dir() is None


def test_failing_compile_falls_back(monkeypatch, caplog):
    """A numba that imports but cannot compile (a broken install) also falls back."""
    pytest.importorskip("numba")
    from engine import fused

    def broken(*args):
        raise RuntimeError("LLVM failed")

    monkeypatch.setattr(fused, "relu_forward", broken)
    monkeypatch.setattr(kernels, "_fused", None)
    monkeypatch.setattr(kernels, "_failed", None)
    kernels.set_enabled(True)
    with caplog.at_level(logging.WARNING, logger="engine.kernels"):
        assert not kernels.enabled()
    assert sum(r.name == "engine.kernels" for r in caplog.records) == 1
    opt = optim.create("adam")
    p = np.ones(4)
    opt.step(p, np.ones(4), opt.init(p))  # the NumPy path
    assert opt._work


@needs_numba
def test_compiled_kernels_are_cached_on_disk():
    kernels.set_enabled(True)
    assert kernels.enabled()
    where = kernels.cache_dir()
    assert where is not None and os.path.isdir(where)
    assert any(f.startswith("fused.") and f.endswith(".nbi") for f in os.listdir(where))


@needs_numba
def test_read_only_install_compiles_without_a_cache(monkeypatch):
    """Where numba finds no writable cache location, the kernels still compile (per process)."""
    import numba

    real = numba.njit

    def no_cache_location(*args, **kwargs):
        if kwargs.get("cache"):
            def refuse(fn):
                raise RuntimeError(f"cannot cache function {fn.__name__!r}: no locator available")
            return refuse
        return real(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", no_cache_location)
    spec = importlib.util.find_spec("engine.fused")
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    z = np.array([-1.0, 2.0, -0.0])
    out = np.empty_like(z)
    fresh.relu_forward(z, out)
    assert same_bits(out, np.maximum(z, 0.0))
    assert type(fresh.relu_forward._cache).__name__ == "NullCache"
