"""RMSprop: divide by a running root-mean-square of the gradient.

torch.optim.RMSprop (2.13)::

    g ← ±∇ ; if λ ≠ 0: g ← g + λθ
    v ← α·v + (1 − α)·g²
    if centered:  ḡ ← lerp(ḡ, g, 1 − α) ;  d ← √(v − ḡ²) + ε
    else:         d ← √v + ε                      ε OUTSIDE the square root
    if μ > 0:     b ← μ·b + g/d ;  θ ← θ − γ·b    b₀ = 0
    else:         θ ← θ − γ·g/d

No bias correction: the first plain step is about 10γ·sign(g) for α = 0.99.
Defaults: lr 1e-2, alpha 0.99, eps 1e-8, weight_decay 0, momentum 0,
centered False. The book's Alg. 8.5 (δ inside the square root) is
``rmsprop_book``.

Reference: Hinton, Srivastava & Swersky, Coursera lecture 6e (2012); Graves
(2013) for the centered form; torch.optim.RMSprop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim import hypers as H
from engine.optim.base import Optimizer, register
from engine.spec import Hyper, Spec


class RMSprop(Optimizer):
    name = "rmsprop"

    def init(self, params: np.ndarray) -> dict[str, Any]:
        state: dict[str, Any] = {"step": 0, "square_avg": np.zeros_like(params)}
        if self.hp["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(params)
        if self.hp["centered"]:
            state["grad_avg"] = np.zeros_like(params)
        return state

    def step(self, params, grad, state, closure=None):
        alpha, mu = self.hp["alpha"], self.hp["momentum"]
        g = self.working_grad(params, grad, self.hp["weight_decay"], readonly=True)
        state["step"] += 1
        v = state["square_avg"]
        self.ema_sq(v, g, alpha)
        d = self.buffer("d", params)
        if self.hp["centered"]:
            ga = state["grad_avg"]
            self.lerp(ga, g, 1 - alpha)
            # torch: square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
            np.multiply(ga, ga, out=d)
            np.subtract(v, d, out=d)
            np.sqrt(d, out=d)
        else:
            np.sqrt(v, out=d)
        d += self.hp["eps"]
        upd = self.buffer("upd", params)
        if mu > 0:
            b = state["momentum_buffer"]
            b *= mu
            np.divide(g, d, out=upd)
            b += upd
            np.multiply(b, -self.lr, out=upd)
        else:
            np.multiply(g, -self.lr, out=upd)
            upd /= d
        params += upd


register(Spec(
    "rmsprop",
    (
        H.lr(1e-2),
        Hyper("alpha", 0.99, 0.0, 1.0, help="Smoothing constant α of the squared-gradient average."),
        H.eps(1e-8, "ε added to √v (outside the square root)."),
        H.WEIGHT_DECAY,
        Hyper("momentum", 0.0, 0.0, 1.0, help="Momentum μ on the normalised step; 0 turns it off."),
        Hyper("centered", False, kind="bool",
              help="Centered: normalise by the gradient's estimated variance, v − ḡ²."),
        H.MAXIMIZE,
    ),
    help="torch.optim.RMSprop: divide by a running RMS of the gradient (ε outside √).",
    reference="Hinton, Coursera NN lecture 6e, 2012; Graves 2013; torch.optim.RMSprop",
    factory=RMSprop,
    label="RMSProp",
))
