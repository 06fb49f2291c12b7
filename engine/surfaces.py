"""Test functions for the Playground: 1-D and 2-D surfaces with analytic gradients.

Every entry of ``REGISTRY`` is a :class:`~engine.spec.Spec` without
hyperparameters whose ``extra`` holds:

``dim``
    1 or 2.
``f(x)``
    value at a point ``x`` of shape ``(dim,)``, as a Python float.
``grad(x)``
    analytic gradient, a new float64 array of shape ``(dim,)``.
``f_grid(*mesh)``
    ``f`` vectorised over ``np.meshgrid`` arrays (or one 1-D array for
    ``dim == 1``), for contour plots; ``f_grid(*trajectory.T)`` gives the
    loss along a trajectory.
``bounds``
    per-dimension ``(lo, hi)`` of the plotting window.
``start``
    default start point, a tuple of ``dim`` floats.
``minima`` / ``minima_labels``
    minimiser points (global first) and a label for each, ``"global"`` or
    ``"local"``; empty for surfaces without a minimum.
``saddles``
    saddle points (and, where it helps, other non-minimal critical points).
``f_min``
    the global minimum value, or ``None``.
``lrs``
    a learning rate per classic optimizer (``gd``, ``sgd``, ``momentum``,
    ``nesterov``, ``adagrad``, ``rmsprop``, ``adam``, ``adamw``, ``nadam``,
    each with its other defaults) at which its path from ``start`` stays in
    the window for ``steps`` updates and visibly heads for a minimum (or, on
    a surface without one, for the saddle); other optimizers use their own
    defaults.
``steps``
    the number of updates those learning rates were chosen for.

Critical points that are not simple closed forms (Himmelblau's) were
polished with Newton's method in float64; their gradient is below 1e-13.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from engine.spec import Registry, Spec

REGISTRY = Registry("surface")

PI = np.pi


def _lrs(gd, sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, nadam) -> dict[str, float]:
    return dict(gd=gd, sgd=sgd, momentum=momentum, nesterov=nesterov, adagrad=adagrad,
                rmsprop=rmsprop, adam=adam, adamw=adamw, nadam=nadam)


def register(
    name: str,
    f2: Callable[..., Any],
    grad: Callable[..., Sequence[Any]],
    *,
    label: str,
    help: str,
    reference: str,
    bounds: Sequence[tuple[float, float]],
    start: Sequence[float],
    minima: Sequence[Sequence[float]] = (),
    minima_labels: Sequence[str] = (),
    saddles: Sequence[Sequence[float]] = (),
    f_min: float | None = None,
    lrs: Mapping[str, float] | None = None,
    steps: int = 60,
) -> Spec:
    """Register a surface given elementwise ``f2(*coords)`` and ``grad(*coords)``.

    ``f2`` and ``grad`` take one argument per dimension and use NumPy ops, so
    the same formula serves points and meshgrids.
    """
    dim = len(bounds)
    if len(minima) != len(minima_labels):
        raise ValueError(f"surface {name}: one label per minimum")

    def f(x: np.ndarray) -> float:
        return float(f2(*np.asarray(x, np.float64)))

    def g(x: np.ndarray) -> np.ndarray:
        return np.array(grad(*np.asarray(x, np.float64)), np.float64)

    extra = {
        "dim": dim,
        "f": f,
        "grad": g,
        "f_grid": f2,
        "bounds": tuple(tuple(map(float, b)) for b in bounds),
        "start": tuple(map(float, start)),
        "minima": tuple(tuple(map(float, p)) for p in minima),
        "minima_labels": tuple(minima_labels),
        "saddles": tuple(tuple(map(float, p)) for p in saddles),
        "f_min": f_min,
        "lrs": dict(lrs or {}),
        "steps": int(steps),
    }
    return REGISTRY.register(
        Spec(name, (), help=help, reference=reference, label=label, extra=extra)
    )


# -- deck 000: the quartic -------------------------------------------------------

A4, A3, A2, A1, A0 = 319 / 8400, 43 / 4200, -6799 / 8400, -299 / 840, 6


def _quartic(x):
    return A4 * x**4 + A3 * x**3 + A2 * x**2 + A1 * x + A0


def _quartic_grad(x):
    # written as the deck's obj_fun_deriv so its GD trajectory is reproduced
    return (4 * A4 * x**3 + 3 * A3 * x**2 + 2 * A2 * x + A1,)


# The deck's printed minimisers, which are fixed points of its GD in float64.
QUARTIC_GLOBAL = 3.2727653395584366
QUARTIC_LOCAL = -3.254993730859254

register(
    "quartic", _quartic, _quartic_grad,
    label="Quartic with two minima (deck)",
    help="f(x) = 319/8400·x⁴ + 43/4200·x³ − 6799/8400·x² − 299/840·x + 6: "
         "GD from −5 is trapped in the local minimum.",
    reference="Deck 000 'The problem with gradient descent algorithm'",
    bounds=[(-6.0, 6.0)],
    start=[-5.0],
    minima=[(QUARTIC_GLOBAL,), (QUARTIC_LOCAL,)],
    minima_labels=["global", "local"],
    f_min=float(_quartic(QUARTIC_GLOBAL)),
    lrs=_lrs(0.1, 0.1, 0.1, 0.1, 1.0, 0.1, 0.5, 0.5, 0.5),
)


# -- deck 001: saddle and the sine surfaces ------------------------------------

register(
    "saddle",
    lambda x1, x2: x1**2 - x2**2,
    lambda x1, x2: (2 * x1, -2 * x2),
    label="Saddle x₁² − x₂²",
    help="Curves up along x₁, down along x₂: GD started on the ridge x₂ ≈ 0 "
         "stalls near the saddle before escaping.",
    reference="Deck 001 'Flat regions'; Dauphin et al. 2014",
    bounds=[(-2.0, 2.0), (-2.0, 2.0)],
    start=[1.5, 1e-3],
    saddles=[(0.0, 0.0)],
    lrs=_lrs(0.05, 0.05, 0.01, 0.01, 0.05, 0.005, 0.02, 0.02, 0.02),
)


def _sin_exp(x1, x2):
    return -np.sin(x1) * np.exp((x2 - PI / 2) ** 2) / (2 * PI)


def _sin_exp_grad(x1, x2):
    u = x2 - PI / 2
    e = np.exp(u**2) / (2 * PI)
    return (-np.cos(x1) * e, -np.sin(x1) * 2 * u * e)


register(
    "sin_exp", _sin_exp, _sin_exp_grad,
    label="−sin(x₁)·exp((x₂−π/2)²)/(2π) (deck, as printed)",
    help="The deck's formula exactly as printed: (π/2, π/2) is a saddle "
         "(a minimum along x₁, a maximum along x₂) and f is unbounded below.",
    reference="Deck 001 'Example: gradient descent and convex function'",
    bounds=[(0.0, PI), (0.0, PI)],
    start=[0.5, 1.5],
    saddles=[(PI / 2, PI / 2)],
    lrs=_lrs(0.1, 0.1, 0.02, 0.02, 0.05, 0.002, 0.01, 0.01, 0.01),
)


def _sin_gauss(x1, x2):
    return -np.sin(x1) * np.exp(-((x2 - PI / 2) ** 2)) / (2 * PI)


def _sin_gauss_grad(x1, x2):
    u = x2 - PI / 2
    e = np.exp(-(u**2)) / (2 * PI)
    return (-np.cos(x1) * e, np.sin(x1) * 2 * u * e)


register(
    "sin_gauss", _sin_gauss, _sin_gauss_grad,
    label="−sin(x₁)·exp(−(x₂−π/2)²)/(2π) (bowl)",
    help="The deck's sine surface with a Gaussian in x₂: a convex-looking bowl "
         "with its minimum −1/(2π) at (π/2, π/2), as the slide's figure shows.",
    reference="Deck 001 'Example: gradient descent and convex function' (sign of the exponent flipped)",
    bounds=[(0.0, PI), (0.0, PI)],
    start=[0.5, 0.5],
    minima=[(PI / 2, PI / 2)],
    minima_labels=["global"],
    f_min=-1 / (2 * PI),
    lrs=_lrs(2.0, 2.0, 0.5, 0.5, 0.5, 0.02, 0.1, 0.1, 0.1),
)


# -- ravine and bowl -----------------------------------------------------------

KAPPA = 20.0  # condition number: GD with lr 0.1 bounces across forever (1 − 0.1κ = −1)

register(
    "ravine",
    lambda x1, x2: 0.5 * (x1**2 + KAPPA * x2**2),
    lambda x1, x2: (x1, KAPPA * x2),
    label="Ravine ½(x₁² + 20·x₂²)",
    help="Ill-conditioned quadratic (condition number 20): GD zig-zags across "
         "the ravine; momentum damps it.",
    reference="Deck 001 'SGD with momentum' (poorly conditioned Hessian); "
              "Goodfellow et al. Fig. 8.5",
    bounds=[(-5.0, 5.0), (-2.0, 2.0)],
    start=[-4.5, 1.0],
    minima=[(0.0, 0.0)],
    minima_labels=["global"],
    f_min=0.0,
    lrs=_lrs(0.1, 0.1, 0.1, 0.05, 0.5, 0.05, 0.3, 0.3, 0.3),
)
register(
    "quadratic",
    lambda x1, x2: 0.5 * (x1**2 + x2**2),
    lambda x1, x2: (x1, x2),
    label="Bowl ½(x₁² + x₂²)",
    help="Well-conditioned quadratic bowl: every sensible optimizer converges.",
    reference="optax test parabola",
    bounds=[(-3.0, 3.0), (-3.0, 3.0)],
    start=[-2.5, 2.0],
    minima=[(0.0, 0.0)],
    minima_labels=["global"],
    f_min=0.0,
    lrs=_lrs(0.2, 0.2, 0.05, 0.1, 1.0, 0.1, 0.2, 0.2, 0.2),
)


# -- classical test functions ----------------------------------------------------

def _rosenbrock(x1, x2):
    return (1 - x1) ** 2 + 100 * (x2 - x1**2) ** 2


def _rosenbrock_grad(x1, x2):
    r = x2 - x1**2
    return (-2 * (1 - x1) - 400 * x1 * r, 200 * r)


register(
    "rosenbrock", _rosenbrock, _rosenbrock_grad,
    label="Rosenbrock",
    help="(1 − x₁)² + 100(x₂ − x₁²)²: a curved, flat-bottomed valley; minimum at (1, 1).",
    reference="Rosenbrock 1960",
    bounds=[(-2.0, 2.0), (-1.0, 3.0)],
    start=[-1.2, 1.0],
    minima=[(1.0, 1.0)],
    minima_labels=["global"],
    f_min=0.0,
    lrs=_lrs(0.005, 0.005, 0.001, 0.001, 0.5, 0.02, 0.2, 0.2, 0.2),
)


def _beale(x1, x2):
    return ((1.5 - x1 + x1 * x2) ** 2 + (2.25 - x1 + x1 * x2**2) ** 2
            + (2.625 - x1 + x1 * x2**3) ** 2)


def _beale_grad(x1, x2):
    a = 1.5 - x1 + x1 * x2
    b = 2.25 - x1 + x1 * x2**2
    c = 2.625 - x1 + x1 * x2**3
    return (
        2 * a * (x2 - 1) + 2 * b * (x2**2 - 1) + 2 * c * (x2**3 - 1),
        2 * a * x1 + 4 * b * x1 * x2 + 6 * c * x1 * x2**2,
    )


register(
    "beale", _beale, _beale_grad,
    label="Beale",
    help="Flat plateaus and steep walls; minimum 0 at (3, 0.5), a saddle at (0, 1).",
    reference="Beale 1958",
    bounds=[(-4.5, 4.5), (-4.5, 4.5)],
    start=[1.0, 1.5],
    minima=[(3.0, 0.5)],
    minima_labels=["global"],
    saddles=[(0.0, 1.0)],
    f_min=0.0,
    lrs=_lrs(0.01, 0.01, 0.002, 0.002, 1.0, 0.1, 0.2, 0.2, 0.2),
)


def _himmelblau(x1, x2):
    return (x1**2 + x2 - 11) ** 2 + (x1 + x2**2 - 7) ** 2


def _himmelblau_grad(x1, x2):
    a = x1**2 + x2 - 11
    b = x1 + x2**2 - 7
    return (4 * x1 * a + 2 * b, 2 * a + 4 * x2 * b)


register(
    "himmelblau", _himmelblau, _himmelblau_grad,
    label="Himmelblau (four minima)",
    help="(x₁² + x₂ − 11)² + (x₁ + x₂² − 7)²: four global minima of value 0; "
         "the start point decides which one is found.",
    reference="Himmelblau 1972",
    bounds=[(-5.0, 5.0), (-5.0, 5.0)],
    start=[0.0, 0.0],
    minima=[
        (3.0, 2.0),
        (-2.805118086952745, 3.131312518250573),
        (-3.779310253377747, -3.283185991286169),
        (3.5844283403304917, -1.8481265269644034),
    ],
    minima_labels=["global"] * 4,
    saddles=[
        (0.08667750455539634, 2.884254701174776),
        (3.385154183607021, 0.07385187983774928),
        (-3.0730257507643897, -0.08135304428796751),
        (-0.12796134673068005, -1.9537149802445766),
    ],
    f_min=0.0,
    lrs=_lrs(0.01, 0.01, 0.002, 0.005, 1.0, 0.1, 0.2, 0.2, 0.2),
)


# -- deck 001: a cliff, a multimodal landscape; a constant slope -------------------

CLIFF_H, CLIFF_K, CLIFF_S, CLIFF_M = 40.0, 4.0, 0.5, 2.0  # height, sharpness, valley curvature, floor


def _cliff(x1, x2):
    return 0.5 * CLIFF_S * (x1 - CLIFF_M) ** 2 + 0.5 * x2**2 + 0.5 * CLIFF_H * (1 - np.tanh(CLIFF_K * x1))


def _cliff_grad(x1, x2):
    th = np.tanh(CLIFF_K * x1)
    return (CLIFF_S * (x1 - CLIFF_M) - 0.5 * CLIFF_H * CLIFF_K * (1 - th**2), x2 + 0 * x1)


def _newton_1d(fp, fpp, x: float, iters: int = 60) -> float:
    """A root of ``fp`` near ``x`` (a critical point of a 1-D cross-section), in float64."""
    for _ in range(iters):
        step = fp(x) / fpp(x)
        x -= step
        if abs(step) < 1e-16 * max(1.0, abs(x)):
            break
    return float(x)


def _cliff_fp(x1):
    return float(_cliff_grad(x1, 0.0)[0])


def _cliff_fpp(x1):
    th = math.tanh(CLIFF_K * x1)
    return CLIFF_S + CLIFF_H * CLIFF_K**2 * th * (1 - th**2)


# the cliff's tail still pulls a little at x₁ = 2: the minimum sits 7e-5 to the right
CLIFF_MIN = (_newton_1d(_cliff_fp, _cliff_fpp, CLIFF_M), 0.0)

register(
    "cliff", _cliff, _cliff_grad,
    label="Cliff ¼(x₁ − 2)² + ½x₂² + 20(1 − tanh 4x₁)",
    help="A plateau that drops 40 units over a width of about ½ into a valley: on the cliff face "
         "the gradient is about 80 and one GD step catapults the iterate; clipping caps it.",
    reference="Deck 001 'Cliffs and exploding gradients' (Goodfellow et al. 2016, Fig. 8.3); "
              "Pascanu et al. 2013",
    bounds=[(-4.0, 6.0), (-2.0, 2.0)],
    start=[-2.5, 1.0],
    minima=[CLIFF_MIN],
    minima_labels=["global"],
    f_min=float(_cliff(*CLIFF_MIN)),
)

RASTRIGIN_A = 10.0


def _rastrigin(x1, x2):
    a, w = RASTRIGIN_A, 2 * PI
    return 2 * a + x1**2 - a * np.cos(w * x1) + x2**2 - a * np.cos(w * x2)


def _rastrigin_grad(x1, x2):
    a, w = RASTRIGIN_A, 2 * PI
    return (2 * x1 + a * w * np.sin(w * x1), 2 * x2 + a * w * np.sin(w * x2))


def _ras_fp(x):
    return 2 * x + RASTRIGIN_A * 2 * PI * math.sin(2 * PI * x)


def _ras_fpp(x):
    return 2 + RASTRIGIN_A * (2 * PI) ** 2 * math.cos(2 * PI * x)


# 1-D critical points of x² − A cos 2πx: minima just inside the integers, maxima near the half-integers
RASTRIGIN_MINIMA_1D = tuple(_newton_1d(_ras_fp, _ras_fpp, float(k)) for k in range(0, 5))
RASTRIGIN_MAXIMA_1D = tuple(_newton_1d(_ras_fp, _ras_fpp, k + 0.5) for k in range(0, 4))

register(
    "rastrigin", _rastrigin, _rastrigin_grad,
    label="Rastrigin (many local minima)",
    help="20 + Σ(xᵢ² − 10 cos 2πxᵢ): an egg-crate of local minima near every integer point on a "
         "bowl; the global minimum 0 is at the origin.",
    reference="Deck 001 'Example: multimodal function'; Rastrigin 1974",
    bounds=[(-5.12, 5.12), (-5.12, 5.12)],
    start=[3.2, -2.8],
    minima=[(0.0, 0.0),
            (RASTRIGIN_MINIMA_1D[1], 0.0),
            (RASTRIGIN_MINIMA_1D[1], RASTRIGIN_MINIMA_1D[1]),
            (RASTRIGIN_MINIMA_1D[2], -RASTRIGIN_MINIMA_1D[2]),
            (RASTRIGIN_MINIMA_1D[3], -RASTRIGIN_MINIMA_1D[3])],
    minima_labels=["global", "local", "local", "local", "local"],
    saddles=[(RASTRIGIN_MAXIMA_1D[0], 0.0), (0.0, RASTRIGIN_MAXIMA_1D[0]),
             (RASTRIGIN_MAXIMA_1D[1], RASTRIGIN_MINIMA_1D[1])],
    f_min=0.0,
)

register(
    "slope",
    lambda x: 0.5 * x,
    lambda x: (0.5 + 0 * x,),
    label="Constant slope f(x) = x/2",
    help="The same gradient 1/2 everywhere: momentum speeds up to its terminal velocity "
         "α·g/(1 − μ) while gradient descent keeps stepping α·g.",
    reference="Deck 001 'Momentum' (terminal velocity 1/(1 − φ))",
    bounds=[(-120.0, 5.0)],
    start=[0.0],
)


def hessian(surface: str, x: Sequence[float] | np.ndarray, h: float = 1e-5) -> np.ndarray:
    """The Hessian of ``surface`` at ``x``: central differences of its analytic gradient.

    ``H[:, i] = (∇f(x + h·eᵢ) − ∇f(x − h·eᵢ)) / 2h``, symmetrised; the step is
    ``h·max(1, |xᵢ|)``. Its eigenvalues tell a minimum (all > 0) from a saddle
    (mixed signs), deck 001 'Flat regions'.
    """
    ex = get(surface).extra
    x = np.asarray(x, np.float64).reshape(-1)
    if x.shape != (ex["dim"],):
        raise ValueError(f"x: {x.tolist()!r} is not allowed; allowed: {ex['dim']} numbers")
    n = x.size
    H = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h * max(1.0, abs(x[i]))
        H[:, i] = (ex["grad"](x + e) - ex["grad"](x - e)) / (2 * e[i])
    return 0.5 * (H + H.T)


def curvature(surface: str, x: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(eigenvalues, eigenvectors)`` of :func:`hessian`, eigenvalues ascending."""
    return np.linalg.eigh(hessian(surface, x))


def get(name: str) -> Spec:
    """The spec of surface ``name``; unknown names raise ValueError listing the known ones."""
    return REGISTRY.get_spec(name, "surface")
