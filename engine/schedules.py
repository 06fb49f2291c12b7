"""Learning-rate schedules: plain functions of the update index.

A schedule is built by ``create(name, lr, total_updates, **params)`` (or
``REGISTRY[name].factory(lr, total_updates, **resolved)``) and is a plain
function ``t -> lr`` where **t is the 1-based update index**: the first update
of a run uses ``schedule(1)`` and the last ``schedule(total_updates)``. The
training loop (and :func:`engine.minimize.minimize`) sets ``opt.lr =
schedule(t)`` just before update ``t``.

=============  ==========================================================
name           lr used by update t (α = base lr, T = total_updates)
=============  ==========================================================
constant       α
step           α·γ^⌊(t−1)/step_size⌋                (torch StepLR)
exponential    α·K^t       (deck 000: "α ← K·α", then the update)
linear         (1 − t/τ)·α + (t/τ)·α_τ for t ≤ τ, then α_τ   (deck 001)
cosine         m + (α − m)·(1 + cos(π·(t−1)/T))/2   (torch CosineAnnealingLR)
warmup_cosine  α·t/(w+1) for t ≤ w, then cosine from α to m  (nanoGPT)
inverse_time   α / (1 + d·(t − 1))                 (Robbins–Monro 1/t)
plateau        α·(multiplier from :class:`Plateau`)  (torch ReduceLROnPlateau)
=============  ==========================================================

Why t is 1-based: the deck-000 loop ``alpha *= K; val -= alpha*f'(val)``
decays *before* the first update, so update 1 uses α·K; the deck-001 table
for τ = 4 gives iteration 1 the weight ε = 1/4 and reaches α_τ at
iteration τ. With t counted from 1 both tables come out exactly.

``preview(name, lr, total_updates, **params)`` gives the lr of every update
as an array, for the Playground's schedule chart.

References: Goodfellow, Bengio & Courville, *Deep Learning* §8.3.1 (linear
decay, α_τ ≈ 1 % of α₀); torch.optim.lr_scheduler (StepLR, ExponentialLR,
CosineAnnealingLR, ReduceLROnPlateau); optax schedules; nanoGPT ``get_lr``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.spec import Hyper, Registry, Spec

REGISTRY = Registry("schedule")

Schedule = Callable[[int], float]

WHERE = "schedule_params"


def register(spec: Spec) -> Spec:
    """Add a schedule spec; ``spec.factory(lr, total_updates, **hp)`` returns ``t -> lr``."""
    return REGISTRY.register(spec)


# -- the schedules -------------------------------------------------------------

def constant(lr: float, total_updates: int) -> Schedule:
    def schedule(t: int) -> float:
        return lr

    return schedule


def step(lr: float, total_updates: int, step_size: int, gamma: float) -> Schedule:
    def schedule(t: int) -> float:
        return lr * gamma ** ((t - 1) // step_size)

    return schedule


def exponential(lr: float, total_updates: int, gamma: float) -> Schedule:
    # deck 000 multiplies α by K *before* each update: update t uses α·K^t
    def schedule(t: int) -> float:
        return lr * gamma**t

    return schedule


def linear(lr: float, total_updates: int, tau: int, final_fraction: float) -> Schedule:
    tau = tau or total_updates
    final = final_fraction * lr

    def schedule(t: int) -> float:
        if t >= tau:
            return final
        e = t / tau  # deck 001: ε = k/τ
        return (1 - e) * lr + e * final

    return schedule


def cosine(lr: float, total_updates: int, min_lr: float) -> Schedule:
    # torch CosineAnnealingLR(T_max=T, eta_min=m) with one scheduler.step()
    # per update: T_cur = t − 1, so update 1 uses the full lr and the floor
    # m is approached but never used within the budget (no wasted update).
    T = total_updates

    def schedule(t: int) -> float:
        c = min(t - 1, T) / T
        return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * c))

    return schedule


def warmup_cosine(lr: float, total_updates: int, warmup: int, min_lr: float) -> Schedule:
    # nanoGPT get_lr(it) with it = t − 1 and lr_decay_iters = T:
    # warmup lr·t/(w+1) for t ≤ w, the peak at t = w + 1, then cosine to m.
    T = total_updates
    span = max(T - warmup, 1)

    def schedule(t: int) -> float:
        if t <= warmup:
            return lr * t / (warmup + 1)
        c = min(t - 1 - warmup, span) / span
        return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * c))

    return schedule


def inverse_time(lr: float, total_updates: int, decay: float) -> Schedule:
    def schedule(t: int) -> float:
        return lr / (1.0 + decay * (t - 1))

    return schedule


class Plateau:
    """Reduce-on-plateau state, with torch ReduceLROnPlateau's semantics.

    Call :meth:`update` with the monitored metric after each evaluation; it
    returns the current lr multiplier. The rules (torch 2.13, mode ``"min"``,
    ``threshold_mode="rel"``):

    * the metric improves if ``metric < best·(1 − threshold)`` (``"max"``:
      ``metric > best·(1 + threshold)``); an improvement resets the count of
      bad evaluations, anything else (including NaN) adds one;
    * during cooldown bad evaluations are not counted;
    * when the count exceeds ``patience`` (so on the ``patience + 1``-th bad
      evaluation in a row) the lr becomes ``max(lr·factor, min_lr)``, the
      count resets and cooldown starts; a change smaller than ``eps`` is
      skipped, as in torch.

    ``lr`` is the base learning rate; ``min_lr`` is absolute, as in torch.
    With the default ``lr=1.0`` the multiplier itself is floored at
    ``min_lr``.
    """

    def __init__(
        self,
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        min_lr: float = 0.0,
        cooldown: int = 0,
        *,
        lr: float = 1.0,
        mode: str = "min",
        eps: float = 1e-8,
    ) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"{WHERE}.factor: {factor!r} is out of range; allowed: a number in (0, 1)")
        if mode not in ("min", "max"):
            raise ValueError(f"mode: {mode!r} is not allowed; allowed: min, max")
        self.factor, self.patience, self.threshold = factor, patience, threshold
        self.min_lr, self.cooldown, self.mode, self.eps = min_lr, cooldown, mode, eps
        self.base_lr = lr
        self.lr = lr
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad = 0
        self.cooldown_counter = 0

    @property
    def multiplier(self) -> float:
        return self.lr / self.base_lr if self.base_lr else 1.0

    def _is_better(self, metric: float) -> bool:
        if self.mode == "min":
            return metric < self.best * (1.0 - self.threshold)
        return metric > self.best * (1.0 + self.threshold)

    def update(self, metric: float) -> float:
        """Record one evaluation's metric; return the lr multiplier now in force."""
        metric = float(metric)
        if self._is_better(metric):
            self.best = metric
            self.num_bad = 0
        else:
            self.num_bad += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad = 0  # torch: bad evaluations in cooldown are ignored
        if self.num_bad > self.patience:
            new = max(self.lr * self.factor, self.min_lr)
            if self.lr - new > self.eps:
                self.lr = new
            self.cooldown_counter = self.cooldown
            self.num_bad = 0
        return self.multiplier


