"""Lessons: the lecture decks' experiments and figures, as data the app can run.

The lessons reproduce most, not all, of the four decks' figures and printed
numbers; ``docs/deck_coverage.md`` lists every one of them with the lesson
that reproduces it, or the reason none does (a photo, a diagram, MNIST-sized
runs, a figure needing a chart kind the pages do not have). Two such figures
have engine functions for the app to draw: :func:`bias_correction` (deck 004)
and :func:`engine.surfaces.curvature` (deck 001's Hessian eigenvalues).

A :class:`Lesson` names the deck and slide it reproduces, says in a few
sentences what to notice, states one checkable ``claim`` and carries a
JSON-ready ``setup`` for one of the four pages:

``playground`` — optimizer paths on a test surface::

    {"surface": "quartic", "x0": [-5.0], "steps": 100,
     "runs": [{"optimizer": "gd", "params": {"lr": 0.1}, "label": "GD"}, ...],
     "schedule": {"name": "exponential", "params": {"gamma": 0.95}}}   # optional

  A run may carry its own ``"schedule"`` (same form), which overrides the
  lesson's; the Playground page applies one schedule to every path, so only
  :func:`run` (and the Lessons page) shows such per-run schedules.
  A run's ``params`` may also hold ``clip_norm`` / ``clip_value``, which
  :func:`engine.minimize.minimize` applies to the gradient (they are not
  optimizer hyperparameters).

``train`` — one RunConfig (partial: RunConfig's defaults fill the rest)::

    {"config": {...}, "label": "With clipping",
     "variants": [{"label": "Without clipping", "changes": {"clip_norm": 0.0}}]}

  ``variants`` are the contrasts the claim needs: the same config with a few
  fields changed, each of them one more Train-page link.

``compare`` — a base config and the optimizers to race on it::

    {"config": {...}, "runs": [{"optimizer": "adam", "params": {...}, "label": "Adam"}],
     "seeds": 3}                                   # optional, as the page's "Seeds"

  Seed k of a run uses ``config["seed"] + k``, as the Compare page does.

``modes`` — a base config and the batch sizes to time::

    {"config": {...}, "batch_sizes": [1, 32, "full"]}

  1 is mode ``"sgd"``, ``"full"`` is mode ``"batch"``, anything else a mini-batch.

Every config lists dataset, model, optimizer and epochs explicitly, so a page
whose own defaults differ from RunConfig's opens the same run.

:func:`configs` lists a lesson's RunConfigs (the app uses the same function,
so lesson links and the warm-up hit the same cache keys), :func:`run`
executes a lesson (reading and filling a :class:`~engine.store.RunStore`
when one is given, so a lesson is trained once however many students open
it), :func:`warm` pre-computes every lesson into the store and
:func:`warm_cli` is ``python -m engine warm-lessons``.

The claims are checked, lesson by lesson, in ``tests/engine/test_lessons.py``.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.config import RunConfig

if TYPE_CHECKING:  # pragma: no cover
    from engine.runs import Orchestrator
    from engine.store import RunStore
    from engine.train import RunResult

PAGES = ("train", "compare", "modes", "playground")

TOPICS = (
    "Landscapes",
    "Momentum",
    "Learning-rate schedules",
    "Adaptive methods",
    "Batch size and modes",
    "Gradients and initialisation",
    "Regularisation",
    "Beyond Adam",
)

DECKS = {
    "000": "SUTD 50.039 Theory and Practice of Deep Learning, W2-S2 (De Mari)",
    "001": "LMU Deep Learning, Chapter 3: Optimization (Bischl)",
    "002": "Optimizers (slides after Goodfellow et al., Deep Learning Ch. 8)",
    "004": "UBC CPEN 455 Deep Learning, Lecture 4: Backpropagation II (Liao)",
}

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SETUP_KEYS = {
    "playground": ({"surface", "steps", "runs"}, {"x0", "schedule"}),
    "train": ({"config"}, {"label", "variants"}),
    "compare": ({"config", "runs"}, {"seeds"}),
    "modes": ({"config", "batch_sizes"}, set()),
}


def deck(code: str) -> str:
    """``"000"`` -> ``"000 · SUTD 50.039 ..."``: the value of :attr:`Lesson.deck`."""
    return f"{code} · {DECKS[code]}"


def size_label(b: int | str) -> str:
    """A modes lesson's label for batch size ``b``: ``"b=32"`` or ``"full"``."""
    return "full" if b == "full" else f"b={b}"


