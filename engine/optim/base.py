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

    def buffer(self, name: str, like: np.ndarray) -> np.ndarray:
        """A reusable work array shaped like ``like`` (not part of the state).

        Work arrays avoid an allocation per step, which dominates the cost of
        an update at batch size 1.
        """
        buf = self._work.get(name)
        if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
            buf = self._work[name] = np.empty_like(like)
        return buf

    def working_grad(
        self, params: np.ndarray, grad: np.ndarray, weight_decay: float = 0.0
    ) -> np.ndarray:
        """torch's pre-processing: ``g = ±grad``, then ``g += weight_decay * θ``.

        Returns a work buffer; ``grad`` itself is left untouched.
        """
        g = self.buffer("g", grad)
        if self.hp.get("maximize", False):
            np.negative(grad, out=g)
        else:
            np.copyto(g, grad)
        if weight_decay != 0:
            # torch: g.add(param, alpha=wd) -> g + wd*θ
            tmp = self.buffer("wd", params)
            np.multiply(params, weight_decay, out=tmp)
            g += tmp
        return g

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
