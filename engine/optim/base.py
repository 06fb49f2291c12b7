"""The optimizer interface shared by every algorithm.

An optimizer is a small, explicit state machine:

* hyperparameters, fixed at creation (``opt.hp``; ``opt.lr`` may be changed
  between steps by a learning-rate schedule, as torch schedulers change
  ``param_group["lr"]``);
* a state, created by ``init(params)``: a flat dict of NumPy arrays and Python
  scalars, so that it can be saved to ``.npz``, restored and charted;
* ``step(params, grad, state, closure=None)``, which updates ``params`` and
  ``state`` in place.

``params`` and ``grad`` are flat 1-D float vectors of the same dtype. ``grad``
is never modified. Scalar hyperparameter arithmetic happens in Python floats
(IEEE double), as in torch, and array math stays in the params' dtype.

A state holds only ``np.ndarray`` values (at least 1-D, in the params' dtype)
and Python ``int`` / ``float`` / ``bool`` scalars: no ``None``, lists or nested
dicts. :func:`state_to_arrays` and :func:`state_from_arrays` turn it into
``.npz``-ready arrays and back, exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from engine.spec import Registry, Spec

REGISTRY = Registry("optimizer")

Closure = Callable[[np.ndarray], tuple[float, np.ndarray]]


class Optimizer:
    """Base class: subclasses set ``name`` and implement ``init`` and ``step``."""

    name = "base"

    def __init__(self, **hp: Any) -> None:
        self.hp = hp
        self._work: dict[str, np.ndarray] = {}

    @property
    def lr(self) -> float:
        return self.hp["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self.hp["lr"] = float(value)

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {}

    def step(
        self,
        params: np.ndarray,
        grad: np.ndarray,
        state: dict[str, Any],
        closure: Closure | None = None,
    ) -> float | None:
        raise NotImplementedError

    def buffer(self, name: str, like: np.ndarray, dtype: Any = None) -> np.ndarray:
        """A reusable work array shaped like ``like`` (not part of the state).

        Work arrays avoid an allocation per step, which dominates the cost of
        an update at batch size 1. ``dtype`` overrides ``like``'s dtype (e.g.
        ``bool`` for masks).
        """
        dtype = like.dtype if dtype is None else np.dtype(dtype)
        buf = self._work.get(name)
        if buf is None or buf.shape != like.shape or buf.dtype != dtype:
            buf = self._work[name] = np.empty(like.shape, dtype=dtype)
        return buf

    def working_grad(
        self,
        params: np.ndarray,
        grad: np.ndarray,
        weight_decay: float = 0.0,
        readonly: bool = False,
    ) -> np.ndarray:
        """torch's pre-processing: ``g = ±grad``, then ``g += weight_decay * θ``.

        Returns a work buffer; ``grad`` itself is left untouched. With
        ``readonly=True`` the caller promises not to write to the result, and
        ``grad`` itself is returned when there is nothing to do (saves a copy).
        """
        maximize = self.hp.get("maximize", False)
        if readonly and not maximize and weight_decay == 0:
            return grad
        g = self.buffer("g", grad)
        if maximize:
            np.negative(grad, out=g)
        else:
            np.copyto(g, grad)
        if weight_decay != 0:
            # torch: g.add(param, alpha=wd) -> g + wd*θ
            tmp = self.buffer("wd", params)
            np.multiply(params, weight_decay, out=tmp)
            g += tmp
        return g

    def decay_weights(self, params: np.ndarray, weight_decay: float) -> None:
        """Decoupled weight decay, torch's ``param.mul_(1 - lr * weight_decay)``."""
        if weight_decay != 0:
            params *= 1 - self.lr * weight_decay

    def lerp(self, a: np.ndarray, b: np.ndarray, w: float) -> None:
        """``a.lerp_(b, w)`` in place, with torch's two-branch formula.

        ``a + w·(b − a)`` when ``|w| < 0.5``, else ``b − (b − a)·(1 − w)``; the
        second branch makes ``w = 1`` return ``b`` exactly.
        """
        tmp = self.buffer("lerp", a)
        np.subtract(b, a, out=tmp)
        if abs(w) < 0.5:
            tmp *= w
            a += tmp
        else:
            tmp *= 1 - w
            np.subtract(b, tmp, out=a)

    def ema_sq(self, v: np.ndarray, g: np.ndarray, beta: float) -> None:
        """torch's ``v.mul_(β).addcmul_(g, g, value=1-β)``: ``v·β + ((1−β)·g)·g``."""
        tmp = self.buffer("ema_sq", g)
        np.multiply(g, 1 - beta, out=tmp)
        tmp *= g
        v *= beta
        v += tmp

    def adam_moments(
        self, params: np.ndarray, grad: np.ndarray, state: dict[str, Any], weight_decay: float,
        decoupled: bool,
    ) -> tuple[np.ndarray, np.ndarray, int, float, float]:
        """The first half of every Adam-family step, in torch's order::

            g ← ∇ (+ λθ unless decoupled) ;  t ← t + 1 ;  θ ← θ(1 − γλ) if decoupled
            m ← lerp(m, g, 1 − β₁) ;  v ← β₂v + (1 − β₂)g²

        Returns ``(m, v, t, 1 − β₁ᵗ, 1 − β₂ᵗ)``; ``state`` holds ``step``,
        ``exp_avg`` and ``exp_avg_sq``.
        """
        b1, b2 = self.hp["betas"]
        g = self.working_grad(params, grad, 0.0 if decoupled else weight_decay, readonly=True)
        state["step"] += 1
        t = state["step"]
        if decoupled:
            self.decay_weights(params, weight_decay)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        self.lerp(m, g, 1 - b1)
        self.ema_sq(v, g, b2)
        return m, v, t, 1 - b1**t, 1 - b2**t

    def state_norms(self, state: Mapping[str, Any]) -> dict[str, float]:
        """L2 norm of every array in the state, for the diagnostics charts."""
        return {
            k: float(np.linalg.norm(v))
            for k, v in state.items()
            if isinstance(v, np.ndarray) and v.ndim >= 1
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hp.items())
        return f"{self.name}({args})"


