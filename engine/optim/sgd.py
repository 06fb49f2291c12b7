"""Stochastic gradient descent with momentum, dampening and Nesterov.

torch.optim.SGD (2.13)::

    g ← ±∇ ; if λ ≠ 0: g ← g + λθ
    if μ ≠ 0:
        b ← g                     on the first step (no dampening, no μ)
        b ← μ·b + (1 − τ)·g       afterwards
        g ← g + μ·b  if nesterov  else  b
    θ ← θ − γ·g

References: Robbins & Monro (1951); Polyak (1964); Sutskever et al. (2013)
for the Nesterov reformulation; Goodfellow et al., *Deep Learning*, Alg. 8.1-8.3.
The deck-named presets ``gd``, ``momentum`` and ``nesterov`` are this update
with the flags already set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine import kernels
from engine.optim.base import Optimizer, register
from engine.optim.stack import column
from engine.spec import Hyper, Spec

LR = Hyper("lr", 1e-3, 0.0, 1000.0, log=True, help="Learning rate γ (step size).")
MOMENTUM = Hyper("momentum", 0.0, 0.0, 1.0, help="Momentum factor μ; 0 turns momentum off.")
DAMPENING = Hyper(
    "dampening", 0.0, 0.0, 1.0, help="Dampening τ: the new gradient enters the buffer as (1 − τ)·g."
)
WEIGHT_DECAY = Hyper(
    "weight_decay", 0.0, 0.0, 1.0, help="L2 penalty λ added to the gradient: g ← g + λθ."
)
NESTEROV = Hyper("nesterov", False, kind="bool", help="Nesterov momentum: step along g + μ·b.")
MAXIMIZE = Hyper("maximize", False, kind="bool", help="Maximise the objective instead.")


class SGD(Optimizer):
    name = "sgd"

    def __init__(self, **hp: Any) -> None:
        if hp.get("nesterov") and (hp.get("momentum", 0) <= 0 or hp.get("dampening", 0) != 0):
            raise ValueError(
                f"optimizer_params.nesterov: True is not allowed with momentum="
                f"{hp.get('momentum', 0)!r} and dampening={hp.get('dampening', 0)!r}; "
                "allowed: Nesterov momentum needs momentum > 0 and dampening = 0"
            )
        super().__init__(**hp)

    def init(self, params: np.ndarray) -> dict[str, Any]:
        state: dict[str, Any] = {"step": 0}
        if self.hp["momentum"] != 0:
            state["momentum_buffer"] = np.zeros_like(params)
        return state

    def step(self, params, grad, state, closure=None):
        if type(self) is SGD and kernels.enabled() and kernels.sgd_step(self, params, grad, state):
            return  # the same update, fused into one pass (engine.fused.sgd_step)
        mu, tau = self.hp["momentum"], self.hp["dampening"]
        # only the Nesterov branch writes to g; elsewhere the raw gradient can be read as it is
        g = self.working_grad(params, grad, self.hp["weight_decay"], readonly=not self.hp["nesterov"])
        state["step"] += 1
        if mu != 0:
            b = state["momentum_buffer"]
            if state["step"] == 1:
                np.copyto(b, g)
            else:
                b *= mu
                if tau == 0:
                    b += g
                else:
                    # torch: b.mul_(μ).add_(g, alpha=1-τ) -> b*μ + (1-τ)*g
                    tmp = self.buffer("tmp", g)
                    np.multiply(g, 1 - tau, out=tmp)
                    b += tmp
            if self.hp["nesterov"]:
                # torch: g.add(b, alpha=μ) -> g + μ*b
                tmp = self.buffer("tmp", g)
                np.multiply(b, mu, out=tmp)
                g += tmp
            else:
                g = b
        # torch: param.add_(g, alpha=-lr) -> θ + (-lr)*g
        tmp = self.buffer("upd", params)
        np.multiply(g, -self.hp["lr"], out=tmp)
        params += tmp

    # -- one step for a stack of runs ------------------------------------------------
    def stack_key(self) -> tuple:
        """Runs whose keys are equal can take one :meth:`stack_step` together."""
        hp = self.hp
        return (type(self), hp["momentum"] != 0, hp["dampening"] == 0, hp["weight_decay"] != 0,
                bool(hp["nesterov"]), bool(hp["maximize"]))

    def stack_step(self, opts, params, grad, states, stacked) -> None:
        """:meth:`step` for K runs at once, bit-identical to K single steps.

        ``params`` and ``grad`` are (K, n); ``states[k]`` is run k's state,
        whose arrays are the rows of ``stacked[name]``; every
        ``opts[k].stack_key()`` equals this one's and the runs have taken the
        same number of steps. Hyperparameters that differ between runs (a
        learning-rate sweep) act as (K, 1) columns.
        """
        dt = params.dtype
        hp = self.hp
        g = grad
        if hp["maximize"] or hp["weight_decay"] != 0 or hp["nesterov"]:
            g = self.buffer("stack_g", grad)
            if hp["maximize"]:
                np.negative(grad, out=g)
            else:
                np.copyto(g, grad)
            if hp["weight_decay"] != 0:
                tmp = self.buffer("stack_tmp", params)
                np.multiply(params, column([o.hp["weight_decay"] for o in opts], dt), out=tmp)
                g += tmp
        for st in states:
            st["step"] += 1
        if hp["momentum"] != 0:
            mu = column([o.hp["momentum"] for o in opts], dt)
            b = stacked["momentum_buffer"]
            if states[0]["step"] == 1:
                np.copyto(b, g)
            else:
                b *= mu
                if hp["dampening"] == 0:
                    b += g
                else:
                    tmp = self.buffer("stack_tmp", g)
                    np.multiply(g, column([1 - o.hp["dampening"] for o in opts], dt), out=tmp)
                    b += tmp
            if hp["nesterov"]:
                tmp = self.buffer("stack_tmp", g)
                np.multiply(b, mu, out=tmp)
                g += tmp
            else:
                g = b
        tmp = self.buffer("stack_upd", params)
        np.multiply(g, column([-o.hp["lr"] for o in opts], dt), out=tmp)
        params += tmp


def _sgd_preset(**fixed: Any):
    def factory(**hp: Any) -> SGD:
        merged = {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0,
                  "nesterov": False, "maximize": False}
        merged.update(fixed)
        merged.update(hp)
        return SGD(**merged)

    return factory


register(Spec(
    "sgd",
    (LR, MOMENTUM, DAMPENING, WEIGHT_DECAY, NESTEROV, MAXIMIZE),
    help="torch.optim.SGD: plain, momentum or Nesterov gradient descent.",
    reference="Robbins & Monro 1951; Sutskever et al. 2013; torch.optim.SGD",
    factory=SGD,
    label="SGD (torch)",
))
register(Spec(
    "gd",
    (Hyper("lr", 0.1, 0.0, 1000.0, log=True, help="Learning rate α."), WEIGHT_DECAY),
    help="Plain gradient descent x ← x − α·f′(x), as on the slides (sgd, momentum 0).",
    reference="Deck 000 'vanilla_gd'; Goodfellow et al. Alg. 8.1",
    factory=_sgd_preset(),
    label="Gradient descent (deck)",
))
register(Spec(
    "momentum",
    (Hyper("lr", 0.1, 0.0, 1000.0, log=True, help="Learning rate α."),
     Hyper("momentum", 0.9, 0.0, 1.0, high_open=True, help="Momentum μ (the slides' μ or φ)."),
     WEIGHT_DECAY),
    help="torch-form momentum: b ← μb + g; θ ← θ − αb (equals the slides' v ← μv − αg at constant α).",
    reference="Deck 000 'momentum_gd'; Deck 001 Alg. 2; Polyak 1964",
    factory=_sgd_preset(),
    label="Momentum (deck)",
))
register(Spec(
    "nesterov",
    (Hyper("lr", 0.1, 0.0, 1000.0, log=True, help="Learning rate α."),
     Hyper("momentum", 0.9, 0.0, 1.0, low_open=True, high_open=True, help="Momentum μ."),
     WEIGHT_DECAY),
    help="Nesterov accelerated gradient (sgd with nesterov=True).",
    reference="Deck 000 'nesterov_gd'; Nesterov 1983; Sutskever et al. 2013",
    factory=_sgd_preset(nesterov=True),
    label="Nesterov (deck)",
))
