"""AdaBound / AMSBound: Adam whose per-coordinate step is clipped into a band
that closes in on an SGD learning rate.

The reference implementation (Luolc/AdaBound, ``adabound.py``)::

    g ← ∇ ; t ← t + 1 ; if λ ≠ 0: g ← g + λθ
    m ← β₁·m + (1 − β₁)·g ;  v ← β₂·v + (1 − β₂)·g²
    v̂ ← max(v̂, v) if amsbound else v
    d ← √v̂ + ε
    η  ← γ·√(1 − β₂ᵗ) / (1 − β₁ᵗ)
    γ* ← final_lr · γ / γ₀                     γ₀: the lr at construction
    lo ← γ*(1 − 1/(g_c·t + 1)) ;  hi ← γ*(1 + 1/(g_c·t))     g_c = gamma
    θ ← θ − clamp(η / d, lo, hi) · m

Scaling final_lr by the current lr over the initial one lets a schedule decay
the bound too. Defaults: lr 1e-3, betas (0.9, 0.999), final_lr 0.1,
gamma 1e-3, eps 1e-8, weight_decay 0, amsbound False.

Reference: Luo, Xiong, Liu & Sun (2019), "Adaptive Gradient Methods with
Dynamic Bound of Learning Rate", ICLR; github.com/Luolc/AdaBound.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim import hypers as H
from engine.optim.base import Optimizer, register
from engine.spec import Hyper, Spec


class AdaBound(Optimizer):
    name = "adabound"

    def __init__(self, **hp: Any) -> None:
        super().__init__(**hp)
        self.base_lr = float(hp["lr"])

    def init(self, params: np.ndarray) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": 0, "exp_avg": np.zeros_like(params), "exp_avg_sq": np.zeros_like(params)
        }
        if self.hp["amsbound"]:
            state["max_exp_avg_sq"] = np.zeros_like(params)
        return state

    def step(self, params, grad, state, closure=None):
        b1, b2 = self.hp["betas"]
        lr, gamma = self.lr, self.hp["gamma"]
        g = self.working_grad(params, grad, self.hp["weight_decay"], readonly=True)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = self.buffer("tmp", params)
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp
        self.ema_sq(v, g, b2)
        if self.hp["amsbound"]:
            v = state["max_exp_avg_sq"]
            np.maximum(v, state["exp_avg_sq"], out=v)
        np.sqrt(v, out=tmp)
        tmp += self.hp["eps"]
        step_size = lr * (1 - b2**t) ** 0.5 / (1 - b1**t)
        final_lr = self.hp["final_lr"] * lr / self.base_lr
        lower = final_lr * (1 - 1 / (gamma * t + 1))
        upper = final_lr * (1 + 1 / (gamma * t))
        np.divide(step_size, tmp, out=tmp)
        np.clip(tmp, lower, upper, out=tmp)
        tmp *= m
        params -= tmp


register(Spec(
    "adabound",
    (
        H.lr(1e-3, "Adam learning rate γ (its initial value also scales final_lr).", low_open=True),
        H.betas(),
        Hyper("final_lr", 0.1, 0.0, 10.0, log=True,
              help="The SGD learning rate the bounds converge to."),
        Hyper("gamma", 1e-3, 0.0, 1.0, log=True, low_open=True, high_open=True,
              help="Convergence speed of the bound functions."),
        H.eps(1e-8, "ε added to √v (outside the square root)."),
        H.WEIGHT_DECAY,
        Hyper("amsbound", False, kind="bool", help="AMSBound: use the running max of v."),
    ),
    help="AdaBound: Adam with per-coordinate steps clipped into a band that tends to SGD.",
    reference="Luo et al. 2019 (ICLR); github.com/Luolc/AdaBound",
    factory=AdaBound,
    label="AdaBound",
))
