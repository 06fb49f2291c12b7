"""Rprop (iRprop⁻): sign-based steps with per-coordinate adaptive sizes.

torch.optim.Rprop (2.13)::

    g ← ±∇ ; t ← t + 1
    s ← sign(g · prev)
    f ← η⁺ where s > 0 ;  η⁻ where s < 0 ;  1 where s = 0
    step_size ← clamp(step_size · f, Γmin, Γmax)     every element, also f = 1
    g ← 0 where s < 0                                 no move after a sign flip
    θ ← θ − sign(g) · step_size
    prev ← g

``step_size`` starts at lr, so a schedule changing lr later has no effect (as
in torch). Defaults: lr 1e-2, etas (0.5, 1.2), step_sizes (1e-6, 50); no
weight decay. Validation: 0 < η⁻ < 1 < η⁺.

Reference: Riedmiller & Braun (1993); Igel & Hüsken (2000) for iRprop⁻;
torch.optim.Rprop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim import hypers as H
from engine.optim.base import Optimizer, register
from engine.spec import Hyper, Spec


class Rprop(Optimizer):
    name = "rprop"

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {"step": 0, "prev": np.zeros_like(params), "step_size": np.full_like(params, self.lr)}

    def step(self, params, grad, state, closure=None):
        eta_minus, eta_plus = self.hp["etas"]
        lo, hi = self.hp["step_sizes"]
        g = self.working_grad(params, grad)  # a copy: flipped entries are zeroed
        state["step"] += 1
        prev, size = state["prev"], state["step_size"]
        s = self.buffer("s", params)
        np.multiply(g, prev, out=s)
        pos = np.greater(s, 0, out=self.buffer("pos", params, bool))
        neg = np.less(s, 0, out=self.buffer("neg", params, bool))
        s.fill(1)
        np.copyto(s, eta_plus, where=pos)
        np.copyto(s, eta_minus, where=neg)
        size *= s
        np.clip(size, lo, hi, out=size)
        np.copyto(g, 0, where=neg)
        np.sign(g, out=s)
        s *= size
        params -= s
        np.copyto(prev, g)


register(Spec(
    "rprop",
    (
        H.lr(1e-2, "Initial step size of every coordinate."),
        Hyper("etas", (0.5, 1.2), low=(0.0, 1.0), high=(1.0, 10.0), low_open=True, high_open=True,
              kind="pair", help="(η⁻, η⁺): shrink and growth factors, 0 < η⁻ < 1 < η⁺."),
        Hyper("step_sizes", (1e-6, 50.0), low=(0.0, 0.0), high=(1.0, 1000.0), log=True, kind="pair",
              help="(Γmin, Γmax): bounds on every coordinate's step size."),
        H.MAXIMIZE,
    ),
    help="torch.optim.Rprop: move each coordinate by its own step size in the sign of −g.",
    reference="Riedmiller & Braun 1993; Igel & Hüsken 2000; torch.optim.Rprop",
    factory=Rprop,
    label="Rprop",
))
