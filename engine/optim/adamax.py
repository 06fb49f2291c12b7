"""Adamax: Adam with the infinity norm in place of the second moment.

torch.optim.Adamax (2.13)::

    g ← ±∇ ; t ← t + 1 ; if λ ≠ 0: g ← g + λθ
    m ← lerp(m, g, 1 − β₁)
    u ← max(β₂·u, |g| + ε)                      ε INSIDE the max
    θ ← θ − (γ / (1 − β₁ᵗ)) · m / u

Defaults: lr 2e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.

Reference: Kingma & Ba (2015), §7.1; torch.optim.Adamax.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim import hypers as H
from engine.optim.base import Optimizer, register
from engine.spec import Spec


class Adamax(Optimizer):
    name = "adamax"

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(params), "exp_inf": np.zeros_like(params)}

    def step(self, params, grad, state, closure=None):
        b1, b2 = self.hp["betas"]
        g = self.working_grad(params, grad, self.hp["weight_decay"], readonly=True)
        state["step"] += 1
        m, u = state["exp_avg"], state["exp_inf"]
        self.lerp(m, g, 1 - b1)
        tmp = self.buffer("tmp", params)
        np.abs(g, out=tmp)
        tmp += self.hp["eps"]
        u *= b2
        np.maximum(u, tmp, out=u)
        clr = self.lr / (1 - b1 ** state["step"])
        np.multiply(m, -clr, out=tmp)
        tmp /= u
        params += tmp


register(Spec(
    "adamax",
    (H.lr(2e-3), H.betas(), H.eps(1e-8, "ε added to |g| inside the max."),
     H.WEIGHT_DECAY, H.MAXIMIZE),
    help="torch.optim.Adamax: Adam with an infinity-norm (running max) denominator.",
    reference="Kingma & Ba 2015, §7.1; torch.optim.Adamax",
    factory=Adamax,
    label="Adamax",
))
