"""Adam and AdamW, with AMSGrad and decoupled weight decay.

torch.optim.Adam (2.13)::

    g ← ±∇ ; t ← t + 1
    if λ ≠ 0:  decoupled ? θ ← θ·(1 − γλ) : g ← g + λθ
    m ← lerp(m, g, 1 − β₁)                       β₁·m + (1 − β₁)·g
    v ← β₂·v + (1 − β₂)·g²
    bc1 ← 1 − β₁ᵗ ;  bc2 ← 1 − β₂ᵗ               Python floats
    if amsgrad: v̂ ← max(v̂, v)  (max of the RAW v), else v̂ ← v
    θ ← θ − (γ / bc1) · m / (√v̂ / √bc2 + ε)     ε AFTER the bias correction

AdamW is Adam with ``decoupled_weight_decay=True`` forced and
``weight_decay=1e-2``. Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8.

References: Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization"
(= Goodfellow et al. Alg. 8.7); Reddi, Kale & Kumar (2018) for AMSGrad;
Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization";
torch.optim.Adam / AdamW.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine import kernels
from engine.optim import hypers as H
from engine.optim.base import Optimizer, register
from engine.optim.stack import column
from engine.spec import Hyper, Spec


class Adam(Optimizer):
    name = "adam"
    decoupled = False

    def init(self, params: np.ndarray) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": 0, "exp_avg": np.zeros_like(params), "exp_avg_sq": np.zeros_like(params)
        }
        if self.hp["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(params)
        return state

    def step(self, params, grad, state, closure=None):
        b1, b2 = self.hp["betas"]
        lr, wd = self.lr, self.hp["weight_decay"]
        decoupled = self.decoupled or self.hp.get("decoupled_weight_decay", False)
        # subclasses may change a piece of the step; only these two are fused as they are
        if type(self) in (Adam, AdamW) and kernels.enabled() and kernels.adam_step(
                self, params, grad, state, decoupled):
            return  # the same update, fused into one pass (engine.fused.adam_step)
        m, v, t, bc1, bc2 = self.adam_moments(params, grad, state, wd, decoupled)
        step_size = lr / bc1
        if self.hp["amsgrad"]:
            v = state["max_exp_avg_sq"]
            np.maximum(v, state["exp_avg_sq"], out=v)
        d = self.buffer("d", params)
        np.sqrt(v, out=d)
        d /= bc2**0.5
        d += self.hp["eps"]
        # torch: param.addcdiv_(m, denom, value=-step_size) -> θ + (-step_size·m)/denom
        upd = self.buffer("upd", params)
        np.multiply(m, -step_size, out=upd)
        upd /= d
        params += upd

    # -- one step for a stack of runs ------------------------------------------------
    def stack_key(self) -> tuple | None:
        """Runs whose keys are equal can take one :meth:`stack_step` together (None: never)."""
        decoupled = self.decoupled or self.hp.get("decoupled_weight_decay", False)
        if self.hp["maximize"] or (self.hp["weight_decay"] != 0 and not decoupled):
            return None
        # the lerp takes one of two branches; every run of a stack must take the same
        return (type(self), decoupled, bool(self.hp["amsgrad"]), abs(1 - self.hp["betas"][0]) < 0.5)

    def stack_step(self, opts, params, grad, states, stacked) -> None:
        """:meth:`step` for K runs at once, bit-identical to K single steps.

        ``params`` and ``grad`` are (K, n); ``states[k]`` is run k's state,
        whose arrays are the rows of ``stacked[name]`` (K, n); every
        ``opts[k].stack_key()`` equals this one's. Hyperparameters that
        differ between runs (a learning-rate sweep) act as (K, 1) columns.
        """
        dt = params.dtype
        decoupled = self.decoupled or self.hp.get("decoupled_weight_decay", False)
        b1 = [o.hp["betas"][0] for o in opts]
        b2 = [o.hp["betas"][1] for o in opts]
        for st in states:
            st["step"] += 1
        t = [st["step"] for st in states]
        if decoupled:
            params *= column([1 - o.lr * o.hp["weight_decay"] for o in opts], dt)
        m, v = stacked["exp_avg"], stacked["exp_avg_sq"]
        tmp = self.buffer("stack_tmp", params)
        # lerp(m, g, 1 − β₁), both branches as in Optimizer.lerp
        np.subtract(grad, m, out=tmp)
        if abs(1 - b1[0]) < 0.5:
            tmp *= column([1 - b for b in b1], dt)
            m += tmp
        else:
            tmp *= column([1 - (1 - b) for b in b1], dt)
            np.subtract(grad, tmp, out=m)
        # ema_sq(v, g, β₂)
        np.multiply(grad, column([1 - b for b in b2], dt), out=tmp)
        tmp *= grad
        v *= column(b2, dt)
        v += tmp
        if self.hp["amsgrad"]:
            vmax = stacked["max_exp_avg_sq"]
            np.maximum(vmax, v, out=vmax)
            v = vmax
        d = self.buffer("stack_d", params)
        np.sqrt(v, out=d)
        d /= column([(1 - b**s) ** 0.5 for b, s in zip(b2, t, strict=True)], dt)
        d += column([o.hp["eps"] for o in opts], dt)
        np.multiply(m, column([-(o.lr / (1 - b**s)) for o, b, s in zip(opts, b1, t, strict=True)], dt),
                    out=tmp)
        tmp /= d
        params += tmp


class AdamW(Adam):
    name = "adamw"
    decoupled = True


_EPS = H.eps(1e-8, "ε added to the bias-corrected √v̂ (outside the square root).")

register(Spec(
    "adam",
    (H.lr(1e-3), H.betas(), _EPS, H.WEIGHT_DECAY, H.AMSGRAD, H.MAXIMIZE, H.DECOUPLED),
    help="torch.optim.Adam: momentum plus RMSProp scaling, both bias-corrected.",
    reference="Kingma & Ba 2015; Goodfellow et al. Alg. 8.7; Reddi et al. 2018; torch.optim.Adam",
    factory=Adam,
    label="Adam",
))
register(Spec(
    "adamw",
    (
        H.lr(1e-3), H.betas(), _EPS,
        Hyper("weight_decay", 1e-2, 0.0, 1.0,
              help="Decoupled weight decay λ: θ ← θ(1 − γλ) before the Adam step."),
        H.AMSGRAD, H.MAXIMIZE,
    ),
    help="torch.optim.AdamW: Adam with decoupled weight decay θ ← θ(1 − γλ).",
    reference="Loshchilov & Hutter 2019; torch.optim.AdamW",
    factory=AdamW,
    label="AdamW",
))
