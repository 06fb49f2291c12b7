"""Adadelta: RMSprop whose step is rescaled by the RMS of past updates.

torch.optim.Adadelta (2.13)::

    g ← ±∇ ; if λ ≠ 0: g ← g + λθ
    v ← ρ·v + (1 − ρ)·g²
    Δ ← (√(u + ε) / √(v + ε)) · g             ε INSIDE both square roots
    u ← ρ·u + (1 − ρ)·Δ²                      accumulates Δ, not γ·Δ
    θ ← θ − γ·Δ

Defaults: lr 1.0, rho 0.9, eps 1e-6, weight_decay 0. The first step is about
√(ε/(1−ρ))·sign(g) ≈ 3.2e-3.

Reference: Zeiler (2012), "ADADELTA: An Adaptive Learning Rate Method";
torch.optim.Adadelta.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim import hypers as H
from engine.optim.base import Optimizer, register
from engine.spec import Hyper, Spec


class Adadelta(Optimizer):
    name = "adadelta"

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {"step": 0, "square_avg": np.zeros_like(params), "acc_delta": np.zeros_like(params)}

    def step(self, params, grad, state, closure=None):
        rho, eps = self.hp["rho"], self.hp["eps"]
        state["step"] += 1
        g = self.working_grad(params, grad, self.hp["weight_decay"], readonly=True)
        v, u = state["square_avg"], state["acc_delta"]
        self.ema_sq(v, g, rho)
        std = self.buffer("std", params)
        np.add(v, eps, out=std)
        np.sqrt(std, out=std)
        delta = self.buffer("delta", params)
        np.add(u, eps, out=delta)
        np.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        self.ema_sq(u, delta, rho)
        np.multiply(delta, -self.lr, out=std)
        params += std


register(Spec(
    "adadelta",
    (
        H.lr(1.0, "Learning rate γ multiplying the Adadelta step (Zeiler: 1)."),
        Hyper("rho", 0.9, 0.0, 1.0, help="Decay rate ρ of both running averages."),
        H.eps(1e-6, "ε inside both square roots; it also sets the size of the first steps."),
        H.WEIGHT_DECAY,
        H.MAXIMIZE,
    ),
    help="torch.optim.Adadelta: step = RMS(past updates) / RMS(gradients) · g.",
    reference="Zeiler 2012; torch.optim.Adadelta",
    factory=Adadelta,
    label="Adadelta",
))
