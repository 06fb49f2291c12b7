"""AdaGrad: per-coordinate step sizes from the sum of squared gradients.

torch.optim.Adagrad (2.13)::

    t ← t + 1
    g ← ±∇ ; if λ ≠ 0: g ← g + λθ
    γ̃ ← γ / (1 + (t − 1)·η)                 η = lr_decay
    s ← s + g·g                              s₀ = initial_accumulator_value
    θ ← θ − γ̃ · g / (√s + ε)                 ε OUTSIDE the square root

Defaults: lr 1e-2, lr_decay 0, weight_decay 0, initial_accumulator_value 0,
eps 1e-10. The book's Alg. 8.4 and the decks' √(G + ε) form are
``adagrad_book`` (engine/optim/book.py).

Reference: Duchi, Hazan & Singer (2011), "Adaptive Subgradient Methods for
Online Learning and Stochastic Optimization"; torch.optim.Adagrad.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim import hypers as H
from engine.optim.base import Optimizer, register
from engine.spec import Hyper, Spec


class Adagrad(Optimizer):
    name = "adagrad"

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {
            "step": 0,
            "sum": np.full_like(params, self.hp["initial_accumulator_value"]),
        }

    def step(self, params, grad, state, closure=None):
        state["step"] += 1
        g = self.working_grad(params, grad, self.hp["weight_decay"], readonly=True)
        clr = self.lr / (1 + (state["step"] - 1) * self.hp["lr_decay"])
        s = state["sum"]
        tmp = self.buffer("tmp", params)
        np.multiply(g, g, out=tmp)
        s += tmp
        # torch: std = sqrt(s) + eps ; param.addcdiv_(g, std, value=-clr)
        np.sqrt(s, out=tmp)
        tmp += self.hp["eps"]
        upd = self.buffer("upd", params)
        np.multiply(g, -clr, out=upd)
        upd /= tmp
        params += upd


register(Spec(
    "adagrad",
    (
        H.lr(1e-2),
        Hyper("lr_decay", 0.0, 0.0, 1.0, help="η: the step t uses γ / (1 + (t − 1)·η)."),
        H.WEIGHT_DECAY,
        Hyper("initial_accumulator_value", 0.0, 0.0, 10.0,
              help="Starting value of the squared-gradient sum s."),
        H.eps(1e-10, "ε added to √s (outside the square root)."),
        H.MAXIMIZE,
    ),
    help="torch.optim.Adagrad: divide by the root of the summed squared gradients.",
    reference="Duchi, Hazan & Singer 2011; torch.optim.Adagrad",
    factory=Adagrad,
    label="AdaGrad",
))
