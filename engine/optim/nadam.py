"""NAdam: Adam with Nesterov momentum and Dozat's momentum schedule.

torch.optim.NAdam (2.13)::

    g ← ±∇ ; t ← t + 1 ; bc2 ← 1 − β₂ᵗ
    if λ ≠ 0:  decoupled ? θ ← θ(1 − γλ) : g ← g + λθ
    μ_t ← β₁(1 − ½·0.96^(tψ)) ;  μ_{t+1} ← β₁(1 − ½·0.96^((t+1)ψ))
    Π ← Π·μ_t                                   Π₀ = 1, a Python float
    m ← lerp(m, g, 1 − β₁) ;  v ← β₂·v + (1 − β₂)·g²
    d ← √(v / bc2) + ε                          √(v/bc2), not √v/√bc2
    θ ← θ − [γ(1 − μ_t)/(1 − Π)] · g / d
    θ ← θ − [γ μ_{t+1}/(1 − Π μ_{t+1})] · m / d

Defaults: lr 2e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0,
momentum_decay ψ = 4e-3. ``decoupled_weight_decay=True`` gives NAdamW.
``mu_product`` is kept in float64 (torch's float64-default-dtype behaviour).

Reference: Dozat (2016), "Incorporating Nesterov Momentum into Adam";
torch.optim.NAdam.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim import hypers as H
from engine.optim.base import Optimizer, register
from engine.spec import Hyper, Spec


class NAdam(Optimizer):
    name = "nadam"

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {
            "step": 0, "mu_product": 1.0,
            "exp_avg": np.zeros_like(params), "exp_avg_sq": np.zeros_like(params),
        }

    def step(self, params, grad, state, closure=None):
        b1, b2 = self.hp["betas"]
        lr, wd, psi = self.lr, self.hp["weight_decay"], self.hp["momentum_decay"]
        decoupled = self.hp["decoupled_weight_decay"]
        g = self.working_grad(params, grad, 0.0 if decoupled else wd, readonly=True)
        state["step"] += 1
        t = state["step"]
        bc2 = 1 - b2**t
        if decoupled:
            self.decay_weights(params, wd)
        mu = b1 * (1.0 - 0.5 * (0.96 ** (t * psi)))
        mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))
        state["mu_product"] = prod = state["mu_product"] * mu
        m, v = state["exp_avg"], state["exp_avg_sq"]
        self.lerp(m, g, 1 - b1)
        self.ema_sq(v, g, b2)
        d = self.buffer("d", params)
        np.divide(v, bc2, out=d)
        np.sqrt(d, out=d)
        d += self.hp["eps"]
        upd = self.buffer("upd", params)
        np.multiply(g, -lr * (1.0 - mu) / (1.0 - prod), out=upd)
        upd /= d
        params += upd
        np.multiply(m, (-lr * mu_next) / (1.0 - prod * mu_next), out=upd)
        upd /= d
        params += upd


register(Spec(
    "nadam",
    (
        H.lr(2e-3), H.betas(), H.eps(1e-8, "ε added to √(v / bc2)."), H.WEIGHT_DECAY,
        Hyper("momentum_decay", 4e-3, 0.0, 1.0, log=True,
              help="ψ in μ_t = β₁(1 − ½·0.96^(tψ)): how fast momentum warms up."),
        H.DECOUPLED, H.MAXIMIZE,
    ),
    help="torch.optim.NAdam: Adam with Nesterov momentum and a momentum warm-up.",
    reference="Dozat 2016; torch.optim.NAdam",
    factory=NAdam,
    label="NAdam",
))
