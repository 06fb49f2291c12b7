"""The lecture decks' own forms of momentum, Nesterov and Adam, and deck 000's presets.

These are separate entries because they differ from torch.optim's forms.

``momentum_deck`` — learning rate inside the velocity (deck 000 ``momentum_gd``,
deck 001 Alg. 2, deck 002 Alg. 8.2, deck 004's "M = βM + ηg; W = W − M" with
M = −v)::

    g ← ∇ ; if λ ≠ 0: g ← g + λθ
    v ← μ·v − γ_t·g ;  θ ← θ + v

  torch's ``b ← μb + g; θ ← θ − γ_t·b`` is the same update while γ is
  constant (v = −γb). Under a schedule the deck's velocity remembers the
  *old* step sizes, torch's buffer only the old gradients, so they differ.

``nesterov_deck`` — deck 000 ``nesterov_gd``::

    v ← μ·v − γ_t·g ;  θ ← θ + μ·v − γ_t·g

  equal to torch's ``nesterov=True`` at a constant learning rate.

``adam_deck`` / ``adamw_deck`` — ε inside the square root::

    m ← β₁m + (1 − β₁)g ;  v ← β₂v + (1 − β₂)g²
    eps_under = "v_hat"  (deck 001 Alg. 5):  θ ← θ − γ·m̂ / √(v̂ + ε)
    eps_under = "v"      (deck 004 Alg. 1):  θ ← θ − γ·(√(1 − β₂ᵗ)/(1 − β₁ᵗ))·m / √(v + ε)

  with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ). The two differ by where ε sits
  relative to the bias correction (the second is √(v̂ + ε/(1 − β₂ᵗ))); with
  ε = 0 both are torch's Adam with ε = 0. ``adamw_deck`` decouples the decay
  as deck 004's AdamW: θ ← θ − γ(… + λθ), i.e. torch's θ(1 − γλ) first.

Deck 000's presets (the code on its AdaGrad, RMSProp and Adam slides):

* ``adagrad_deck000``: G ← G + g²; θ ← θ − γ·g/√(G + ε), ε = 1e-6 inside;
* ``rmsprop_deck000``: G ← ρG + (1 − ρ)g² with the code's ρ = 0.1 (the *old*
  average weighs 0.1, the new squared gradient 0.9); θ ← θ − γ·g/√(G + ε),
  ε = 1e-6 inside;
* ``adam_deck000``: torch's Adam with ε = 1e-6 outside the root ("the ε is no
  longer in the square root").

References: Polyak (1964); Sutskever et al. (2013); Goodfellow et al.,
*Deep Learning*, Alg. 8.2, 8.3, 8.7; Kingma & Ba (2015); Loshchilov & Hutter
(2019); deck 000 (SUTD 50.039 W2-S2), deck 001 (LMU ch. 3), deck 002
(Optimizers), deck 004 (UBC CPEN 455 lecture 4).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.optim import hypers as H
from engine.optim.adam import Adam
from engine.optim.base import Optimizer, register
from engine.optim.book import AdagradBook, RMSPropBook
from engine.spec import Hyper, Spec

_LR = Hyper("lr", 0.1, 0.0, 1000.0, log=True, help="Learning rate α, inside the velocity.")


class MomentumDeck(Optimizer):
    name = "momentum_deck"
    nesterov = False

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {"step": 0, "velocity": np.zeros_like(params)}

    def step(self, params, grad, state, closure=None):
        mu = self.hp["momentum"]
        g = self.working_grad(params, grad, self.hp["weight_decay"], readonly=True)
        state["step"] += 1
        v = state["velocity"]
        step = self.buffer("step", params)
        np.multiply(g, -self.lr, out=step)  # −α·g
        v *= mu
        v += step
        if self.nesterov:
            # θ ← θ + μ·v − α·g  (deck 000 nesterov_gd: val += mu*mom + grad)
            tmp = self.buffer("tmp", params)
            np.multiply(v, mu, out=tmp)
            step += tmp
            params += step
        else:
            params += v


class NesterovDeck(MomentumDeck):
    name = "nesterov_deck"
    nesterov = True


register(Spec(
    "momentum_deck",
    (_LR,
     Hyper("momentum", 0.9, 0.0, 1.0, high_open=True, help="Momentum μ (the slides' μ, φ or β)."),
     H.WEIGHT_DECAY),
    help="Momentum with α inside the velocity: v ← μv − αg; θ ← θ + v (differs from torch under a schedule).",
    reference="Deck 000 'momentum_gd'; deck 001 Alg. 2; deck 002 Alg. 8.2; deck 004 'M = βM + ηg'",
    factory=MomentumDeck,
    label="Momentum (deck form, α in v)",
))
register(Spec(
    "nesterov_deck",
    (_LR,
     Hyper("momentum", 0.9, 0.0, 1.0, low_open=True, high_open=True, help="Momentum μ."),
     H.WEIGHT_DECAY),
    help="Nesterov with α inside the velocity: v ← μv − αg; θ ← θ + μv − αg (deck 000 nesterov_gd).",
    reference="Deck 000 'nesterov_gd'; Sutskever et al. 2013; Goodfellow et al. Alg. 8.3",
    factory=NesterovDeck,
    label="Nesterov (deck form, α in v)",
))


class AdamDeck(Optimizer):
    name = "adam_deck"
    decoupled = False

    def init(self, params: np.ndarray) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(params), "exp_avg_sq": np.zeros_like(params)}

    def step(self, params, grad, state, closure=None):
        b1, b2 = self.hp["betas"]
        lr, wd, eps = self.lr, self.hp["weight_decay"], self.hp["eps"]
        decoupled = self.decoupled or self.hp.get("decoupled_weight_decay", False)
        m, v, t, bc1, bc2 = self.adam_moments(params, grad, state, wd, decoupled)
        d = self.buffer("d", params)
        if self.hp["eps_under"] == "v_hat":
            # deck 001: −μ·ŝ/√(r̂ + β)
            np.divide(v, bc2, out=d)
            d += eps
            np.sqrt(d, out=d)
            step_size = lr / bc1
        else:
            # deck 004: −η·(√(1 − β₂ᵗ)/(1 − β₁ᵗ))·m/√(v + ε)
            np.add(v, eps, out=d)
            np.sqrt(d, out=d)
            step_size = lr * bc2**0.5 / bc1
        upd = self.buffer("upd", params)
        np.multiply(m, -step_size, out=upd)
        upd /= d
        params += upd


class AdamWDeck(AdamDeck):
    name = "adamw_deck"
    decoupled = True


_EPS_IN = H.eps(1e-8, "ε added INSIDE the square root (the decks' √(v̂ + ε) or √(v + ε)).")
_EPS_UNDER = Hyper(
    "eps_under", "v_hat", kind="choice", choices=("v_hat", "v"), label="ε under",
    help="v_hat: √(v̂ + ε) as deck 001; v: η·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/√(v + ε) as deck 004.",
)

register(Spec(
    "adam_deck",
    (H.lr(1e-3), H.betas(), _EPS_IN, _EPS_UNDER, H.WEIGHT_DECAY, H.DECOUPLED),
    help="Adam with ε inside the square root, as the decks print it: m̂/√(v̂ + ε).",
    reference="Deck 001 Alg. 5 '−μ ŝ/√(r̂ + β)'; deck 004 Alg. 1 'm^t/√(v^t + ε)'; Kingma & Ba 2015",
    factory=AdamDeck,
    label="Adam (deck form, ε inside √)",
))
register(Spec(
    "adamw_deck",
    (H.lr(1e-3), H.betas(), _EPS_IN, _EPS_UNDER,
     Hyper("weight_decay", 1e-2, 0.0, 1.0,
           help="Decoupled weight decay λ: θ ← θ − γ(… + λθ) as deck 004's AdamW.")),
    help="AdamW with ε inside the square root, as deck 004 prints it: W − η(√(1−β₂ᵗ)/(1−β₁ᵗ)·m/√(v+ε) + λW).",
    reference="Deck 004 'AdamW' Alg. 1; Loshchilov & Hutter 2019",
    factory=AdamWDeck,
    label="AdamW (deck form, ε inside √)",
))


# -- deck 000's presets ---------------------------------------------------------

def _preset(cls, **fixed: Any):
    def factory(**hp: Any) -> Optimizer:
        return cls(**{**hp, **fixed})

    return factory


register(Spec(
    "adagrad_deck000",
    (H.lr(1e-2, "Learning rate α."),
     Hyper("eps", 1e-6, 0.0, 1.0, log=True, label="ε",
           help="ε INSIDE the square root: √(G + ε); deck 000 uses 1e-6."),
     H.WEIGHT_DECAY),
    help="Deck 000's AdaGrad code: G ← G + g²; θ ← θ − αg/√(G + ε), ε = 1e-6 inside the root.",
    reference="Deck 000 'AdaGrad implementation'; Duchi et al. 2011",
    factory=_preset(AdagradBook, eps_inside_sqrt=True),
    label="AdaGrad (deck 000 code)",
))
register(Spec(
    "rmsprop_deck000",
    (H.lr(1e-3, "Learning rate α."),
     Hyper("rho", 0.1, 0.0, 1.0, high_open=True, label="ρ",
           help="ρ weighs the OLD average: G ← ρG + (1 − ρ)g²; deck 000's code uses ρ = 0.1."),
     Hyper("eps", 1e-6, 0.0, 1.0, log=True, label="ε",
           help="ε INSIDE the square root: √(G + ε); deck 000 uses 1e-6."),
     H.WEIGHT_DECAY),
    help="Deck 000's RMSProp code: G ← ρG + (1 − ρ)g² with ρ = 0.1; θ ← θ − αg/√(G + ε).",
    reference="Deck 000 'RMSProp implementation'; Hinton 2012",
    factory=RMSPropBook,
    label="RMSProp (deck 000 code, ρ = 0.1)",
))
register(Spec(
    "adam_deck000",
    (H.lr(1e-3), H.betas(),
     H.eps(1e-6, "ε outside the square root; deck 000 uses 1e-6."),
     H.WEIGHT_DECAY),
    help="Deck 000's Adam code: bias-corrected, α·V̂/(√Ŝ + ε) with ε = 1e-6 outside the root.",
    reference="Deck 000 'Adam implementation'; Kingma & Ba 2015",
    factory=_preset(Adam, amsgrad=False, maximize=False, decoupled_weight_decay=False),
    label="Adam (deck 000 code, ε = 1e-6)",
))