def state_to_arrays(state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """An optimizer state as arrays for ``np.savez``; see :func:`state_from_arrays`.

    Arrays are copied; Python ``bool`` / ``int`` / ``float`` scalars become 0-d
    arrays of dtype ``bool`` / ``int64`` / ``float64``. Anything else (``None``,
    lists, dicts) raises ``TypeError`` naming the key; so does a 0-d array.
    """
    out: dict[str, np.ndarray] = {}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            if value.ndim == 0:
                raise TypeError(f"state.{key}: a 0-d array is not allowed; use a Python scalar")
            out[key] = value.copy()
        elif isinstance(value, bool | np.bool_):
            out[key] = np.array(bool(value), dtype=np.bool_)
        elif isinstance(value, int | np.integer):
            out[key] = np.array(int(value), dtype=np.int64)
        elif isinstance(value, float | np.floating):
            out[key] = np.array(float(value), dtype=np.float64)
        else:
            raise TypeError(
                f"state.{key}: {type(value).__name__} is not allowed; "
                "allowed: an array or a Python int, float or bool"
            )
    return out


def state_from_arrays(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Inverse of :func:`state_to_arrays`: 0-d arrays become Python scalars."""
    state: dict[str, Any] = {}
    for key, value in arrays.items():
        value = np.asarray(value)
        if value.ndim == 0:
            if value.dtype == np.bool_:
                state[key] = bool(value)
            elif np.issubdtype(value.dtype, np.integer):
                state[key] = int(value)
            else:
                state[key] = float(value)
        else:
            state[key] = value.copy()
    return state


def register(spec: Spec) -> Spec:
    """Add an optimizer spec; ``spec.factory(**hp)`` must return an Optimizer."""
    return REGISTRY.register(spec)


def create(name: str, **hparams: Any) -> Optimizer:
    """Build the registered optimizer ``name`` with validated hyperparameters.

    Unknown names raise ``ValueError`` listing the registered ones; bad values
    raise ``ValueError`` naming the hyperparameter and its allowed range.
    """
    spec = REGISTRY.get_spec(name, "optimizer")
    hp = spec.resolve(hparams, where="optimizer_params")
    opt = spec.factory(**hp)
    opt.name = name
    return opt
