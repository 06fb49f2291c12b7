"""Lookahead: k fast steps of an inner optimizer, then one slow interpolation.

::

    every step:       θ ← inner.step(θ)                 (the "fast" weights)
    every k-th step:  φ ← φ + α·(θ − φ) ;  θ ← φ        (the "slow" weights)

φ starts at θ₀. The interpolation uses torch's ``lerp`` formula, so k = 1,
α = 1 is exactly the inner optimizer. The state holds the inner optimizer's
state under keys prefixed ``inner.``, the slow weights ``slow`` and the
counter ``step``; ``opt.lr`` reads and sets the inner optimizer's lr, so a
schedule drives the fast steps. Defaults: inner "adam" (with its own
defaults), k 5, alpha 0.5.

Reference: Zhang, Lucas, Hinton & Ba (2019), "Lookahead Optimizer: k steps
forward, 1 step back", NeurIPS.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim.base import REGISTRY, Optimizer, register
from engine.spec import Hyper, Spec

PREFIX = "inner."
_NOT_INNER = ("lookahead", "lbfgs")


class Lookahead(Optimizer):
    name = "lookahead"

    def __init__(self, **hp: Any) -> None:
        inner = hp["inner"]
        spec = REGISTRY.get_spec(inner, "optimizer_params.inner")
        if inner in _NOT_INNER or spec.extra.get("full_batch_only"):
            allowed = ", ".join(n for n in REGISTRY if n not in _NOT_INNER)
            raise ValueError(
                f"optimizer_params.inner: {inner!r} is not allowed; allowed: {allowed}"
            )
        inner_hp = spec.resolve(hp.get("inner_params") or {}, "optimizer_params.inner_params")
        self.inner = spec.factory(**inner_hp)
        self.inner.name = inner
        super().__init__(**{**hp, "inner_params": inner_hp})

    @property
    def lr(self) -> float:
        return self.inner.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.inner.lr = value

    def init(self, params: np.ndarray) -> dict[str, Any]:
        state: dict[str, Any] = {PREFIX + k: v for k, v in self.inner.init(params).items()}
        state["step"] = 0
        state["slow"] = params.copy()
        return state

    def step(self, params, grad, state, closure=None):
        n = len(PREFIX)
        inner = {k[n:]: v for k, v in state.items() if k.startswith(PREFIX)}
        loss = self.inner.step(params, grad, inner, closure)
        for k, v in inner.items():
            state[PREFIX + k] = v
        state["step"] += 1
        if state["step"] % self.hp["k"] == 0:
            slow = state["slow"]
            self.lerp(slow, params, self.hp["alpha"])
            np.copyto(params, slow)
        return loss


register(Spec(
    "lookahead",
    (
        Hyper("inner", "adam", kind="optimizer", help="The inner ('fast') optimizer."),
        Hyper("inner_params", {}, kind="params", help="Hyperparameters of the inner optimizer."),
        Hyper("k", 5, 1, 100, kind="int", help="Fast steps between two slow updates."),
        Hyper("alpha", 0.5, 0.0, 1.0, low_open=True,
              help="Slow step size α: φ ← φ + α(θ − φ)."),
    ),
    help="Lookahead: every k inner steps, pull the slow weights α of the way to the fast ones.",
    reference="Zhang, Lucas, Hinton & Ba 2019 (NeurIPS)",
    factory=Lookahead,
    label="Lookahead",
))
