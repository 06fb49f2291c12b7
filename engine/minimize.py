"""An optimizer's trajectory on a test surface, for the Playground.

``minimize(surface, optimizer, x0, steps, ...)`` runs ``steps`` updates of a
registered optimizer (any entry of ``engine.optim.REGISTRY``) on a registered
surface (``engine.surfaces.REGISTRY``) and returns every iterate::

    traj = minimize("quartic", "momentum", x0=[-5.0], steps=100, lr=0.1)
    traj[0]    # x0
    traj[-1]   # after 100 updates

Update t (1-based) runs with ``opt.lr = schedule(t)``, the schedule being
built from the optimizer's resolved base lr. A ``plateau`` schedule is fed
f(x) after every update. Every optimizer's ``step`` receives a
``closure(params) -> (loss, grad)`` on the surface; only L-BFGS-style
optimizers use it. All arithmetic is float64.

Gradient clipping works as in training (:func:`engine.train`): with
``clip_value > 0`` every coordinate of the gradient is clipped to
``[−clip_value, clip_value]``, then with ``clip_norm > 0`` a gradient whose
norm exceeds ``h = clip_norm`` is rescaled to ``h·g/‖g‖`` (deck 001
"if ‖∇θ‖ > h: ∇θ ← h∇θ/‖∇θ‖"). 0 turns either off. The closure handed to
L-BFGS-style optimizers returns the raw gradient, as in training.

Divergence is a result, not an error: from the first iterate that is not
finite (or whose computation overflows), that row and all later rows are NaN.
Unknown surface, optimizer or schedule names, and bad hyperparameters, raise
``ValueError`` listing what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine import optim, schedules, surfaces
from engine.loop.update import clip
from engine.spec import Hyper

# A path's gradient clipping, declared once (the Playground draws it for each optimizer)
CLIPPING = (
    Hyper("clip_norm", 0.0, 0.0, 1e6, help="Rescale the gradient when its norm exceeds this; 0: off.",
          label="Clip norm"),
    Hyper("clip_value", 0.0, 0.0, 1e6, help="Clip every gradient entry to ±this; 0: off.",
          label="Clip value"),
)
CLIP_NAMES = tuple(h.name for h in CLIPPING)


def minimize(
    surface: str,
    optimizer: str,
    x0: Sequence[float] | np.ndarray | None,
    steps: int,
    schedule: str = "constant",
    schedule_params: Mapping[str, Any] | None = None,
    clip_norm: float = 0.0,
    clip_value: float = 0.0,
    **hparams: Any,
) -> np.ndarray:
    """Trajectory of ``optimizer`` on ``surface``: an array of shape ``(steps + 1, dim)``.

    Row 0 is ``x0`` (the surface's default start when ``x0`` is None); row t
    is the iterate after update t. Rows from the first non-finite iterate on
    are NaN. ``hparams`` go to ``engine.optim.create(optimizer, ...)``;
    ``clip_norm`` / ``clip_value`` clip each gradient as training does.
    """
    spec = surfaces.get(surface)
    dim, f, grad = spec.extra["dim"], spec.extra["f"], spec.extra["grad"]
    x = _start(spec, x0)
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps: {steps!r} is not allowed; allowed: a whole number ≥ 0")
    clip_norm, clip_value = (h.validate(v) for h, v in zip(CLIPPING, (clip_norm, clip_value), strict=True))
    opt = optim.create(optimizer, **hparams)
    sched, plateau = _schedule(opt, optimizer, schedule, schedule_params, max(int(steps), 1))

    def closure(p: np.ndarray) -> tuple[float, np.ndarray]:
        return f(p), grad(p)

    traj = np.full((steps + 1, dim), np.nan)
    traj[0] = x
    state = opt.init(x)
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            try:
                if sched is not None:
                    opt.lr = sched(t)
                g = grad(x)
                if clip_norm > 0 or clip_value > 0:
                    clip(g, clip_value, clip_norm)  # as training clips: by value, then by norm
                opt.step(x, g, state, closure=closure)
                if not np.isfinite(x).all():
                    break
                if plateau:
                    sched.update(f(x))
            except ArithmeticError:  # overflow in Python-float maths: diverged
                break
            traj[t] = x
    return traj


def minimize_many(
    surface: str,
    runs: Sequence[tuple[str, Mapping[str, Any]]],
    x0: Sequence[float] | np.ndarray | None,
    steps: int,
) -> list[np.ndarray]:
    """One :func:`minimize` trajectory per ``(optimizer, hparams)`` run, in order.

    ``hparams`` may also hold ``schedule`` and ``schedule_params``.
    """
    out = []
    for name, hp in runs:
        hp = dict(hp or {})
        schedule = hp.pop("schedule", "constant")
        schedule_params = hp.pop("schedule_params", None)
        out.append(minimize(surface, name, x0, steps, schedule, schedule_params, **hp))
    return out


def _start(spec, x0) -> np.ndarray:
    dim = spec.extra["dim"]
    if x0 is None:
        x0 = spec.extra["start"]
    try:
        x = np.array(x0, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"x0: {x0!r} is not allowed; allowed: {dim} finite numbers") from None
    if x.shape != (dim,) or not np.isfinite(x).all():
        raise ValueError(f"x0: {x0!r} is not allowed; allowed: {dim} finite numbers")
    return x


def _schedule(opt, optimizer: str, schedule: str, params, total: int):
    """``(t -> lr or None, is_plateau)``; None leaves the optimizer's lr alone."""
    spec = schedules.REGISTRY.get_spec(schedule, "schedule")
    try:
        lr = opt.lr
    except (KeyError, AttributeError):
        lr = None
    if lr is None:
        if schedule != "constant":
            raise ValueError(
                f"schedule: {schedule!r} is not allowed; allowed: constant "
                f"({optimizer!r} has no learning rate)"
            )
        spec.resolve(params, schedules.WHERE)
        return None, False
    return schedules.create(schedule, lr, total, **dict(params or {})), bool(
        spec.extra.get("plateau")
    )