@dataclass(frozen=True)
class Lesson:
    """One deck figure as data; see the module docstring for ``setup``."""

    id: str
    title: str
    topic: str
    deck: str
    slide: str
    explanation: str
    claim: str
    page: str
    setup: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"lesson {self.id!r}"
        if not isinstance(self.id, str) or not _SLUG.match(self.id):
            raise ValueError(f"{where}: id must be a slug (lower-case words joined by '-')")
        if self.page not in PAGES:
            raise ValueError(f"{where}: page {self.page!r} is not allowed; allowed: {', '.join(PAGES)}")
        if self.topic not in TOPICS:
            raise ValueError(f"{where}: topic {self.topic!r} is not allowed; allowed: {', '.join(TOPICS)}")
        if self.deck[:3] not in DECKS:
            raise ValueError(f"{where}: deck {self.deck!r} must start with one of {', '.join(DECKS)}")
        for name in ("title", "slide", "explanation", "claim"):
            if not str(getattr(self, name)).strip():
                raise ValueError(f"{where}: {name} is empty")
        required, optional = _SETUP_KEYS[self.page]
        keys = set(self.setup)
        if not required <= keys or keys - required - optional:
            raise ValueError(
                f"{where}: a {self.page} setup has keys {sorted(required)}"
                + (f" and optionally {sorted(optional)}" if optional else "")
                + f"; got {sorted(keys)}"
            )
        try:
            json.dumps(self.setup, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: setup is not JSON-serialisable: {e}") from None
        # results are keyed by label: labels must be unique within a lesson
        s = self.setup
        if self.page in ("playground", "compare"):
            labels = [r["label"] for r in s["runs"]]
        elif self.page == "train":
            labels = [s.get("label", self.title)] + [v["label"] for v in s.get("variants", ())]
        else:
            sizes = s["batch_sizes"]
            if not sizes or any(not (b == "full" or (isinstance(b, int) and not isinstance(b, bool)
                                                     and b >= 1)) for b in sizes):
                raise ValueError(f"{where}: batch_sizes must be whole numbers ≥ 1 or 'full'")
            labels = [size_label(b) for b in sizes]
        if len(set(labels)) != len(labels):
            raise ValueError(f"{where}: run labels must be unique; got {labels}")

    @property
    def deck_code(self) -> str:
        return self.deck[:3]

    def __hash__(self) -> int:  # setup is a dict; the id identifies a lesson
        return hash(self.id)


@dataclass
class LessonOutcome:
    """What :func:`run` produced for a lesson.

    ``results``: label -> RunResult (the first seed) for train, compare and
    modes lessons; ``replicates``: label -> the RunResults of every seed;
    ``trajectories``: label -> ``(steps + 1, dim)`` array for playground
    lessons; ``timing``: the batch-size table of a modes lesson (columns
    batch_size, updates_per_epoch, time_per_epoch_s, updates_per_s,
    samples_per_s, final_val_loss; one row per batch size, in order).
    ``trained`` counts the runs that were trained rather than read back.
    """

    lesson: Lesson
    results: dict[str, RunResult] = field(default_factory=dict)
    replicates: dict[str, list[RunResult]] = field(default_factory=dict)
    trajectories: dict[str, np.ndarray] = field(default_factory=dict)
    timing: pd.DataFrame | None = None
    trained: int = 0


# =============================================================================
# figures without a page of their own


def bias_correction(beta: float, t: int | Sequence[int] | np.ndarray) -> np.ndarray:
    """Adam's bias-correction factor 1/(1 − βᵗ) for steps ``t`` (1-based), deck 004.

    The moving average m_t = β·m_{t−1} + (1 − β)·g_t started at 0 has
    E[m_t] = (1 − βᵗ)·E[g]; dividing by 1 − βᵗ removes that bias. The factor
    is 1/(1 − β) at t = 1 and tends to 1. Returns a float64 array shaped like ``t``.
    """
    beta = float(beta)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta: {beta!r} is not allowed; allowed: a number in [0, 1)")
    t = np.asarray(t)
    if t.size and (not np.issubdtype(t.dtype, np.integer) or t.min() < 1):
        raise ValueError(f"t: {t.tolist()!r} is not allowed; allowed: whole numbers ≥ 1")
    return 1.0 / (1.0 - beta ** t.astype(np.float64))


# =============================================================================
# the lessons

LESSONS: dict[str, Lesson] = {}


def _add(lesson: Lesson) -> Lesson:
    if lesson.id in LESSONS:
        raise ValueError(f"lesson {lesson.id!r} is defined twice")
    LESSONS[lesson.id] = lesson
    return lesson


def _run(optimizer: str, label: str, **params: Any) -> dict[str, Any]:
    return {"optimizer": optimizer, "params": params, "label": label}


# -- Landscapes ---------------------------------------------------------------

_add(Lesson(
    id="gd-local-minimum",
    title="Gradient descent trapped in a local minimum",
    topic="Landscapes",
    deck=deck("000"),
    slide="The problem with gradient descent algorithm",
    explanation=(
        "The deck's quartic has a global minimum near x = 3.27 and a local one near x = −3.25. "
        "Gradient descent only ever looks at the slope under its feet, so started at x₀ = −5 it "
        "rolls into the nearer, worse valley and stays there. A smaller or larger step does not "
        "fix this: the starting point decides."
    ),
    claim=(
        "Gradient descent with α = 0.1 from x₀ = −5 ends after 100 steps at the local minimum "
        "−3.254993730859254 printed in the deck, not at the global minimum 3.27."
    ),
    page="playground",
    setup={"surface": "quartic", "x0": [-5.0], "steps": 100,
           "runs": [_run("gd", "GD, α = 0.1", lr=0.1)]},
))

_add(Lesson(
    id="saddle-point",
    title="A saddle point stalls gradient descent",
    topic="Landscapes",
    deck=deck("001"),
    slide="EXAMPLE: SADDLE POINT WITH GRADIENT DESCENT",
    explanation=(
        "On x₁² − x₂² the gradient along the ridge x₂ ≈ 0 points straight at the saddle, and the "
        "escape direction x₂ has almost no slope there. Gradient descent started a hair off the "
        "ridge walks to the saddle and seems to have converged for many steps before the tiny x₂ "
        "grows enough to carry it away. Adam divides each coordinate by its own gradient scale, "
        "so the small x₂ slope already gives a full-size step."
    ),
    claim=(
        "For its first 20 steps gradient descent stays on the ridge (|x₂| < 0.05) and comes within "
        "0.05 of the saddle, while Adam has left the ridge (|x₂| > 1) by step 20."
    ),
    page="playground",
    setup={"surface": "saddle", "x0": [1.5, 0.001], "steps": 40,
           "runs": [_run("gd", "GD, α = 0.1", lr=0.1), _run("adam", "Adam, α = 0.1", lr=0.1)]},
))

_add(Lesson(
    id="ravine",
    title="A ravine: ill-conditioned curvature and momentum",
    topic="Landscapes",
    deck=deck("001"),
    slide="SGD WITH MOMENTUM",
    explanation=(
        "The ravine ½(x₁² + 20·x₂²) is twenty times steeper across than along. A learning rate "
        "large enough to make progress along the floor makes gradient descent bounce from wall to "
        "wall: with α = 0.1 the step across is exactly twice the distance to the floor. Momentum "
        "averages the alternating cross-gradients away and keeps the consistent push along the floor."
    ),
    claim=(
        "After 100 steps gradient descent (α = 0.1) is still bouncing between the walls at x₂ = ±1, "
        "while momentum (α = 0.1, μ = 0.9) ends within 0.05 of the minimum."
    ),
    page="playground",
    setup={"surface": "ravine", "x0": [-4.5, 1.0], "steps": 100,
           "runs": [_run("gd", "GD, α = 0.1", lr=0.1),
                    _run("momentum", "Momentum, α = 0.1, μ = 0.9", lr=0.1, momentum=0.9)]},
))

_add(Lesson(
    id="convex-bowl",
    title="Gradient descent on a smooth bowl",
    topic="Landscapes",
    deck=deck("001"),
    slide="EXAMPLE: GRADIENT DESCENT AND CONVEX FUNCTION",
    explanation=(
        "On a bowl with a single minimum gradient descent always gets there; the learning rate "
        "only decides how fast. The slide prints exp((x₂ − π/2)²), which makes (π/2, π/2) a saddle; "
        "its figure is the bowl with exp(−(x₂ − π/2)²) used here (the printed formula is the "
        "'sin_exp' surface). This bowl is shallow, so α = 0.1 crawls while α = 1 arrives."
    ),
    claim=(
        "With α = 1 gradient descent reaches the minimum (π/2, π/2) to within 10⁻³ in 60 steps, "
        "while with α = 0.1 it is still more than 0.3 away."
    ),
    page="playground",
    setup={"surface": "sin_gauss", "x0": [0.5, 0.5], "steps": 60,
           "runs": [_run("gd", "GD, α = 1", lr=1.0), _run("gd", "GD, α = 0.1", lr=0.1)]},
))

# -- Momentum -------------------------------------------------------------------

_add(Lesson(
    id="momentum-escapes",
    title="Momentum escapes the local minimum",
    topic="Momentum",
    deck=deck("000"),
    slide="Adding momentum to gradient descent",
    explanation=(
        "Momentum keeps a running sum of past steps, v ← μv − αf′(x), so the iterate keeps "
        "moving after the slope has changed sign. With a little momentum (μ = 0.1) it still "
        "settles in the local valley; with μ = 0.9 the speed built up on the long slope from −5 "
        "carries it over the hump into the global valley, as in the deck's Case #3."
    ),
    claim=(
        "From x₀ = −5 with α = 0.1, μ = 0.1 ends at the local minimum −3.25 while μ = 0.9 ends at "
        "3.267681061691328, the value the deck prints."
    ),
    page="playground",
    setup={"surface": "quartic", "x0": [-5.0], "steps": 100,
           "runs": [_run("momentum", "μ = 0.1", lr=0.1, momentum=0.1),
                    _run("momentum", "μ = 0.9", lr=0.1, momentum=0.9)]},
))

_add(Lesson(
    id="too-much-momentum",
    title="Too much momentum overshoots",
    topic="Momentum",
    deck=deck("000"),
    slide="Adding momentum to gradient descent",
    explanation=(
        "Momentum that is too large makes the iterate a ball with too little friction: it rolls "
        "through the global minimum, up the far wall and back. With μ = 0.97 it comes back over "
        "the hump and ends in the local valley after all; with μ = 0.99 it is still swinging across "
        "the whole window after 100 steps. Like the learning rate, μ has to be tuned."
    ),
    claim=(
        "μ = 0.9 settles at the global minimum 3.27, μ = 0.97 overshoots it and ends in the local "
        "valley (x < 0), and μ = 0.99 overshoots past x = 5 and is still swinging over a range "
        "wider than 1 in its last 20 steps."
    ),
    page="playground",
    setup={"surface": "quartic", "x0": [-5.0], "steps": 100,
           "runs": [_run("momentum", "μ = 0.9", lr=0.1, momentum=0.9),
                    _run("momentum", "μ = 0.97", lr=0.1, momentum=0.97),
                    _run("momentum", "μ = 0.99", lr=0.1, momentum=0.99)]},
))

_add(Lesson(
    id="nesterov-ravine",
    title="Nesterov momentum damps the zig-zag",
    topic="Momentum",
    deck=deck("001"),
    slide="NESTOROV MOMENTUM",
    explanation=(
        "Nesterov momentum evaluates the gradient where the velocity is about to take the "
        "parameters, not where they are. When the velocity is about to carry the iterate across "
        "the ravine floor, the look-ahead gradient already points back and brakes. Same α, same μ: "
        "far fewer crossings of the floor."
    ),
    claim=(
        "With α = 0.05 and μ = 0.9 on the ravine, heavy-ball momentum crosses the floor x₂ = 0 more "
        "than 20 times in 100 steps, Nesterov fewer than 10 times, and Nesterov ends closer to the minimum."
    ),
    page="playground",
    setup={"surface": "ravine", "x0": [-4.5, 1.0], "steps": 100,
           "runs": [_run("momentum", "Momentum, μ = 0.9", lr=0.05, momentum=0.9),
                    _run("nesterov", "Nesterov, μ = 0.9", lr=0.05, momentum=0.9)]},
))

_add(Lesson(
    id="nesterov-quartic",
    title="Nesterov vs momentum on the quartic: neither better nor worse",
    topic="Momentum",
    deck=deck("000"),
    slide="Comparing both momentum GD",
    explanation=(
        "The deck calls Nesterov momentum 'neither better or worse, just different'. On the "
        "quartic from −5 its look-ahead brakes before the hump: it oscillates less, and that is "
        "exactly why it does not escape the local valley that plain momentum with the same μ "
        "rolls out of."
    ),
    claim=(
        "With α = 0.1 and μ = 0.9 from x₀ = −5, momentum overshoots to x > 4 and ends at the global "
        "minimum 3.27, while Nesterov never reaches x = 0 and ends at the local minimum −3.25."
    ),
    page="playground",
    setup={"surface": "quartic", "x0": [-5.0], "steps": 100,
           "runs": [_run("momentum", "Momentum, μ = 0.9", lr=0.1, momentum=0.9),
                    _run("nesterov", "Nesterov, μ = 0.9", lr=0.1, momentum=0.9)]},
))

_add(Lesson(
    id="momentum-in-practice",
    title="Momentum on a real network",
    topic="Momentum",
    deck=deck("001"),
    slide="MOMENTUM IN PRACTICE",
    explanation=(
        "The same network trained with SGD at α = 0.01 and four values of μ. Momentum multiplies "
        "the top speed by 1/(1 − μ): μ = 0.9 goes ten times further per update than plain SGD and "
        "learns much faster, but μ = 0.99 (a hundred times) overshoots and the validation loss "
        "climbs back up."
    ),
    claim=(
        "μ = 0.9 reaches a lower best validation loss than μ = 0.5, which beats μ = 0; μ = 0.99 "
        "does worse than μ = 0.9 and ends more than 20 % above its own best."
    ),
    page="compare",
    setup={"config": {"dataset": "digits", "hidden": [64], "epochs": 20, "mode": "minibatch",
                      "batch_size": 32, "optimizer": "sgd"},
           "runs": [_run("sgd", "μ = 0", lr=0.01, momentum=0.0),
                    _run("sgd", "μ = 0.5", lr=0.01, momentum=0.5),
                    _run("sgd", "μ = 0.9", lr=0.01, momentum=0.9),
                    _run("sgd", "μ = 0.99", lr=0.01, momentum=0.99)]},
))

# -- Learning-rate schedules ------------------------------------------------------

_add(Lesson(
    id="lr-decay-too-fast-too-slow",
    title="Learning-rate decay: too fast, about right, too slow",
    topic="Learning-rate schedules",
    deck=deck("000"),
    slide="Adding a decay to hyperparameters",
    explanation=(
        "The deck decays the step as α ← K·α before every update. Started with a large α₀ = 0.7, "
        "K = 0.5 kills the step within a few updates and the iterate freezes on a slope, which is "
        "not a minimum at all. K = 0.95 keeps α large long enough to jump into the global valley, "
        "then small enough to settle. K = 0.999 barely decays: the iterate keeps bouncing around "
        "the minimum."
    ),
    claim=(
        "With α₀ = 0.7 from x₀ = −5, K = 0.5 freezes at x ≈ −1.9 where |f′| > 0.5, K = 0.95 ends "
        "within 10⁻³ of the global minimum 3.27, and K = 0.999 is still bouncing (more than 0.2 away "
        "and moving by more than 0.1 per step) after 100 steps."
    ),
    page="playground",
    setup={"surface": "quartic", "x0": [-5.0], "steps": 100,
           "runs": [dict(_run("gd", "K = 0.5 (too fast)", lr=0.7),
                         schedule={"name": "exponential", "params": {"gamma": 0.5}}),
                    dict(_run("gd", "K = 0.95", lr=0.7),
                         schedule={"name": "exponential", "params": {"gamma": 0.95}}),
                    dict(_run("gd", "K = 0.999 (too slow)", lr=0.7),
                         schedule={"name": "exponential", "params": {"gamma": 0.999}})]},
))

_add(Lesson(
    id="gradient-lr-control",
    title="Gradient-based learning-rate control",
    topic="Learning-rate schedules",
    deck=deck("000"),
    slide="Gradient-based learning rate control",
    explanation=(
        "The deck's control rule shrinks the step after every update by 1/(1 + c·√|f′(x)|): big "
        "gradients cut α hard. With α = 1 plain gradient descent from −5 explodes. A gentle c = 0.1 "
        "tames the first big steps and the run settles in the global valley; the deck's c = 0.99 "
        "cuts α so fast that it reaches zero before the iterate reaches any minimum."
    ),
    claim=(
        "With α = 1 from x₀ = −5 plain gradient descent diverges, control c = 0.1 ends within 10⁻³ "
        "of the global minimum 3.27, and c = 0.99 freezes at x ≈ −2.79, where the slope is not zero."
    ),
    page="playground",
    setup={"surface": "quartic", "x0": [-5.0], "steps": 100,
           "runs": [_run("gd", "GD, α = 1", lr=1.0),
                    _run("gradlr", "Control c = 0.1", lr=1.0, control=0.1),
                    _run("gradlr", "Control c = 0.99 (deck)", lr=1.0, control=0.99)]},
))

# diabetes: 266 training samples, one per update, 20 epochs -> 5 320 updates
_add(Lesson(
    id="decay-schedules",
    title="Linear, step and exponential decay",
    topic="Learning-rate schedules",
    deck=deck("002"),
    slide="Learning Rate Scheduling",
    explanation=(
        "With one sample per update the gradient is noisy, and a constant learning rate keeps "
        "the parameters jittering around the minimum: the validation loss bounces from epoch to "
        "epoch. Any decay — linear to α_τ = 1 % (deck 001's formula), a step ×0.3 every 5 epochs, "
        "or exponential α·K^t — shrinks the jitter and lets the run settle lower. Deck 001's "
        "second line, α_k = k(−(α₀ + α_τ)/τ) + α₀, is a slip: expanding its first line gives "
        "α₀ + k(α_τ − α₀)/τ, which is what runs here."
    ),
    claim=(
        "The lr column follows each schedule's formula; the validation loss of the last five "
        "epochs moves less than half as much under each decay as under the constant rate, and "
        "every decay ends with a lower validation loss."
    ),
    page="train",
    setup={"config": {"dataset": "diabetes", "hidden": [64], "epochs": 20, "mode": "sgd",
                      "optimizer": "sgd", "optimizer_params": {"lr": 0.01},
                      "schedule": "linear", "schedule_params": {"tau": 0, "final_fraction": 0.01}},
           "label": "Linear decay to 1 %",
           "variants": [
               {"label": "Constant", "changes": {"schedule": "constant", "schedule_params": {}}},
               {"label": "Step ×0.3 every 5 epochs",
                "changes": {"schedule": "step", "schedule_params": {"step_size": 1330, "gamma": 0.3}}},
               {"label": "Exponential to 1 %",
                "changes": {"schedule": "exponential", "schedule_params": {"gamma": 0.99913}}},
           ]},
))

# -- Adaptive methods -------------------------------------------------------------

_add(Lesson(
    id="adagrad-vs-rmsprop",
    title="AdaGrad's vanishing step, RMSProp's fix",
    topic="Adaptive methods",
    deck=deck("004"),
    slide="BP + Adaptive Learning Rate",
    explanation=(
        "AdaGrad divides by the root of the sum of all squared gradients so far: the sum only "
        "grows, so the step can only shrink, and it may vanish before training is done. RMSProp "
        "replaces the sum by a moving average that forgets old gradients, so the step stays "
        "usable. Watch the optimizer-state and update-ratio charts; Adadelta is the slide's third "
        "member of the family."
    ),
    claim=(
        "AdaGrad's accumulator norm grows every epoch and its update ratio falls more than 5-fold "
        "over 30 epochs, more than twice RMSProp's fall, while RMSProp's accumulator ends smaller "
        "than after the first epoch."
    ),
    page="compare",
    setup={"config": {"dataset": "digits", "hidden": [64], "epochs": 30, "mode": "minibatch",
                      "batch_size": 32, "optimizer": "adagrad"},
           "runs": [_run("adagrad", "AdaGrad, α = 0.01", lr=0.01),
                    _run("rmsprop", "RMSProp, α = 0.001", lr=0.001),
                    _run("adadelta", "Adadelta", lr=1.0)]},
))

_add(Lesson(
    id="adam-bias-correction",
    title="Adam's bias correction",
    topic="Adaptive methods",
    deck=deck("004"),
    slide="BP + Adaptive Learning Rate + Momentum (Adam)",
    explanation=(
        "Adam's moving averages start at zero, so early on they underestimate the gradient and "
        "its square; dividing by 1 − β₁ᵗ and 1 − β₂ᵗ undoes that and bounds each step by about α. "
        "The second path is the same Adam with the correction left out: its first steps are "
        "(1 − β₁)/√(1 − β₂) ≈ 3 times too long, and it overshoots."
    ),
    claim=(
        "Adam's steps never exceed α = 0.1 per coordinate; without the correction the first step is "
        "(1 − β₁)/√(1 − β₂) ≈ 3.16 times α and the path overshoots x₂ = 0 by more than 1, while Adam "
        "overshoots by less than 0.5."
    ),
    page="playground",
    setup={"surface": "quadratic", "x0": [-2.5, 2.0], "steps": 100,
           "runs": [_run("adam", "Adam (bias-corrected), α = 0.1", lr=0.1, betas=[0.9, 0.999]),
                    _run("adam_nobc", "Adam without bias correction, α = 0.1", lr=0.1,
                         betas=[0.9, 0.999])]},
))

_NFL_RUNS = [_run("momentum", "SGD + momentum (α = 0.1, μ = 0.9)", lr=0.1, momentum=0.9),
             _run("rmsprop", "RMSProp (α = 0.01)", lr=0.01),
             _run("adam", "Adam (α = 0.001)", lr=0.001)]

_add(Lesson(
    id="no-free-lunch-digits",
    title="No free lunch (1/2): digits",
    topic="Adaptive methods",
    deck=deck("001"),
    slide="SGD VS. ADAPTIVE LEARNING RATES",
    explanation=(
        "Three optimizers with fixed, common settings, each averaged over three seeds. On the "
        "64-pixel digits, with 34 updates per epoch, Adam's small careful steps win and SGD with "
        "momentum at α = 0.1 is too aggressive. Open the second lesson: on another task the "
        "ranking turns around — no optimizer is best for every problem (deck 000's NFL theorem)."
    ),
    claim=(
        "On digits, by best validation loss averaged over 3 seeds, Adam ranks first and SGD with "
        "momentum last."
    ),
    page="compare",
    setup={"config": {"dataset": "digits", "hidden": [64], "epochs": 20, "mode": "minibatch",
                      "batch_size": 32, "optimizer": "adam"},
           "runs": _NFL_RUNS, "seeds": 3},
))

_add(Lesson(
    id="no-free-lunch-circles",
    title="No free lunch (2/2): circles",
    topic="Adaptive methods",
    deck=deck("001"),
    slide="SGD VS. ADAPTIVE LEARNING RATES",
    explanation=(
        "The same three optimizers, settings, network and seeds as on digits, on the two-circles "
        "task. With only 240 training points there are 8 updates per epoch: Adam's steps of about "
        "0.001 have not gone far by the end, while SGD with momentum covers the distance. The "
        "order of the digits lesson is reversed."
    ),
    claim=(
        "On circles, by best validation loss averaged over 3 seeds, SGD with momentum ranks first "
        "and Adam last — the reverse of digits."
    ),
    page="compare",
    setup={"config": {"dataset": "circles", "hidden": [64], "epochs": 20, "mode": "minibatch",
                      "batch_size": 32, "optimizer": "adam"},
           "runs": _NFL_RUNS, "seeds": 3},
))

# The learning rates an equal-budget sweep picks on the lesson's problem (engine.sweep with
# the lesson's config at seed 0, learning rates log-uniform in [1e-4, 1], 8 trials per
# optimizer, random_state 0, scored by the best validation loss); the lesson's test runs the
# sweep again and checks that it still picks these.
TUNING_SWEEP = {"space": {"lr": [1e-4, 1.0]}, "trials": 8, "seeds": 3, "search": "random",
                "score": "best_val_loss", "random_state": 0}
_TUNED_LR = {"momentum": 0.02576638574613589, "rmsprop": 0.004950159553733192,
             "adam": 0.01511933646764101}

_add(Lesson(
    id="hand-picked-vs-tuned",
    title="Hand-picked vs tuned learning rates: whose ranking is it?",
    topic="Adaptive methods",
    deck=deck("000"),
    slide="Combining everything into a great optimizer",
    explanation=(
        "A comparison at one hand-picked learning rate each ranks the learning rates as much as "
        "the optimizers. Here SGD with momentum, RMSProp and Adam first race at the common "
        "rates 0.1, 0.01 and 0.001, then at the rates an equal-budget sweep picked: 8 log-uniform "
        "trials each, the best re-run over the same 3 seeds (the Sweep page runs it). In 5 epochs "
        "Adam at 0.001 has barely moved and ranks last, while at its tuned rate, 15 times larger, "
        "it ranks first; RMSProp's hand-picked rate was already in its good range."
    ),
    claim=(
        "On digits after 5 epochs, by best validation loss averaged over 3 seeds, Adam ranks last "
        "of the three at the hand-picked rates (more than 3 times RMSProp's loss) and first at "
        "the rates an 8-trial sweep per optimizer picks, which are exactly the sweep's picks."
    ),
    page="compare",
    setup={"config": {"dataset": "digits", "hidden": [32], "epochs": 5, "mode": "minibatch",
                      "batch_size": 32, "optimizer": "adam", "seed": 1},
           "runs": [_run("momentum", "SGD + momentum, hand-picked (α = 0.1)", lr=0.1),
                    _run("rmsprop", "RMSProp, hand-picked (α = 0.01)", lr=0.01),
                    _run("adam", "Adam, hand-picked (α = 0.001)", lr=0.001),
                    _run("momentum", "SGD + momentum, tuned (α ≈ 0.026)", lr=_TUNED_LR["momentum"]),
                    _run("rmsprop", "RMSProp, tuned (α ≈ 0.005)", lr=_TUNED_LR["rmsprop"]),
                    _run("adam", "Adam, tuned (α ≈ 0.015)", lr=_TUNED_LR["adam"])],
           "seeds": 3},
))

# -- Batch size and modes ---------------------------------------------------------

_add(Lesson(
    id="sgd-minibatch-batch",
    title="One sample, a mini-batch, the full batch",
    topic="Batch size and modes",
    deck=deck("000"),
    slide="Stochastic Gradient Descent",
    explanation=(
        "Same network, same α, same five epochs. The full batch makes one exact update per epoch, "
        "so five epochs are five steps; one sample per update makes over a thousand noisy steps per "
        "epoch; a mini-batch of 32 sits in between. Per epoch the small batches are far ahead, but "
        "one-sample updates are erratic; compare the curves against updates and wall time too."
    ),
    claim=(
        "After 5 epochs the full batch (5 updates) still has a validation loss above 2, more than 4 "
        "times that of b = 32; b = 32 improves every epoch while b = 1's validation loss goes up at "
        "least once."
    ),
    page="modes",
    setup={"config": {"dataset": "digits", "hidden": [64], "epochs": 5,
                      "optimizer": "sgd", "optimizer_params": {"lr": 0.05}},
           "batch_sizes": [1, 32, "full"]},
))

_add(Lesson(
    id="batch-size-timing",
    title="Batch size and training time: a small network",
    topic="Batch size and modes",
    deck=deck("001"),
    slide="BATCH SIZE AS A HYPERPARAMETER",
    explanation=(
        "The deck times one MNIST epoch from 44.42 s at batch 16 to 2.59 s at batch 1000, 17 times "
        "faster: on MNIST's 60 000 images b = 16 makes 3 750 updates per epoch against 60, and in "
        "its framework each update carries a large fixed cost. An epoch always processes every "
        "sample once, so the arithmetic is the same for every b; what changes is the number of "
        "updates, each paying the fixed cost of a call, a gather and an optimizer step. With this "
        "tiny 16-unit network that fixed cost is most of the work and the smallest batch is "
        "clearly the slowest; the larger network's lesson shows a much smaller ratio, and the "
        "ratio on a CPU is smaller than the deck's, and varies with the machine's load."
    ),
    claim=(
        "Every batch size sees all training samples once per epoch, b = 16 makes ⌈n/16⌉ updates "
        "per epoch, 34 times as many as b = 1000's 2, and the timing table's rates follow from its "
        "update counts and times."
    ),
    page="modes",
    setup={"config": {"dataset": "digits", "hidden": [16], "activation": "relu",
                      "epochs": 3, "optimizer": "sgd", "optimizer_params": {"lr": 0.05}},
           "batch_sizes": [16, 17, 20, 100, 128, 1000]},
))

# -- Gradients and initialisation -------------------------------------------------

_add(Lesson(
    id="exploding-gradients-clipping",
    title="Exploding gradients and gradient clipping",
    topic="Gradients and initialisation",
    deck=deck("001"),
    slide="CLIFFS AND EXPLODING GRADIENTS",
    explanation=(
        "A regression net trained with a large step hits a cliff: one huge gradient catapults the "
        "weights, the next gradient is larger still, and within a few updates the loss overflows. "
        "Clipping rescales the gradient whenever its norm exceeds h, g ← h·g/‖g‖: the direction "
        "is kept, the step is capped, and the same run trains."
    ),
    claim=(
        "Without clipping the run diverges within its first epoch; with the gradient norm clipped "
        "at h = 1 it completes, every recorded gradient norm is at most 1, and its final validation "
        "loss is less than half the starting one."
    ),
    page="train",
    setup={"config": {"dataset": "diabetes", "hidden": [64, 64], "activation": "relu",
                      "epochs": 20, "mode": "minibatch", "batch_size": 32,
                      "optimizer": "sgd", "optimizer_params": {"lr": 0.3}, "clip_norm": 1.0},
           "label": "Clipped at ‖g‖ ≤ 1",
           "variants": [{"label": "No clipping", "changes": {"clip_norm": 0.0}}]},
))

_add(Lesson(
    id="vanishing-gradients",
    title="Vanishing gradients in a deep sigmoid net",
    topic="Gradients and initialisation",
    deck=deck("000"),
    slide="About this week (Week 2)",
    explanation=(
        "Backpropagation multiplies by the activation's slope once per layer, and the sigmoid's "
        "slope is at most 1/4. Through eight sigmoid layers the gradient reaching the first layer "
        "is thousands of times smaller than at the output, so the early layers hardly learn. ReLU "
        "has slope 1 where it is active and He initialisation keeps the signal's scale layer after "
        "layer; see the per-layer gradient norms."
    ),
    claim=(
        "After the first epoch the 8-layer sigmoid net's first-layer gradient norm is over 1000 "
        "times smaller than the output layer's, and its validation accuracy stays below 0.2; with "
        "ReLU and He initialisation the ratio is above 0.1 and validation accuracy passes 0.85."
    ),
    page="train",
    setup={"config": {"dataset": "digits", "hidden": [32] * 8, "activation": "sigmoid",
                      "initializer": "xavier_uniform", "epochs": 10, "mode": "minibatch",
                      "batch_size": 32, "optimizer": "sgd", "optimizer_params": {"lr": 0.1}},
           "label": "Sigmoid, Xavier init",
           "variants": [{"label": "ReLU, He init",
                         "changes": {"activation": "relu", "initializer": "he_uniform"}}]},
))

_add(Lesson(
    id="zero-init-symmetry",
    title="Symmetry: why weights must not start at zero",
    topic="Gradients and initialisation",
    deck=deck("000"),
    slide="About this week (Week 2)",
    explanation=(
        "If every weight starts at the same value, every hidden unit computes the same thing and "
        "receives the same gradient, so the units stay identical copies of each other forever: "
        "sixteen units do the work of one. Random initialisation (here Xavier) breaks the symmetry "
        "and lets each unit learn its own feature."
    ),
    claim=(
        "After 10 epochs from zero initialisation the 16 hidden units still have identical "
        "weights and validation accuracy is below 0.5; from Xavier initialisation the units differ "
        "and validation accuracy passes 0.9."
    ),
    page="train",
    setup={"config": {"dataset": "digits", "hidden": [16], "activation": "sigmoid",
                      "initializer": "zeros", "epochs": 10, "mode": "minibatch", "batch_size": 32,
                      "optimizer": "sgd", "optimizer_params": {"lr": 0.5}},
           "label": "Zero init",
           "variants": [{"label": "Xavier init", "changes": {"initializer": "xavier_uniform"}}]},
))

_BN_SGD = {"lr": 0.03, "momentum": 0.9, "weight_decay": 0.001}

_add(Lesson(
    id="batch-normalization",
    title="Batch normalization on and off",
    topic="Gradients and initialisation",
    deck=deck("001"),
    slide="BATCH NORMALIZATION",
    explanation=(
        "Batch norm re-centres and re-scales every hidden layer's output over the mini-batch. With "
        "the deck's SGD settings (α = 0.03, μ = 0.9, weight decay 0.001) a 6-layer sigmoid net "
        "without it is stuck at chance, because its gradients vanish; with it the units work in the "
        "sigmoid's steep middle range and the net learns. On a 3-layer ReLU net, as in the deck, the "
        "gain is smaller but visible from the first epoch."
    ),
    claim=(
        "The 6-layer sigmoid net stays below 0.2 validation accuracy without batch norm and passes "
        "0.9 with it; on the 3-layer ReLU net batch norm gives a lower validation loss after the "
        "first epoch."
    ),
    page="train",
    setup={"config": {"dataset": "digits", "hidden": [32] * 6, "activation": "sigmoid",
                      "initializer": "xavier_uniform", "batchnorm": True, "epochs": 10,
                      "mode": "minibatch", "batch_size": 32,
                      "optimizer": "sgd", "optimizer_params": _BN_SGD},
           "label": "Sigmoid ×6, batch norm",
           "variants": [
               {"label": "Sigmoid ×6, no batch norm", "changes": {"batchnorm": False}},
               {"label": "ReLU ×3, batch norm",
                "changes": {"hidden": [64, 64, 64], "activation": "relu", "initializer": "he_uniform"}},
               {"label": "ReLU ×3, no batch norm",
                "changes": {"hidden": [64, 64, 64], "activation": "relu", "initializer": "he_uniform",
                            "batchnorm": False}},
           ]},
))

# -- Regularisation ---------------------------------------------------------------

_add(Lesson(
    id="adam-l2-vs-adamw",
    title="Weight decay: L2 inside Adam vs AdamW",
    topic="Regularisation",
    deck=deck("004"),
    slide="AdamW",
    explanation=(
        "Adding λθ to the gradient sends the decay through Adam's moving averages: divided by √v, "
        "weights with small gradients are pulled to zero at the full step size. AdamW subtracts "
        "αλθ after the adaptive step instead, a gentle uniform shrink. Same λ, very different "
        "effect: compare the weight norms and the validation losses."
    ),
    claim=(
        "With the same λ = 0.1, Adam + L2 ends with less than half AdamW's weight norm and a higher "
        "best validation loss, while AdamW's weights are only slightly smaller than without decay."
    ),
    page="compare",
    setup={"config": {"dataset": "digits", "hidden": [64], "epochs": 20, "mode": "minibatch",
                      "batch_size": 32, "optimizer": "adam"},
           "runs": [_run("adam", "Adam, no decay", lr=0.001, weight_decay=0.0),
                    _run("adam", "Adam + L2, λ = 0.1", lr=0.001, weight_decay=0.1),
                    _run("adamw", "AdamW, λ = 0.1", lr=0.001, weight_decay=0.1)]},
))

_add(Lesson(
    id="early-stopping",
    title="Early stopping on the validation loss",
    topic="Regularisation",
    deck=deck("004"),
    slide="Early Stopping",
    explanation=(
        "A 64×64 network on 120 noisy two-moons points learns the training set by heart: after a "
        "while the validation loss turns round and climbs. Early stopping watches it and stops "
        "once it has not improved for 15 epochs, then restores the weights of the best epoch — "
        "the slide's 'pick the model with the least validation error'."
    ),
    claim=(
        "With patience 15 the run stops long before its 200-epoch budget and restores its best "
        "epoch; without early stopping the validation loss ends more than twice its best, and the "
        "early-stopped model has the lower test loss."
    ),
    page="train",
    setup={"config": {"dataset": "moons", "dataset_params": {"n_samples": 200, "noise": 0.35},
                      "hidden": [64, 64], "epochs": 200, "mode": "minibatch", "batch_size": 32,
                      "optimizer": "adam", "optimizer_params": {"lr": 0.01},
                      "early_stopping": True, "patience": 15, "restore_best": True},
           "label": "Early stopping, patience 15",
           # patience back at its default too: it means nothing without early stopping, and
           # the Train page, which hides it then, opens exactly this run
           "variants": [{"label": "No early stopping",
                         "changes": {"early_stopping": False, "patience": 10}}]},
))

# -- Beyond Adam ------------------------------------------------------------------

_add(Lesson(
    id="beyond-adam",
    title="AMSGrad, NAdam, RAdam, Lookahead, AdaBound",
    topic="Beyond Adam",
    deck=deck("000"),
    slide="PyTorch has many more optimizers",
    explanation=(
        "The deck's 'worth looking into' list, raced on digits. AMSGrad divides by the running "
        "maximum of v, so its step can never grow back; NAdam adds Nesterov's look-ahead; RAdam "
        "switches the adaptive step on gradually; Lookahead pulls slow weights towards Adam's fast "
        "ones; AdaBound clamps the step into a band that tends to SGD's. On an easy task none of "
        "them is a revolution. The deck gets two of them wrong: AMSGrad has nothing to do with "
        "simulated annealing (it is Adam with the running maximum of v; Reddi, Kale & Kumar 2018), and "
        "AdaBound does not combine Adam with AdaGrad but bounds Adam's per-weight step so that it "
        "turns into SGD (Luo, Xiong, Liu & Sun 2019)."
    ),
    claim=(
        "All six pass 0.9 validation accuracy; AMSGrad's max-of-v state is never below its v, and "
        "RAdam's update at the end of the first epoch is less than half the size of Adam's."
    ),
    page="compare",
    setup={"config": {"dataset": "digits", "hidden": [64], "epochs": 20, "mode": "minibatch",
                      "batch_size": 32, "optimizer": "adam"},
           "runs": [_run("adam", "Adam", lr=0.001),
                    _run("adam", "AMSGrad", lr=0.001, amsgrad=True),
                    _run("nadam", "NAdam", lr=0.002),
                    _run("radam", "RAdam", lr=0.001),
                    _run("lookahead", "Lookahead (Adam)", inner="adam", k=5, alpha=0.5),
                    _run("adabound", "AdaBound", lr=0.001, final_lr=0.1)]},
))

_add(Lesson(
    id="second-order-lbfgs",
    title="Second order: L-BFGS on Rosenbrock",
    topic="Beyond Adam",
    deck=deck("001"),
    slide="SECOND ORDER OPTIMIZATION",
    explanation=(
        "Second-order methods use curvature, and the deck suggests BFGS for small problems. "
        "L-BFGS builds a curvature estimate from its last few gradients; here it makes one "
        "iteration (one gradient) per step, like the others. On the curved Rosenbrock valley that "
        "estimate is worth far more than momentum or per-coordinate scaling."
    ),
    claim=(
        "After 100 steps of one gradient each, L-BFGS is within 10⁻³ of the minimum (1, 1) while "
        "momentum and Adam are more than 0.3 away."
    ),
    page="playground",
    setup={"surface": "rosenbrock", "x0": [-1.2, 1.0], "steps": 100,
           "runs": [_run("lbfgs", "L-BFGS, 1 iteration per step", max_iter=1),
                    _run("momentum", "Momentum, α = 0.001, μ = 0.9", lr=0.001, momentum=0.9),
                    _run("adam", "Adam, α = 0.1", lr=0.1)]},
))


# =============================================================================
# more deck figures: the decks' own settings, forms and landscapes

# -- Landscapes ---------------------------------------------------------------------

_add(Lesson(
    id="lr-too-large-too-small",
    title="A learning rate too small, about right, too large",
    topic="Landscapes",
    deck=deck("002"),
    slide="Basic Gradient Descent Algorithms",
    explanation=(
        "On the bowl ½(x₁² + x₂²) one gradient step multiplies the distance to the minimum by "
        "|1 − α|. With α = 0.01 that factor is 0.99: after 50 steps the path has not gone halfway "
        "('a lot of iterations are needed'). With α = 0.5 it halves the distance every step, and "
        "with α = 2.5 every step overshoots to 1.5 times the distance on the other side, so 'the "
        "objective value explodes'."
    ),
    claim=(
        "After 50 steps α = 0.01 is still more than half its starting distance from the minimum, "
        "α = 0.5 is within 10⁻⁶ of it, and α = 2.5 has multiplied the distance by 1.5⁵⁰ (f grows "
        "by more than 10¹⁷)."
    ),
    page="playground",
    setup={"surface": "quadratic", "x0": [-2.5, 2.0], "steps": 50,
           "runs": [_run("gd", "α = 0.01 (too small)", lr=0.01),
                    _run("gd", "α = 0.5", lr=0.5),
                    _run("gd", "α = 2.5 (too large)", lr=2.5)]},
))

_add(Lesson(
    id="hessian-saddle-vs-minimum",
    title="Curvature: a saddle's Hessian against a minimum's",
    topic="Landscapes",
    deck=deck("001"),
    slide="FLAT REGIONS",
    explanation=(
        "At a minimum the Hessian has only positive eigenvalues; at a saddle their signs are "
        "mixed. Himmelblau's saddle near (0.09, 2.88) curves down along one eigenvector "
        "(eigenvalue ≈ −31.7) and up along the other (≈ 75.5); the minimum (3, 2) curves up both "
        "ways (≈ 25.7 and 82.3). Gradient descent started next to the saddle lingers, then leaves "
        "along the downward direction and settles in the minimum — slower the smaller the step."
    ),
    claim=(
        "The Hessian at the saddle has one negative and one positive eigenvalue, at (3, 2) two "
        "positive ones; both paths end within 10⁻³ of (3, 2), and with α = 0.002 the path is still "
        "within 0.5 of the saddle after 20 steps while with α = 0.01 it has left."
    ),
    page="playground",
    setup={"surface": "himmelblau", "x0": [0.097, 2.894], "steps": 300,
           "runs": [_run("gd", "GD, α = 0.01", lr=0.01), _run("gd", "GD, α = 0.002", lr=0.002)]},
))

_add(Lesson(
    id="cliff-clipping",
    title="A cliff, with and without gradient clipping",
    topic="Landscapes",
    deck=deck("001"),
    slide="EXAMPLE: CLIFFS AND EXPLODING GRADIENTS",
    explanation=(
        "A plateau drops 40 units over about half a unit into a valley. On the cliff face the "
        "gradient is about 80, so one gradient-descent step 'catapults the parameters very far': "
        "past the minimum and out of the picture, and the path has to walk all the way back. "
        "Clipping the gradient norm at h = 1 keeps the direction and caps every step at α·h, so "
        "the clipped path steps down the cliff and stops at the minimum."
    ),
    claim=(
        "Without clipping one update is longer than 15 and throws the iterate past x₁ = 15, and it "
        "is back within 10⁻³ of the minimum only after step 60; with ‖g‖ clipped at 1 every step "
        "is at most α·h = 0.3, the path never passes the minimum, and it is within 10⁻³ of it "
        "by step 60."
    ),
    page="playground",
    setup={"surface": "cliff", "x0": [-2.5, 1.0], "steps": 100,
           "runs": [_run("gd", "GD, α = 0.3", lr=0.3),
                    _run("gd", "GD, α = 0.3, clipped at ‖g‖ ≤ 1", lr=0.3, clip_norm=1.0)]},
))

_add(Lesson(
    id="escape-local-minima",
    title="Escaping local minima on a multimodal surface",
    topic="Landscapes",
    deck=deck("001"),
    slide="EXAMPLE: MULTIMODAL FUNCTION",
    explanation=(
        "Rastrigin's surface has a local minimum near every integer point. Gradient descent, "
        "momentum and Adam started at (3.2, −2.8) all settle in the well next to the start. A "
        "step that is far too large at first (α₀ = 0.03, above 2/curvature) cannot sit in any well "
        "and hops across them; decayed by K = 0.95 per step it finally settles, here in the global "
        "minimum. Change α₀ or K a little and it settles in another well, sometimes a worse one: "
        "hopping is a lottery, not a guarantee."
    ),
    claim=(
        "GD, momentum and Adam end in the local minimum near (2.98, −2.98) with f ≈ 17.9; the "
        "decaying large step with α₀ = 0.03, K = 0.95 ends within 10⁻³ of the global minimum "
        "(0, 0), while α₀ = 0.035, K = 0.96 ends in a well higher than the start's."
    ),
    page="playground",
    setup={"surface": "rastrigin", "x0": [3.2, -2.8], "steps": 200,
           "runs": [_run("gd", "GD, α = 0.002", lr=0.002),
                    _run("momentum", "Momentum, α = 0.002, μ = 0.9", lr=0.002, momentum=0.9),
                    _run("adam", "Adam, α = 0.3", lr=0.3),
                    dict(_run("gd", "GD, α₀ = 0.03, K = 0.95", lr=0.03),
                         schedule={"name": "exponential", "params": {"gamma": 0.95}}),
                    dict(_run("gd", "GD, α₀ = 0.035, K = 0.96", lr=0.035),
                         schedule={"name": "exponential", "params": {"gamma": 0.96}})]},
))

# -- Momentum -------------------------------------------------------------------------

_add(Lesson(
    id="terminal-velocity",
    title="Terminal velocity: momentum multiplies the step by 1/(1 − φ)",
    topic="Momentum",
    deck=deck("001"),
    slide="MOMENTUM",
    explanation=(
        "On a constant slope every gradient is the same g, so momentum's velocity is a geometric "
        "sum: after k steps its step is α·g·(1 − φᵏ)/(1 − φ), which tends to the terminal "
        "α·g/(1 − φ). φ = 0.5 doubles gradient descent's step, φ = 0.9 multiplies it by ten, as "
        "the deck says."
    ),
    claim=(
        "Gradient descent steps exactly α·g = 0.05 every time; step k of momentum is "
        "α·g·(1 − φᵏ)/(1 − φ), and after 100 steps it is within 10⁻³ of the terminal 0.1 for "
        "φ = 0.5 and 0.5 for φ = 0.9."
    ),
    page="playground",
    setup={"surface": "slope", "x0": [0.0], "steps": 100,
           "runs": [_run("gd", "GD, α = 0.1", lr=0.1),
                    _run("momentum_deck", "φ = 0.5", lr=0.1, momentum=0.5),
                    _run("momentum_deck", "φ = 0.9", lr=0.1, momentum=0.9)]},
))

_add(Lesson(
    id="momentum-deck-vs-torch-form",
    title="Momentum with α inside or outside the velocity, under a decay",
    topic="Momentum",
    deck=deck("000"),
    slide="Adding a decay to hyperparameters",
    explanation=(
        "The decks write momentum as v ← μv − αg; θ ← θ + v, torch as b ← μb + g; θ ← θ − αb. "
        "With a constant α the two are the same update (v = −αb). Once α decays, the deck's "
        "velocity still carries the old, larger steps while torch's buffer rescales the whole "
        "history by the new α. With K = 0.97 from x₀ = −5 both escape to the global valley, but "
        "they stop at different points: the decayed step freezes them before they settle."
    ),
    claim=(
        "At constant α = 0.1 the two forms trace the same path (within 10⁻⁹); with the decay "
        "α·0.97ᵗ the torch form ends at 3.2767 and the deck form at 3.2429."
    ),
    page="playground",
    setup={"surface": "quartic", "x0": [-5.0], "steps": 100,
           "runs": [_run("momentum", "torch form, constant α", lr=0.1, momentum=0.9),
                    _run("momentum_deck", "deck form, constant α", lr=0.1, momentum=0.9),
                    dict(_run("momentum", "torch form, K = 0.97", lr=0.1, momentum=0.9),
                         schedule={"name": "exponential", "params": {"gamma": 0.97}}),
                    dict(_run("momentum_deck", "deck form, K = 0.97", lr=0.1, momentum=0.9),
                         schedule={"name": "exponential", "params": {"gamma": 0.97}})]},
))

# -- Adaptive methods -------------------------------------------------------------------

_add(Lesson(
    id="sgd-vs-adaptive-deck-settings",
    title="SGD vs adaptive learning rates, with the deck's settings",
    topic="Adaptive methods",
    deck=deck("001"),
    slide="SGD VS. ADAPTIVE LEARNING RATES",
    explanation=(
        "The deck's four optimizer calls, translated: weight decay 0.001 for all; SGD α = 0.03 "
        "with momentum 0.9; AdaGrad α = 0.05, ε = 10⁻⁸; RMSProp α = 0.002 with MXNet's γ₁ = 0.95 "
        "(the squared-gradient average) and γ₂ = 0.9 (the momentum of its centred variant); Adam "
        "α = 0.001. Here on digits with a 64-unit ReLU net and batches of 100 for 10 epochs, not "
        "MNIST's 512×3 net. The adaptive methods are not automatically better: with its small "
        "default step Adam is the slowest of the four."
    ),
    claim=(
        "After 10 epochs centred RMSProp has the lowest validation loss and Adam (α = 0.001) the "
        "highest; SGD with momentum, AdaGrad and RMSProp pass 0.9 validation accuracy."
    ),
    page="compare",
    setup={"config": {"dataset": "digits", "hidden": [64], "activation": "relu", "epochs": 10,
                      "mode": "minibatch", "batch_size": 100, "optimizer": "sgd"},
           "runs": [_run("sgd", "SGD, α = 0.03, μ = 0.9", lr=0.03, momentum=0.9, weight_decay=0.001),
                    _run("adagrad", "AdaGrad, α = 0.05", lr=0.05, eps=1e-8, weight_decay=0.001),
                    _run("rmsprop", "RMSProp, α = 0.002 (centred, γ₁ = 0.95, γ₂ = 0.9)", lr=0.002,
                         alpha=0.95, momentum=0.9, centered=True, weight_decay=0.001),
                    _run("adam", "Adam, α = 0.001", lr=0.001, weight_decay=0.001)]},
))

_add(Lesson(
    id="deck000-four-optimizers",
    title="GD, AdaGrad, RMSProp and Adam on the deck's 2-layer sigmoid network",
    topic="Adaptive methods",
    deck=deck("000"),
    slide="Comparing all four optimizers",
    explanation=(
        "Deck 000 trains one network — a sigmoid hidden layer and a sigmoid output with binary "
        "cross-entropy, on all samples at every update — with each of its four hand-written "
        "optimizers and the same α. These are its code's own forms: AdaGrad and RMSProp with "
        "ε = 10⁻⁶ inside the root, RMSProp with ρ = 0.1, Adam with ε = 10⁻⁶. On two circles with "
        "α = 0.05, plain gradient descent has not left chance after 200 updates, while the "
        "adaptive methods, which rescale each weight's step, separate the classes."
    ),
    claim=(
        "After 200 full-batch updates the validation losses are ordered GD > AdaGrad > RMSProp > "
        "Adam; GD is still above 0.69 (chance is ln 2 ≈ 0.693) and Adam is below 0.05."
    ),
    page="compare",
    setup={"config": {"dataset": "circles", "dataset_params": {"n_samples": 400, "noise": 0.1},
                      "hidden": [16], "activation": "sigmoid", "initializer": "xavier_uniform",
                      "epochs": 200, "mode": "batch", "optimizer": "gd"},
           "runs": [_run("gd", "GD", lr=0.05),
                    _run("adagrad_deck000", "AdaGrad (deck 000)", lr=0.05),
                    _run("rmsprop_deck000", "RMSProp (deck 000, ρ = 0.1)", lr=0.05),
                    _run("adam_deck000", "Adam (deck 000)", lr=0.05)]},
))

_add(Lesson(
    id="adam-beta1-zero-is-rmsprop",
    title="Adam with β₁ = 0 is RMSProp plus the bias correction",
    topic="Adaptive methods",
    deck=deck("004"),
    slide="BP + Adaptive Learning Rate + Momentum (Adam)",
    explanation=(
        "With β₁ = 0 Adam's first moment is just the current gradient, so its update is "
        "RMSProp's with ρ = β₂ times the correction √(1 − β₂ᵗ), as the slide says. The "
        "correction matters only early: RMSProp's moving average starts at zero, so its first "
        "step is 1/√(1 − β₂) times too long, while Adam's is exactly α. As β₂ᵗ → 0 the two "
        "step sizes agree."
    ),
    claim=(
        "With β₂ = ρ = 0.9 and α = 0.05 on the ravine, Adam's first step is α along each axis and "
        "RMSProp's 1/√(1 − 0.9) ≈ 3.16 times that; by step 20 their steps along x₁ differ by less "
        "than 5 %."
    ),
    page="playground",
    setup={"surface": "ravine", "x0": [-4.5, 1.0], "steps": 100,
           "runs": [_run("adam", "Adam, β₁ = 0, β₂ = 0.9", lr=0.05, betas=[0.0, 0.9]),
                    _run("rmsprop", "RMSProp, ρ = 0.9", lr=0.05, alpha=0.9)]},
))

# -- Gradients and initialisation ----------------------------------------------------------

_add(Lesson(
    id="why-nonlinear-activations",
    title="Why activation functions must be non-linear",
    topic="Gradients and initialisation",
    deck=deck("000"),
    slide="About this week (Week 2)",
    explanation=(
        "Without a non-linear activation two hidden layers collapse into one matrix product: the "
        "whole network is a linear function of its input, and a linear boundary cannot separate "
        "one circle from the ring around it. The same network with tanh or ReLU between the "
        "layers bends its boundary around the inner circle."
    ),
    claim=(
        "With the identity activation the trained network's outputs are an exact affine function "
        "of the inputs and its validation accuracy stays below 0.6; with tanh and with ReLU it "
        "passes 0.95."
    ),
    page="train",
    setup={"config": {"dataset": "circles", "hidden": [16, 16], "activation": "identity",
                      "epochs": 60, "mode": "minibatch", "batch_size": 32,
                      "optimizer": "adam", "optimizer_params": {"lr": 0.01}},
           "label": "Identity (linear) activation",
           "variants": [{"label": "tanh", "changes": {"activation": "tanh"}},
                        {"label": "ReLU", "changes": {"activation": "relu"}}]},
))

# -- Batch size and modes ---------------------------------------------------------------------

_add(Lesson(
    id="batch-size-timing-large",
    title="Batch size and training time: a large network",
    topic="Batch size and modes",
    deck=deck("001"),
    slide="BATCH SIZE AS A HYPERPARAMETER",
    explanation=(
        "The same table with the deck's big 512-512-512 ReLU network: per epoch every batch size "
        "does the same arithmetic, only cut into more or fewer updates. With 400 times more "
        "weights than the small lesson's network, each update's matrix products dwarf its fixed "
        "cost, so time per epoch depends much less on the batch size: compare the two timing "
        "tables' ratios. (The deck's 784-512-512-512-10 net has 930,816 weights by its own sum, "
        "not the 3.285.504 it prints.)"
    ),
    claim=(
        "Every batch size sees all training samples once per epoch; b = 16 makes ⌈n/16⌉ updates, "
        "34 times as many as b = 1000's 2, and the network has more than 400 times the small "
        "lesson's parameters per update."
    ),
    page="modes",
    setup={"config": {"dataset": "digits", "hidden": [512, 512, 512], "activation": "relu",
                      "epochs": 1, "optimizer": "sgd", "optimizer_params": {"lr": 0.01}},
           "batch_sizes": [16, 100, 1000]},
))


# =============================================================================
# look-up


def get(lesson_id: str) -> Lesson:
    """The lesson with this id; unknown ids raise ValueError listing the known ones."""
    try:
        return LESSONS[lesson_id]
    except (KeyError, TypeError):
        raise ValueError(
            f"lesson: {lesson_id!r} is not known; allowed: {', '.join(LESSONS)}"
        ) from None


def by_topic() -> dict[str, list[Lesson]]:
    """Topic -> its lessons, topics in :data:`TOPICS` order, lessons in definition order."""
    out: dict[str, list[Lesson]] = {t: [] for t in TOPICS}
    for lesson in LESSONS.values():
        out[lesson.topic].append(lesson)
    return {t: ls for t, ls in out.items() if ls}


def _as_lesson(lesson: Lesson | str) -> Lesson:
    return lesson if isinstance(lesson, Lesson) else get(lesson)


# =============================================================================
# configs


def _jobs(lesson: Lesson) -> list[tuple[str, int, RunConfig]]:
    """``(label, seed index, config)`` of every run the lesson needs, in order."""
    s = lesson.setup
    if lesson.page == "playground":
        return []
    base = dict(s["config"])
    where = f"lesson {lesson.id!r}"

    def make(d: Mapping[str, Any], what: str) -> RunConfig:
        try:
            return RunConfig.from_dict(d)
        except ValueError as e:
            raise ValueError(f"{where}, {what}: {e}") from None

    out: list[tuple[str, int, RunConfig]] = []
    if lesson.page == "train":
        out.append((s.get("label", lesson.title), 0, make(base, "config")))
        for v in s.get("variants", ()):
            out.append((v["label"], 0, make({**base, **v["changes"]}, v["label"])))
    elif lesson.page == "compare":
        seed0 = base.get("seed", 0)
        for r in s["runs"]:
            for k in range(int(s.get("seeds", 1))):
                d = {**base, "optimizer": r["optimizer"], "optimizer_params": r.get("params", {}),
                     "seed": seed0 + k}
                out.append((r["label"], k, make(d, r["label"])))
    else:  # modes
        for b in s["batch_sizes"]:
            if b == "full":
                d = {**base, "mode": "batch"}
            elif b == 1:
                d = {**base, "mode": "sgd"}
            else:
                d = {**base, "mode": "minibatch", "batch_size": b}
            out.append((size_label(b), 0, make(d, size_label(b))))
    return out


def jobs(lesson: Lesson | str) -> list[tuple[str, int, RunConfig]]:
    """``(label, seed index, config)`` of every run a lesson trains, in order.

    Unlike :func:`configs` a config shared by two labels is listed under each;
    the app builds its lesson links from these (one per label).
    """
    return _jobs(_as_lesson(lesson))


def configs(lesson: Lesson | str) -> list[RunConfig]:
    """The RunConfigs a lesson trains, in order, without duplicates ([] for playground)."""
    seen: dict[str, RunConfig] = {}
    for _, _, cfg in _jobs(_as_lesson(lesson)):
        seen.setdefault(cfg.key(), cfg)
    return list(seen.values())


def _params(params: Mapping[str, Any]) -> dict[str, Any]:
    """JSON lists back to the tuples the optimizer specs expect (betas, etas, ...)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def trajectories(lesson: Lesson | str) -> dict[str, np.ndarray]:
    """label -> trajectory of every run of a playground lesson."""
    from engine.minimize import minimize

    lesson = _as_lesson(lesson)
    if lesson.page != "playground":
        raise ValueError(f"lesson {lesson.id!r}: a {lesson.page} lesson has no trajectories")
    s = lesson.setup
    default = s.get("schedule") or {}
    out: dict[str, np.ndarray] = {}
    for r in s["runs"]:
        sched = r.get("schedule", default) or {}
        out[r["label"]] = minimize(
            s["surface"], r["optimizer"], s.get("x0"), int(s["steps"]),
            schedule=sched.get("name", "constant"), schedule_params=sched.get("params", {}),
            **_params(r.get("params", {})),
        )
    return out


# =============================================================================
# running


def timing_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """One row per run: batch_size, updates_per_epoch, time_per_epoch_s, updates_per_s,
    samples_per_s, final_val_loss.

    Time per epoch is the run's median epoch time (training only); the rates are
    derived from it, so the columns are consistent with each other.
    """
    rows = []
    for r in results:
        h = r.history
        upe = int(r.timings.get("updates_per_epoch", 0))
        tpe = float(r.timings.get("per_epoch_s", math.nan))
        epochs = float(h["epoch"].iloc[-1]) if len(h) else 0.0
        per_epoch_samples = float(h["samples_seen"].iloc[-1]) / epochs if epochs > 0 else math.nan
        ok = math.isfinite(tpe) and tpe > 0
        rows.append({
            "batch_size": int(r.config.batch_size),
            "updates_per_epoch": upe,
            "time_per_epoch_s": tpe,
            "updates_per_s": upe / tpe if ok else math.nan,
            "samples_per_s": per_epoch_samples / tpe if ok else math.nan,
            "final_val_loss": float(h["val_loss"].iloc[-1]) if len(h) else math.nan,
        })
    return pd.DataFrame(rows, columns=["batch_size", "updates_per_epoch", "time_per_epoch_s",
                                       "updates_per_s", "samples_per_s", "final_val_loss"])


def store_label(lesson: Lesson, label: str) -> str:
    """The run-store label of a lesson's run (the Runs page lists it)."""
    return f"Lesson · {lesson.title} · {label}"


def _orchestrator(runs: Orchestrator | RunStore | None, jobs: int = 1) -> Orchestrator:
    """``runs`` as an orchestrator: a store gets one of its own, None an in-memory one."""
    from engine.runs import Orchestrator

    if isinstance(runs, Orchestrator):
        return runs
    from engine import executors

    return Orchestrator(runs, executors.local(jobs))


def run(
    lesson: Lesson | str,
    runs: Orchestrator | RunStore | None = None,
    progress: Callable[[str, dict], Any] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> LessonOutcome:
    """Execute a lesson with the engine.

    Playground lessons trace their paths with :func:`engine.minimize`; the
    others ask the run orchestrator (:mod:`engine.runs`) for their configs:
    runs already stored are read back, the missing ones train in one call,
    stacked where they share batches, and are stored under the lesson's
    labels. ``runs`` is an :class:`~engine.runs.Orchestrator`, a
    :class:`~engine.store.RunStore`, or None (in memory). ``progress`` and
    ``should_stop`` are passed to :meth:`~engine.runs.Orchestrator.run`.
    """
    lesson = _as_lesson(lesson)
    out = LessonOutcome(lesson)
    if lesson.page == "playground":
        out.trajectories = trajectories(lesson)
        return out
    orch = _orchestrator(runs)
    jobs = _jobs(lesson)
    before = orch.trained
    results = orch.run(
        [cfg for _, _, cfg in jobs], labels=[store_label(lesson, label) for label, _, _ in jobs],
        progress=progress, should_stop=should_stop,
    )
    out.trained = orch.trained - before
    for (label, _, _), result in zip(jobs, results, strict=True):
        if result is not None:
            out.replicates.setdefault(label, []).append(result)
    out.results = {label: rs[0] for label, rs in out.replicates.items()}
    if lesson.page == "modes":
        out.timing = timing_table(list(out.results.values()))
    return out


def warm(
    runs: Orchestrator | RunStore | None = None,
    jobs: int = 1,
    lessons: Iterable[Lesson | str] | None = None,
) -> int:
    """Train every lesson's runs that the store lacks and put them in it.

    ``runs`` defaults to the app's :class:`~engine.store.RunStore`;
    ``lessons`` to all of them. With ``jobs > 1`` the runs train in a pool of
    that many worker processes. Each run is stored as it finishes (by this
    process only), so an interrupted warm-up keeps what it finished. Returns
    the number of runs trained.
    """
    if runs is None:
        from engine.store import RunStore

        runs = RunStore()
    orch = _orchestrator(runs, jobs)
    chosen = [_as_lesson(x) for x in (LESSONS.values() if lessons is None else lessons)]
    configs, labels = [], []
    for lesson in chosen:
        for label, _, cfg in _jobs(lesson):
            configs.append(cfg)
            labels.append(store_label(lesson, label))
    before = orch.trained
    orch.run(configs, labels=labels)
    return orch.trained - before


def warm_cli(args: Any) -> int:
    """``python -m engine warm-lessons [--jobs N]``: warm the store, one line per lesson."""
    from engine.store import RunStore

    jobs = max(1, int(getattr(args, "jobs", 1) or 1))
    store = RunStore()
    t0 = time.perf_counter()
    missing_before = {
        lesson.id: [c.key() for c in configs(lesson) if c.key() not in store]
        for lesson in LESSONS.values()
    }
    try:
        trained = warm(store, jobs=jobs)
    except ValueError as e:  # a lesson that no longer validates
        print(f"error: {e}", file=sys.stderr)
        return 2
    width = max(len(i) for i in LESSONS)
    counted: set[str] = set()  # a run shared by several lessons is trained (and counted) once
    for lesson in LESSONS.values():
        if lesson.page == "playground":
            n = len(lesson.setup["runs"])
            line = f"{n} path{'s' if n != 1 else ''}, traced on demand"
        else:
            keys = [c.key() for c in configs(lesson)]
            missing = set(missing_before[lesson.id])
            new = [k for k in keys if k in missing and k not in counted]
            shared = [k for k in keys if k in missing and k in counted]
            counted.update(keys)
            parts = [f"{len(new)} trained", f"{len(keys) - len(missing)} already stored"]
            if shared:
                parts.append(f"{len(shared)} shared with a lesson above")
            line = f"{len(keys)} run{'s' if len(keys) != 1 else ''}: " + ", ".join(parts)
        print(f"{lesson.id:<{width}}  {lesson.page:<10}  {line}")
    print(f"{len(LESSONS)} lessons; {trained} runs trained in {time.perf_counter() - t0:.1f} s "
          f"with {jobs} job{'s' if jobs != 1 else ''}; store {store.path} holds {len(store)} runs")
    return 0
