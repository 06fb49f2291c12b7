"""Textbook AdaGrad and RMSProp, as in Goodfellow et al. and the decks.

``adagrad_book`` (Deep Learning, Alg. 8.4)::

    g ← ∇ ; if λ ≠ 0: g ← g + λθ
    r ← r + g²
    θ ← θ − γ·g / (δ + √r)                    δ = 1e-7, outside the root
    θ ← θ − γ·g / √(r + δ)                    with eps_inside_sqrt (decks 000, 004)

``rmsprop_book`` (Deep Learning, Alg. 8.5; deck 000 with ρ weighting r)::

    g ← ∇ ; if λ ≠ 0: g ← g + λθ
    r ← ρ·r + (1 − ρ)·g²
    θ ← θ − γ·g / √(δ + r)                    δ = 1e-6 INSIDE the root

torch's ``adagrad`` / ``rmsprop`` put ε outside the root (and RMSprop uses
α = 0.99); with a large ε the difference is plain to see.

References: Goodfellow, Bengio & Courville, *Deep Learning* (2016), Alg. 8.4
and 8.5; Duchi et al. (2011); Hinton, Coursera lecture 6e (2012).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim import hypers as H
from engine.optim.base import Optimizer, register
from engine.spec import Hyper, Spec


class AdagradBook(Optimizer):
    name = "adagrad_book"

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {"step": 0, "sum": np.zeros_like(params)}

    def step(self, params, grad, state, closure=None):
        g = self.working_grad(params, grad, self.hp["weight_decay"], readonly=True)
        state["step"] += 1
        r = state["sum"]
        d = self.buffer("d", params)
        np.multiply(g, g, out=d)
        r += d
        if self.hp["eps_inside_sqrt"]:
            np.add(r, self.hp["eps"], out=d)
            np.sqrt(d, out=d)
        else:
            np.sqrt(r, out=d)
            d += self.hp["eps"]
        np.divide(g, d, out=d)
        d *= self.lr
        params -= d


class RMSPropBook(Optimizer):
    name = "rmsprop_book"

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {"step": 0, "square_avg": np.zeros_like(params)}

    def step(self, params, grad, state, closure=None):
        g = self.working_grad(params, grad, self.hp["weight_decay"], readonly=True)
        state["step"] += 1
        r = state["square_avg"]
        self.ema_sq(r, g, self.hp["rho"])
        d = self.buffer("d", params)
        np.add(r, self.hp["eps"], out=d)
        np.sqrt(d, out=d)
        np.divide(g, d, out=d)
        d *= self.lr
        params -= d


register(Spec(
    "adagrad_book",
    (
        H.lr(1e-2, "Global learning rate ε of the book (γ here)."),
        Hyper("eps", 1e-7, 0.0, 1.0, log=True, label="δ",
              help="δ: small constant for numerical stability (book: about 1e-7)."),
        Hyper("eps_inside_sqrt", False, kind="bool",
              help="Use the decks' √(r + δ) instead of the book's δ + √r."),
        H.WEIGHT_DECAY,
    ),
    help="AdaGrad as in Deep Learning Alg. 8.4: θ ← θ − γg/(δ + √r), or the decks' √(r + δ).",
    reference="Goodfellow et al. 2016, Alg. 8.4; Duchi et al. 2011; deck 000 and 004",
    factory=AdagradBook,
    label="AdaGrad (book)",
))
register(Spec(
    "rmsprop_book",
    (
        H.lr(1e-3, "Global learning rate ε of the book (γ here)."),
        Hyper("rho", 0.9, 0.0, 1.0, high_open=True, label="ρ",
              help="Decay rate ρ of the squared-gradient average."),
        Hyper("eps", 1e-6, 0.0, 1.0, log=True, label="δ",
              help="δ: small constant added INSIDE the square root (book: about 1e-6)."),
        H.WEIGHT_DECAY,
    ),
    help="RMSProp as in Deep Learning Alg. 8.5: θ ← θ − γg/√(δ + r), δ inside the root.",
    reference="Goodfellow et al. 2016, Alg. 8.5; Hinton 2012; deck 000",
    factory=RMSPropBook,
    label="RMSProp (book, δ inside √)",
))


class AdamNoBiasCorrection(Optimizer):
    """Adam's two moving averages with the bias correction left out::

        m ← β₁·m + (1 − β₁)·g ;  v ← β₂·v + (1 − β₂)·g²
        θ ← θ − γ·m / (√v + ε)

    Deck 004 derives why the correction is needed: both averages start at 0,
    so the first step is (1 − β₁)/√(1 − β₂) ≈ 3.16 times γ for the default
    betas, where Adam's is about γ.
    """

    name = "adam_nobc"

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(params), "exp_avg_sq": np.zeros_like(params)}

    def step(self, params, grad, state, closure=None):
        b1, b2 = self.hp["betas"]
        g = self.working_grad(params, grad, self.hp["weight_decay"], readonly=True)
        state["step"] += 1
        m, v = state["exp_avg"], state["exp_avg_sq"]
        self.lerp(m, g, 1 - b1)
        self.ema_sq(v, g, b2)
        d = self.buffer("d", params)
        np.sqrt(v, out=d)
        d += self.hp["eps"]
        np.divide(m, d, out=d)
        d *= -self.lr
        params += d


register(Spec(
    "adam_nobc",
    (H.lr(1e-3), H.betas(), H.eps(1e-8, "ε added to √v (outside the square root)."), H.WEIGHT_DECAY),
    help="Adam without bias correction: the early steps are (1 − β₁)/√(1 − β₂) times too long.",
    reference="Kingma & Ba 2015, §3 (why the correction); deck 004 'Adam' derivation",
    factory=AdamNoBiasCorrection,
    label="Adam without bias correction (deck)",
))
