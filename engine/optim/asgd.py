"""ASGD: averaged stochastic gradient descent (Polyak-Juditsky averaging).

torch.optim.ASGD (2.13)::

    g ← ±∇ ; t ← t + 1 ; if wd ≠ 0: g ← g + wd·θ
    θ ← θ·(1 − λη)                    η, μ: the values left by the PREVIOUS step
    θ ← θ − η·g
    ax ← ax + μ·(θ − ax)  if μ ≠ 1  else  copy(θ)
    η ← γ / (1 + λγt)^α ;  μ ← 1 / max(1, t − t₀)

η starts at lr and μ at 1. The average ``ax`` is never written back into θ;
read it from the state. Defaults: lr 1e-2, lambd 1e-4, alpha 0.75, t0 1e6,
weight_decay 0. η and μ are float64 here (torch keeps them in the default
dtype, float32 unless it is set to float64).

Reference: Polyak & Juditsky (1992); Bottou (2012), "Stochastic Gradient
Descent Tricks"; Goodfellow et al. §8.7.3; torch.optim.ASGD.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim import hypers as H
from engine.optim.base import Optimizer, register
from engine.spec import Hyper, Spec


class ASGD(Optimizer):
    name = "asgd"

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {"step": 0, "eta": float(self.lr), "mu": 1.0, "ax": np.zeros_like(params)}

    def step(self, params, grad, state, closure=None):
        lambd, alpha, t0 = self.hp["lambd"], self.hp["alpha"], self.hp["t0"]
        g = self.working_grad(params, grad, self.hp["weight_decay"], readonly=True)
        state["step"] += 1
        t = state["step"]
        eta, mu = state["eta"], state["mu"]
        params *= 1 - lambd * eta
        upd = self.buffer("upd", params)
        np.multiply(g, -eta, out=upd)
        params += upd
        ax = state["ax"]
        if mu != 1:
            np.subtract(params, ax, out=upd)
            upd *= mu
            ax += upd
        else:
            np.copyto(ax, params)
        lr = self.lr
        state["eta"] = lr / ((1 + lambd * lr * t) ** alpha)
        state["mu"] = 1 / max(1, t - t0)


register(Spec(
    "asgd",
    (
        H.lr(1e-2),
        Hyper("lambd", 1e-4, 0.0, 1.0, log=True, help="Decay term λ: θ ← θ(1 − λη); also decays η."),
        Hyper("alpha", 0.75, 0.0, 2.0, help="Power α in η_t = γ / (1 + λγt)^α."),
        Hyper("t0", 1e6, 0.0, 1e9, log=True, help="Step after which averaging starts."),
        H.WEIGHT_DECAY,
        H.MAXIMIZE,
    ),
    help="torch.optim.ASGD: SGD with a decaying step and a running average of the iterates.",
    reference="Polyak & Juditsky 1992; Bottou 2012; torch.optim.ASGD",
    factory=ASGD,
    label="ASGD (averaged SGD)",
))
