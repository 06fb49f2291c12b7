"""RAdam: Adam with a rectified (variance-aware) adaptive step.

torch.optim.RAdam (2.13)::

    g ← ±∇ ; t ← t + 1
    if λ ≠ 0:  decoupled ? θ ← θ(1 − γλ) : g ← g + λθ
    m ← lerp(m, g, 1 − β₁) ;  v ← β₂·v + (1 − β₂)·g²    (both every step)
    m̂ ← m / (1 − β₁ᵗ) ;  bc2 ← 1 − β₂ᵗ
    ρ∞ ← 2/(1 − β₂) − 1 ;  ρ_t ← ρ∞ − 2t·β₂ᵗ / bc2
    if ρ_t > 5:                                          strict; steps 1-5 are not
        r ← √((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t))      rectified for common β₂
        l ← √bc2 / (√v + ε)                              ε on the UNcorrected √v
        θ ← θ − ((m̂·γ)·l)·r
    else:
        θ ← θ − m̂·γ

Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.
``decoupled_weight_decay=True`` gives RAdamW.

Reference: Liu et al. (2020), "On the Variance of the Adaptive Learning Rate
and Beyond"; torch.optim.RAdam.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim import hypers as H
from engine.optim.base import Optimizer, register
from engine.spec import Spec


class RAdam(Optimizer):
    name = "radam"

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(params), "exp_avg_sq": np.zeros_like(params)}

    def step(self, params, grad, state, closure=None):
        b1, b2 = self.hp["betas"]
        lr, wd = self.lr, self.hp["weight_decay"]
        decoupled = self.hp["decoupled_weight_decay"]
        m, v, t, bc1, bc2 = self.adam_moments(params, grad, state, wd, decoupled)
        upd = self.buffer("upd", params)
        np.divide(m, bc1, out=upd)
        upd *= lr
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * (b2**t) / bc2
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
            d = self.buffer("d", params)
            np.sqrt(v, out=d)
            d += self.hp["eps"]
            np.divide(bc2**0.5, d, out=d)
            upd *= d
            upd *= rect
        params -= upd


register(Spec(
    "radam",
    (H.lr(1e-3), H.betas(), H.eps(1e-8, "ε added to the uncorrected √v."), H.WEIGHT_DECAY,
     H.DECOUPLED, H.MAXIMIZE),
    help="torch.optim.RAdam: Adam whose adaptive step is switched on once its variance is tractable.",
    reference="Liu et al. 2020; torch.optim.RAdam",
    factory=RAdam,
    label="RAdam",
))
