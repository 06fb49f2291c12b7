"""Hyperparameter specs shared by several optimizer families.

Ranges are what a slider can use; the open ends (``low_open`` / ``high_open``)
mirror torch's constructor checks, e.g. ``0 ≤ β < 1`` for Adam's betas.
"""

from __future__ import annotations

from engine.spec import Hyper


def lr(default: float, help: str = "Learning rate γ (step size).", low_open: bool = False) -> Hyper:
    return Hyper("lr", default, 0.0, 1000.0, log=True, help=help, low_open=low_open)


def eps(default: float, help: str = "ε added to the denominator for numerical stability.") -> Hyper:
    return Hyper("eps", default, 0.0, 1.0, log=True, help=help, label="ε")


def betas(default: tuple[float, float] = (0.9, 0.999)) -> Hyper:
    return Hyper(
        "betas", default, low=(0.0, 0.0), high=(1.0, 1.0), high_open=True, kind="pair",
        help="(β₁, β₂): decay rates of the first- and second-moment averages.",
    )


WEIGHT_DECAY = Hyper(
    "weight_decay", 0.0, 0.0, 1.0, help="L2 penalty λ added to the gradient: g ← g + λθ."
)
MAXIMIZE = Hyper("maximize", False, kind="bool", help="Maximise the objective instead.")
DECOUPLED = Hyper(
    "decoupled_weight_decay", False, kind="bool",
    help="Decoupled decay θ ← θ(1 − γλ) instead of L2 on the gradient (the 'W' variants).",
)
AMSGRAD = Hyper(
    "amsgrad", False, kind="bool",
    help="AMSGrad: divide by the running maximum of the second moment.",
)