class PlateauSchedule:
    """The ``plateau`` schedule: ``t -> lr·multiplier``; feed it with ``update``."""

    def __init__(self, plateau: Plateau) -> None:
        self.plateau = plateau

    def __call__(self, t: int) -> float:
        return self.plateau.lr

    def update(self, metric: float) -> float:
        return self.plateau.update(metric)


def plateau(
    lr: float, total_updates: int, factor: float, patience: int, threshold: float,
    min_lr: float, cooldown: int,
) -> PlateauSchedule:
    return PlateauSchedule(Plateau(factor, patience, threshold, min_lr, cooldown, lr=lr))


# -- specs ---------------------------------------------------------------------

MIN_LR = Hyper("min_lr", 0.0, 0.0, 10.0, help="Floor m the learning rate decays towards (absolute).")

register(Spec(
    "constant", (),
    help="The same learning rate for every update.",
    reference="Goodfellow et al. §8.3.1",
    factory=constant,
    label="Constant",
))
register(Spec(
    "step",
    (Hyper("step_size", 30, 1, 1_000_000, log=True, kind="int",
           help="Updates between two drops of the learning rate."),
     Hyper("gamma", 0.1, 0.0, 1.0, low_open=True,
           help="Factor γ applied at each drop: α·γ^⌊(t−1)/step_size⌋.")),
    help="Step decay: multiply the learning rate by γ every step_size updates.",
    reference="Deck 002 'Step decay'; torch.optim.lr_scheduler.StepLR",
    factory=step,
    label="Step decay",
))
register(Spec(
    "exponential",
    (Hyper("gamma", 0.99, 0.0, 1.0, low_open=True,
           help="Decay factor K: α ← K·α before every update, so update t uses α·K^t."),),
    help="Exponential decay α·K^t, the deck's 'alpha *= alpha_decay_fac' loop.",
    reference="Deck 000 'vanilla_gd_lrdecay'; Deck 002 'Exponential decay'; "
              "torch.optim.lr_scheduler.ExponentialLR",
    factory=exponential,
    label="Exponential decay",
))
register(Spec(
    "linear",
    (Hyper("tau", 0, 0, 10_000_000, kind="int",
           help="Update τ at which the decay ends; 0 means the last update of the run."),
     Hyper("final_fraction", 0.01, 0.0, 1.0,
           help="α_τ as a fraction of the base lr (the book suggests about 1 %).")),
    help="Linear decay from α₀ to α_τ = final_fraction·α₀ at update τ, then constant.",
    reference="Deck 001 'decay the learning rate linearly until iteration τ'; "
              "Goodfellow et al. §8.3.1",
    factory=linear,
    label="Linear decay (deck)",
))
register(Spec(
    "cosine", (MIN_LR,),
    help="Cosine annealing from the base lr (first update) towards min_lr over the run.",
    reference="Loshchilov & Hutter 2017 (SGDR); torch.optim.lr_scheduler.CosineAnnealingLR",
    factory=cosine,
    label="Cosine",
))
register(Spec(
    "warmup_cosine",
    (Hyper("warmup", 10, 0, 1_000_000, kind="int",
           help="Warm-up updates w: the lr climbs linearly as α·t/(w+1)."),
     MIN_LR),
    help="Linear warm-up for w updates, then cosine decay towards min_lr.",
    reference="Goyal et al. 2017 (warm-up); nanoGPT get_lr; "
              "optax.warmup_cosine_decay_schedule",
    factory=warmup_cosine,
    label="Warm-up + cosine",
))
register(Spec(
    "inverse_time",
    (Hyper("decay", 0.1, 0.0, 100.0,
           help="Decay rate d in α/(1 + d·(t−1)); d = 1 gives α/t."),),
    help="Inverse-time (1/t) decay, the classical stochastic-approximation schedule.",
    reference="Robbins & Monro 1951; Keras InverseTimeDecay",
    factory=inverse_time,
    label="Inverse time (1/t)",
))
register(Spec(
    "plateau",
    (Hyper("factor", 0.1, 0.0, 1.0, low_open=True, high_open=True,
           help="Multiply the lr by this factor when the metric stops improving."),
     Hyper("patience", 10, 0, 10_000, kind="int",
           help="Bad evaluations tolerated; the lr drops on the next one."),
     Hyper("threshold", 1e-4, 0.0, 1.0,
           help="Relative improvement needed to count as better: metric < best·(1 − threshold)."),
     Hyper("min_lr", 0.0, 0.0, 10.0, help="The lr never drops below this (absolute)."),
     Hyper("cooldown", 0, 0, 10_000, kind="int",
           help="Evaluations to wait after a drop before counting bad ones again.")),
    help="Reduce the lr by a factor when the monitored metric plateaus.",
    reference="torch.optim.lr_scheduler.ReduceLROnPlateau",
    factory=plateau,
    label="Reduce on plateau",
    extra={"plateau": True},
))


# -- helpers -------------------------------------------------------------------

def create(name: str, lr: float, total_updates: int, **params: Any) -> Schedule:
    """Validate ``params`` for schedule ``name`` and build ``t -> lr``.

    Unknown names raise ``ValueError`` listing the registered schedules; bad
    values raise ``ValueError`` naming ``schedule_params.<name>``.
    """
    spec = REGISTRY.get_spec(name, "schedule")
    hp = spec.resolve(params, WHERE)
    if isinstance(total_updates, bool) or not isinstance(total_updates, int | np.integer) \
            or total_updates < 1:
        raise ValueError(
            f"total_updates: {total_updates!r} is not allowed; allowed: a whole number ≥ 1"
        )
    return spec.factory(float(lr), int(total_updates), **hp)


def preview(name: str, lr: float, total_updates: int, **params: Any) -> np.ndarray:
    """The lr of updates t = 1..total_updates, as a float64 array.

    For ``plateau`` this is the lr before any evaluation (constant), since
    the drops depend on the metric.
    """
    fn = create(name, lr, total_updates, **params)
    return np.fromiter((fn(t) for t in range(1, total_updates + 1)), np.float64, total_updates)
