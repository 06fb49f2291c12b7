"""The switch between the NumPy path and the fused numba kernels (:mod:`engine.fused`).

The fused kernels do the optimizer steps (SGD, Adam, AdamW) and the
element-wise parts of the MLP's forward and backward pass (ReLU, leaky ReLU,
the sigmoid / tanh / ELU derivatives, the softmax and sigmoid residuals) in
one pass each, bit-identical to the NumPy path. Transcendental functions and
reductions stay in NumPy (see :mod:`engine.fused`).

Switch: the environment variable ``OPTLAB_JIT`` (``1`` on, ``0`` off; unset
means :data:`DEFAULT`), read once per process at first use, or :func:`set_enabled`
in code. Optimizers consult it at every step, an :class:`~engine.nn.MLP` when it
is built. When numba is
missing or its kernels fail to compile, the NumPy path runs instead and one
warning is logged (once per process).

Kernels take contiguous float32 / float64 arrays of one dtype; anything else
(never the case inside the engine) goes to the NumPy path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ENV = "OPTLAB_JIT"
DEFAULT = False  # the NumPy path; see bench/results.md, "JIT try", for why

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))
_forced: bool | None = None  # set_enabled
_on: bool | None = None  # resolved switch
_fused: Any = None  # the engine.fused module once loaded
_failed: str | None = None  # why it could not be loaded


def requested() -> bool:
    """What the switch asks for: :func:`set_enabled`, else ``OPTLAB_JIT``, else :data:`DEFAULT`."""
    if _forced is not None:
        return _forced
    raw = os.environ.get(ENV, "").strip()
    if raw == "":
        return DEFAULT
    if raw not in ("0", "1"):
        raise ValueError(f"{ENV}: {raw!r} is not allowed; allowed: 0, 1")
    return raw == "1"


def enabled() -> bool:
    """Whether the fused kernels run (requested and numba loaded)."""
    global _on
    if _on is None:
        _on = requested() and _load() is not None
    return _on


def set_enabled(flag: bool | None) -> None:
    """Turn the kernels on or off for this process; ``None`` goes back to ``OPTLAB_JIT``."""
    global _forced, _on
    _forced, _on = flag, None


def _load():
    global _fused, _failed
    if _fused is None and _failed is None:
        try:
            from engine import fused

            _check(fused)
            _fused = fused
        except Exception as e:  # no numba, a broken install, a compile error: NumPy instead
            _failed = f"{type(e).__name__}: {e}"
            log.warning("%s=1 but the fused kernels are unavailable (%s); using NumPy", ENV, _failed)
    return _fused


def _check(fused) -> None:
    """Compile the float64 kernels the engine always needs (a failing numba fails here)."""
    x = np.zeros(2)
    fused.relu_forward(x, x)
    fused.relu_backward(x, x)


def cache_dir() -> str | None:
    """Where numba keeps the compiled kernels, or None if they are compiled per process."""
    if _load() is None:
        return None
    cache = getattr(_fused.adam_step, "_cache", None)
    return getattr(cache, "cache_path", None)


def _flat(*arrays: np.ndarray) -> list[np.ndarray] | None:
    """1-D views of same-dtype, same-size, contiguous float arrays, or None."""
    first = arrays[0]
    if first.dtype not in _FLOATS:
        return None
    for a in arrays:
        if a.dtype != first.dtype or a.size != first.size or not a.flags.c_contiguous:
            return None
    return [a.reshape(-1) for a in arrays]


# -- optimizers ------------------------------------------------------------------------
def sgd_step(opt, params: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> bool:
    """:meth:`engine.optim.sgd.SGD.step` in one pass; False (nothing done) if it cannot run."""
    hp = opt.hp
    mu = hp["momentum"]
    buf = state["momentum_buffer"] if mu != 0 else params
    flat = _flat(params, grad, buf)
    if flat is None:
        return False
    state["step"] += 1
    c = params.dtype.type
    tau, wd = hp["dampening"], hp["weight_decay"]
    _fused.sgd_step(*flat, c(-hp["lr"]), c(wd), c(mu), c(1 - tau), bool(hp["maximize"]),
                    wd != 0, mu != 0, tau != 0, bool(hp["nesterov"]), state["step"] == 1)
    return True


def adam_step(opt, params: np.ndarray, grad: np.ndarray, state: dict[str, Any],
              decoupled: bool) -> bool:
    """:meth:`engine.optim.adam.Adam.step` in one pass; False (nothing done) if it cannot run."""
    hp = opt.hp
    amsgrad = bool(hp["amsgrad"])
    vmax = state["max_exp_avg_sq"] if amsgrad else state["exp_avg_sq"]
    flat = _flat(params, grad, state["exp_avg"], state["exp_avg_sq"], vmax)
    if flat is None:
        return False
    b1, b2 = hp["betas"]
    lr, wd = opt.lr, hp["weight_decay"]
    state["step"] += 1
    t = state["step"]
    w = 1 - b1
    bc1, bc2 = 1 - b1**t, 1 - b2**t
    c = params.dtype.type
    _fused.adam_step(*flat, bool(hp["maximize"]), not decoupled and wd != 0, c(wd),
                     decoupled and wd != 0, c(1 - lr * wd), c(w), abs(w) < 0.5, c(1 - w),
                     c(1 - b2), c(b2), amsgrad, c(bc2**0.5), c(hp["eps"]), c(-(lr / bc1)))
    return True


# -- the MLP's element-wise work --------------------------------------------------------
def _relu_forward(z, out):
    f = _flat(z, out)
    if f is None:
        return _numpy_fwd["relu"](z, out)
    _fused.relu_forward(*f)
    return out


def _relu_backward(z, a, delta, tmp=None):
    f = _flat(z, delta)
    if f is None:
        return _numpy_bwd["relu"](z, a, delta, tmp)
    _fused.relu_backward(*f)
    return delta


def _leaky_relu_forward(z, out):
    f = _flat(z, out)
    if f is None:
        return _numpy_fwd["leaky_relu"](z, out)
    _fused.leaky_relu_forward(*f, z.dtype.type(_slope()))
    return out


def _leaky_relu_backward(z, a, delta, tmp=None):
    f = _flat(z, delta)
    if f is None:
        return _numpy_bwd["leaky_relu"](z, a, delta, tmp)
    _fused.leaky_relu_backward(*f, z.dtype.type(_slope()))
    return delta


def _slope() -> float:
    from engine.nn.activations import LEAKY_SLOPE

    return LEAKY_SLOPE


def _from_a(name: str) -> Callable:
    """A backward rule written in terms of ``a = f(z)`` only."""
    def backward(z, a, delta, tmp=None):
        f = _flat(a, delta)
        if f is None:
            return _numpy_bwd[name](z, a, delta, tmp)
        getattr(_fused, f"{name}_backward")(*f)
        return delta
    backward.__name__ = f"_{name}_backward"
    return backward


def _softmax_ce_train_t(z, Y, p, delta, rows=None) -> float:
    """:func:`engine.nn.losses.softmax_ce_train_t` with its element-wise passes fused."""
    if z.ndim != 2 or _flat(z, Y, p, delta) is None:
        return _numpy_train["softmax_ce"](z, Y, p, delta, rows)
    n = rows or z.shape[1]
    _fused.shift_by_column_max(z)
    yz = np.vdot(Y, z)
    np.exp(z, out=p)
    s = np.add.reduce(p, axis=0)
    _fused.normalise_residual(p, s, Y, delta, z.dtype.type(1.0 / n))
    return (float(np.log(s).sum()) - float(yz)) / n


def _sigmoid_bce_train_t(z, Y, p, delta, rows=None) -> float:
    """:func:`engine.nn.losses.sigmoid_bce_train_t` with the residual fused."""
    f = _flat(p, Y, delta)
    if f is None or _flat(z, p) is None:
        return _numpy_train["sigmoid_bce"](z, Y, p, delta, rows)
    from scipy.special import expit

    m = z.shape[0] * (rows or z.shape[1])
    expit(z, out=p)
    _fused.residual(*f, z.dtype.type(1.0 / m))
    return (float(np.logaddexp(0.0, z).sum()) - float(np.vdot(Y, z))) / m


_FUSED_FWD = {"relu": _relu_forward, "leaky_relu": _leaky_relu_forward}
_FUSED_BWD = {"relu": _relu_backward, "leaky_relu": _leaky_relu_backward,
              "sigmoid": _from_a("sigmoid"), "tanh": _from_a("tanh"), "elu": _from_a("elu")}
_FUSED_TRAIN = {"softmax_ce": _softmax_ce_train_t, "sigmoid_bce": _sigmoid_bce_train_t}
_numpy_fwd: dict[str, Callable] = {}
_numpy_bwd: dict[str, Callable] = {}
_numpy_train: dict[str, Callable] = {}


def nn_functions(activation: str, loss: str, forward: Callable, backward: Callable,
                 train: Callable) -> tuple[Callable, Callable, Callable]:
    """The MLP's ``(forward, backward, train_t)``: the fused ones where the switch is on and
    a kernel exists, else the NumPy ones passed in (which the fused ones fall back to)."""
    if not enabled():
        return forward, backward, train
    _numpy_fwd[activation], _numpy_bwd[activation], _numpy_train[loss] = forward, backward, train
    return (_FUSED_FWD.get(activation, forward), _FUSED_BWD.get(activation, backward),
            _FUSED_TRAIN.get(loss, train))
