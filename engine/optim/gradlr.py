"""Gradient-based learning-rate control, from deck 000 ("vanilla_gd_gradlr").

Each coordinate's step size shrinks by a factor that depends on the gradient
it sees, BEFORE the update::

    α ← α · 1 / (1 + c·√|g|)
    θ ← θ − α·g

The state keeps the multiplier ``scale`` (starting at 1, so α = lr·scale and
a learning-rate schedule still applies) and the step size ``alpha`` actually
used. While lr is constant ``alpha`` is updated by the same product as the
deck's loop, so the trajectory reproduces ``vanilla_gd_gradlr`` bit for bit;
when lr changes it is recomputed as lr·scale. Defaults: lr 0.1, control 0.99
(the deck's ``alpha_control_fac``).

Reference: SUTD 50.039 deck 000, "Gradient-based learning rate control".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim import hypers as H
from engine.optim.base import Optimizer, register
from engine.spec import Hyper, Spec


class GradLR(Optimizer):
    name = "gradlr"

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {
            "step": 0,
            "scale": np.ones_like(params),
            "alpha": np.full_like(params, self.lr),
            "alpha_lr": float(self.lr),
        }

    def step(self, params, grad, state, closure=None):
        g = self.working_grad(params, grad, self.hp["weight_decay"], readonly=True)
        state["step"] += 1
        r = self.buffer("r", params)
        np.abs(g, out=r)
        np.sqrt(r, out=r)
        r *= self.hp["control"]
        r += 1
        np.divide(1, r, out=r)
        scale, alpha = state["scale"], state["alpha"]
        scale *= r
        lr = self.lr
        if lr == state["alpha_lr"]:
            alpha *= r
        else:
            np.multiply(scale, lr, out=alpha)
            state["alpha_lr"] = float(lr)
        np.multiply(alpha, g, out=r)
        params -= r


register(Spec(
    "gradlr",
    (
        H.lr(0.1, "Initial learning rate α."),
        Hyper("control", 0.99, 0.0, 10.0, label="α_cf",
              help="Control factor c: α ← α / (1 + c·√|g|) before every update."),
        H.WEIGHT_DECAY,
    ),
    help="Deck 000's gradient-based LR control: α ← α/(1 + c√|g|) per coordinate, then θ ← θ − αg.",
    reference="SUTD 50.039 deck 000, vanilla_gd_gradlr",
    factory=GradLR,
    label="Gradient-based LR control (deck)",
))
