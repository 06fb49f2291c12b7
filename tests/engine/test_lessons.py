"""The lesson registry: every lesson's claim checked on what the engine produces.

Each lesson runs once per session (cached at module scope, into a temporary
run store) and is checked by the function registered for its id with
``@check(id)``. A lesson without a check fails ``test_claim``, so a new lesson
must come with the test of its claim.
"""

from __future__ import annotations

import json
import math
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from engine import data, lessons, nn, optim, schedules, surfaces
from engine.config import RunConfig
from engine.executors import Executor, InlineExecutor
from engine.lessons import LessonOutcome
from engine.nn import MLP
from engine.runs import Orchestrator
from engine.store import RunStore
from engine.surfaces import QUARTIC_GLOBAL, QUARTIC_LOCAL

pytestmark = pytest.mark.xdist_group("lessons")

# the lecture decks live in shared/ beside the project
DECK_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"
HALF_PI = math.pi / 2


# -- running each lesson once ---------------------------------------------------

@pytest.fixture(scope="module")
def store(tmp_path_factory) -> RunStore:
    return RunStore(tmp_path_factory.mktemp("lessons") / "runs.sqlite")


_OUTCOMES: dict[str, LessonOutcome] = {}


def outcome(lesson_id: str, store: RunStore) -> LessonOutcome:
    if lesson_id not in _OUTCOMES:
        with threadpool_limits(limits=1):  # small nets: one BLAS thread is several times faster
            _OUTCOMES[lesson_id] = lessons.run(lesson_id, store)
    return _OUTCOMES[lesson_id]


# -- helpers --------------------------------------------------------------------

def paths(o: LessonOutcome) -> list[np.ndarray]:
    """Trajectories in the order of the lesson's runs."""
    assert list(o.trajectories) == [r["label"] for r in o.lesson.setup["runs"]]
    return list(o.trajectories.values())


def results(o: LessonOutcome) -> list:
    """RunResults (first seed) in the order of the lesson's runs / variants / sizes."""
    return list(o.results.values())


def last_x(traj: np.ndarray) -> float:
    return float(traj[-1, 0])


def quartic_slope(x: float) -> float:
    return float(surfaces.get("quartic").extra["grad"](np.array([x]))[0])


def crossings(x: np.ndarray) -> int:
    """How often a sequence changes sign strictly (exact zeros do not count)."""
    return int(np.count_nonzero(x[:-1] * x[1:] < 0))


def jitter(values: np.ndarray, n: int = 5) -> float:
    """Mean absolute change over the last n steps."""
    return float(np.abs(np.diff(values[-(n + 1):])).mean())


def net_and_data(config):
    ds = data.load(config.dataset, config.dataset_params, config.val_fraction,
                   config.test_fraction, config.seed, config.dtype)
    net = MLP(ds.n_features, config.hidden, ds.n_outputs, config.activation, ds.output,
              config.batchnorm, config.dtype)
    return net, ds


def grad_norms(result, row: int) -> list[float]:
    h = result.history
    return [float(h[c].iloc[row]) for c in h.columns if c.startswith("grad_norm_")]


def val_metric(result) -> float:
    return float(result.history[f"val_{result.metric_name}"].iloc[-1])


def mean_best(o: LessonOutcome) -> list[float]:
    return [float(np.mean([r.best_val_loss for r in o.replicates[label]])) for label in o.results]


# -- the claims -----------------------------------------------------------------

CHECKS: dict[str, Callable[[LessonOutcome], None]] = {}


def check(lesson_id: str):
    def register(fn):
        assert lesson_id not in CHECKS, f"two checks for {lesson_id}"
        CHECKS[lesson_id] = fn
        return fn
    return register


@check("gd-local-minimum")
def _(o):
    (gd,) = paths(o)
    assert last_x(gd) == pytest.approx(-3.254993730859254, abs=1e-9)
    assert abs(last_x(gd) - QUARTIC_GLOBAL) > 6


@check("saddle-point")
def _(o):
    gd, adam = paths(o)
    assert np.abs(gd[:21, 1]).max() < 0.05  # steps 0..20 on the ridge
    assert np.linalg.norm(gd[20]) < 0.05  # next to the saddle at the origin
    assert abs(adam[20, 1]) > 1


@check("ravine")
def _(o):
    gd, mom = paths(o)
    np.testing.assert_allclose(np.abs(gd[-10:, 1]), 1.0, atol=1e-9)
    assert crossings(gd[-10:, 1]) == 9  # still bouncing wall to wall
    assert np.linalg.norm(mom[-1]) < 0.05


@check("convex-bowl")
def _(o):
    fast, slow = paths(o)
    assert np.linalg.norm(fast[-1] - HALF_PI) < 1e-3
    assert np.linalg.norm(slow[-1] - HALF_PI) > 0.3


@check("momentum-escapes")
def _(o):
    small, big = paths(o)
    assert last_x(small) == pytest.approx(QUARTIC_LOCAL, abs=1e-6)
    assert last_x(big) == pytest.approx(3.267681061691328, abs=1e-12)


@check("too-much-momentum")
def _(o):
    m90, m97, m99 = (p[:, 0] for p in paths(o))
    assert abs(m90[-1] - QUARTIC_GLOBAL) < 0.01
    assert m97.max() > QUARTIC_GLOBAL and m97[-1] < 0
    assert m99.max() > 5
    assert np.ptp(m99[-20:]) > 1


@check("nesterov-ravine")
def _(o):
    mom, nes = paths(o)
    assert crossings(mom[:, 1]) > 20
    assert crossings(nes[:, 1]) < 10
    assert np.linalg.norm(nes[-1]) < np.linalg.norm(mom[-1])


@check("nesterov-quartic")
def _(o):
    mom, nes = (p[:, 0] for p in paths(o))
    assert mom.max() > 4 and abs(mom[-1] - QUARTIC_GLOBAL) < 0.01
    assert nes.max() < 0 and abs(nes[-1] - QUARTIC_LOCAL) < 1e-6


@check("momentum-in-practice")
def _(o):
    m0, m5, m9, m99 = results(o)
    assert m9.best_val_loss < m5.best_val_loss < m0.best_val_loss
    assert m99.best_val_loss > m9.best_val_loss
    assert m99.history["val_loss"].iloc[-1] > 1.2 * m99.best_val_loss


@check("lr-decay-too-fast-too-slow")
def _(o):
    fast, right, slow = (p[:, 0] for p in paths(o))
    assert fast[-1] == pytest.approx(-1.9, abs=0.05)
    assert abs(fast[-1] - fast[-2]) < 1e-9  # frozen ...
    assert abs(quartic_slope(fast[-1])) > 0.5  # ... on a slope
    assert abs(right[-1] - QUARTIC_GLOBAL) < 1e-3
    assert abs(slow[-1] - QUARTIC_GLOBAL) > 0.2
    assert abs(slow[-1] - slow[-2]) > 0.1


@check("gradient-lr-control")
def _(o):
    gd, gentle, deck = (p[:, 0] for p in paths(o))
    assert not np.isfinite(gd[-1])
    assert abs(gentle[-1] - QUARTIC_GLOBAL) < 1e-3
    assert deck[-1] == pytest.approx(-2.79, abs=0.01)
    assert abs(deck[-1] - deck[-2]) < 1e-9
    assert abs(quartic_slope(deck[-1])) > 0.1


@check("decay-schedules")
def _(o):
    linear, constant, step, expo = runs = results(o)
    for r in runs:  # the lr column is the schedule
        c, h = r.config, r.history
        total = c.max_updates or c.epochs * int(r.timings["updates_per_epoch"])
        lr = schedules.preview(c.schedule, c.optimizer_params["lr"], total, **c.schedule_params)
        t = np.maximum(h["updates"].to_numpy(), 1)
        np.testing.assert_allclose(h["lr"].to_numpy(), lr[t - 1], rtol=1e-12)
    assert linear.history["lr"].iloc[-1] == pytest.approx(0.01 * 0.01)
    base = constant.history["val_loss"].to_numpy()
    for r in (linear, step, expo):
        v = r.history["val_loss"].to_numpy()
        assert jitter(v) < 0.5 * jitter(base), r.config.schedule
        assert v[-1] < base[-1], r.config.schedule


@check("adagrad-vs-rmsprop")
def _(o):
    ada, rms, adadelta = results(o)
    acc = ada.history["state_norm_sum"].to_numpy()
    assert np.all(np.diff(acc) >= 0)
    sq = rms.history["state_norm_square_avg"].to_numpy()
    assert sq[-1] < sq[1]

    def drop(r):
        u = r.history["update_ratio"].to_numpy()
        return u[1] / u[-1]

    assert drop(ada) > 5
    assert drop(ada) > 2 * drop(rms)
    assert adadelta.status == "completed"


@check("adam-bias-correction")
def _(o):
    adam, raw = paths(o)
    assert np.abs(np.diff(adam, axis=0)).max() <= 0.1 + 1e-12
    first = np.abs(raw[1] - raw[0])
    np.testing.assert_allclose(first / 0.1, (1 - 0.9) / math.sqrt(1 - 0.999), rtol=1e-4)
    assert raw[:, 1].min() < -1
    assert adam[:, 1].min() > -0.5


@check("no-free-lunch-digits")
def _(o):
    assert all(len(rs) == 3 for rs in o.replicates.values())
    assert all(len({r.config.seed for r in rs}) == 3 for rs in o.replicates.values())
    sgd, rms, adam = mean_best(o)
    assert adam < rms and adam < sgd  # Adam first
    assert sgd > rms  # SGD + momentum last


@check("no-free-lunch-circles")
def _(o):
    assert all(len(rs) == 3 for rs in o.replicates.values())
    sgd, rms, adam = mean_best(o)
    assert sgd < rms < adam  # the reverse of digits


@check("hand-picked-vs-tuned")
def _(o):
    from engine.sweep import sweep

    s = o.lesson.setup
    assert all(len({r.config.seed for r in rs}) == 3 for rs in o.replicates.values())
    momentum, rms, adam, momentum_t, rms_t, adam_t = mean_best(o)
    assert momentum > rms and adam > momentum and adam > 3 * rms  # Adam last at hand-picked rates
    assert adam_t < rms_t and adam_t < momentum_t  # and first at the tuned ones
    # the tuned rates are the equal-budget sweep's picks, and its re-runs are the lesson's runs
    names = [r["optimizer"] for r in s["runs"][:3]]
    base = RunConfig.from_dict({**s["config"], "seed": 0})
    tuning = {**lessons.TUNING_SWEEP,
              "space": {k: tuple(v) for k, v in lessons.TUNING_SWEEP["space"].items()}}
    with threadpool_limits(limits=1):
        result = sweep(base, names, orchestrator=Orchestrator(None), **tuning)
    assert list(result.leaderboard()["optimizer"])[0] == "adam"
    for r, label in zip(s["runs"][3:], list(o.replicates)[3:], strict=True):
        best = result.best[r["optimizer"]]
        assert best["optimizer_params"]["lr"] == r["params"]["lr"], r["label"]
        assert best["keys"] == [run.key for run in o.replicates[label]], r["label"]
        assert best["score_mean"] == pytest.approx(float(np.mean([run.best_val_loss
                                                                  for run in o.replicates[label]])))


@check("sgd-minibatch-batch")
def _(o):
    one, mini, full = results(o)
    n = int(full.config.batch_size)
    assert [r.config.mode for r in (one, mini, full)] == ["sgd", "minibatch", "batch"]
    assert o.timing["updates_per_epoch"].tolist() == [n, math.ceil(n / 32), 1]
    assert int(full.history["updates"].iloc[-1]) == 5
    v_full = full.history["val_loss"].iloc[-1]
    assert v_full > 2 and v_full > 4 * mini.history["val_loss"].iloc[-1]
    assert np.all(np.diff(mini.history["val_loss"].to_numpy()) < 0)
    assert np.any(np.diff(one.history["val_loss"].to_numpy()) > 0)


@check("batch-size-timing")
def _(o):
    t = o.timing
    sizes = o.lesson.setup["batch_sizes"]
    cfg = results(o)[0].config
    n_train = data.split_sizes(cfg.dataset, cfg.dataset_params, cfg.val_fraction, cfg.test_fraction)[0]
    assert len(t) == len(sizes) and t["batch_size"].tolist() == sizes
    assert t["updates_per_epoch"].tolist() == [math.ceil(n_train / b) for b in sizes]
    assert t["time_per_epoch_s"].gt(0).all()
    np.testing.assert_allclose(t["updates_per_s"], t["updates_per_epoch"] / t["time_per_epoch_s"])
    np.testing.assert_allclose(t["samples_per_s"], n_train / t["time_per_epoch_s"])
    # the claim is about counts: an epoch sees every sample, b = 16 makes 34× b = 1000's updates
    assert all(int(r.history["samples_seen"].iloc[-1]) == n_train * r.config.epochs for r in results(o))
    upe = dict(zip(t["batch_size"], t["updates_per_epoch"], strict=True))
    assert upe[16] == math.ceil(n_train / 16) and upe[1000] == 2 and upe[16] == 34 * upe[1000]
    # that time per epoch falls as the batch grows is the lesson's figure, not a test:
    # wall-clock comparisons fail on a busy machine


@check("exploding-gradients-clipping")
def _(o):
    clipped, raw = results(o)
    assert raw.status == "diverged"
    assert raw.diverged_at <= raw.timings["updates_per_epoch"]
    assert clipped.status == "completed"
    h = clipped.history
    assert np.isfinite(h.select_dtypes("number").to_numpy()).all()
    assert np.isfinite(clipped.params).all()
    cols = [c for c in h.columns if c.startswith("grad_norm_")]
    assert np.sqrt((h[cols] ** 2).sum(axis=1)).max() <= 1 + 1e-9
    assert h["val_loss"].iloc[-1] < 0.5 * h["val_loss"].iloc[0]


@check("vanishing-gradients")
def _(o):
    sig, relu = results(o)
    g_sig, g_relu = grad_norms(sig, 1), grad_norms(relu, 1)
    assert len(g_sig) == 9  # 8 hidden layers + output
    assert g_sig[0] < 1e-3 * g_sig[-1]
    assert g_relu[0] > 0.1 * g_relu[-1]
    assert val_metric(sig) < 0.2
    assert val_metric(relu) > 0.85


@check("zero-init-symmetry")
def _(o):
    zero, xavier = results(o)
    for r in (zero, xavier):
        net, _ = net_and_data(r.config)
        hidden, out = net.views(r.params)
        W1, b1, W2 = hidden["W"], hidden["b"], out["W"]
        if r is zero:
            scale = 1 + np.abs(W1).max()
            assert np.abs(W1).max() > 0  # the units did learn ...
            np.testing.assert_allclose(W1, W1[:, :1].repeat(W1.shape[1], 1), atol=1e-12 * scale)
            np.testing.assert_allclose(b1, b1[0], atol=1e-12 * scale)  # ... the same thing
            np.testing.assert_allclose(W2, W2[:1].repeat(W2.shape[0], 0), atol=1e-12 * (1 + np.abs(W2).max()))
        else:
            assert np.ptp(W1, axis=1).max() > 1e-2
    assert val_metric(zero) < 0.5
    assert val_metric(xavier) > 0.9


@check("batch-normalization")
def _(o):
    sig_bn, sig_raw, relu_bn, relu_raw = results(o)
    assert sig_bn.config.batchnorm and not sig_raw.config.batchnorm
    assert val_metric(sig_raw) < 0.2
    assert val_metric(sig_bn) > 0.9
    assert relu_bn.history["val_loss"].iloc[1] < relu_raw.history["val_loss"].iloc[1]


@check("adam-l2-vs-adamw")
def _(o):
    none, l2, adamw = results(o)
    norm = {id(r): float(np.linalg.norm(r.params)) for r in (none, l2, adamw)}
    assert norm[id(l2)] < 0.5 * norm[id(adamw)]
    assert 0.9 * norm[id(none)] < norm[id(adamw)] < norm[id(none)]
    assert l2.best_val_loss > adamw.best_val_loss


@check("early-stopping")
def _(o):
    es, raw = results(o)
    assert es.status == "early_stopped"
    stopped = int(es.history["epoch"].iloc[-1])
    assert stopped < es.config.epochs // 2
    assert es.best_epoch < stopped
    # the restored parameters are the best epoch's
    net, ds = net_and_data(es.config)
    val = float(net.loss(es.params, ds.X_val, ds.Y_val, es.model_state))
    assert val == pytest.approx(es.best_val_loss, rel=1e-9)
    assert raw.status == "completed" and int(raw.history["epoch"].iloc[-1]) == raw.config.epochs
    assert raw.history["val_loss"].iloc[-1] > 2 * raw.best_val_loss
    assert es.test_metrics["test_loss"] < raw.test_metrics["test_loss"]


@check("beyond-adam")
def _(o):
    adam, ams, nadam, radam, la, ab = runs = results(o)
    assert ams.config.optimizer_params["amsgrad"] and la.config.optimizer == "lookahead"
    for r in runs:
        assert val_metric(r) > 0.9, r.config.optimizer
    h = ams.history
    assert (h["state_norm_max_exp_avg_sq"] >= h["state_norm_exp_avg_sq"] - 1e-15).all()
    assert radam.history["update_ratio"].iloc[1] < 0.5 * adam.history["update_ratio"].iloc[1]


@check("second-order-lbfgs")
def _(o):
    lbfgs, mom, adam = paths(o)
    assert np.linalg.norm(lbfgs[-1] - 1) < 1e-3
    assert np.linalg.norm(mom[-1] - 1) > 0.3
    assert np.linalg.norm(adam[-1] - 1) > 0.3


@check("lr-too-large-too-small")
def _(o):
    small, right, large = paths(o)
    d0 = np.linalg.norm(small[0])
    assert np.linalg.norm(small[-1]) > 0.5 * d0
    assert np.linalg.norm(right[-1]) < 1e-6
    assert np.linalg.norm(large[-1]) == pytest.approx(1.5**50 * d0, rel=1e-9)
    f = surfaces.get("quadratic").extra["f"]
    assert f(large[-1]) > 1e17 * f(large[0])


@check("hessian-saddle-vs-minimum")
def _(o):
    fast, slow = paths(o)
    saddle = np.array(surfaces.get("himmelblau").extra["saddles"][0])
    eig_saddle, _ = surfaces.curvature("himmelblau", saddle)
    eig_min, _ = surfaces.curvature("himmelblau", [3.0, 2.0])
    assert eig_saddle[0] < 0 < eig_saddle[1]
    assert (eig_min > 0).all()
    np.testing.assert_allclose(eig_saddle, [-31.7, 75.5], atol=0.05)
    np.testing.assert_allclose(eig_min, [25.7, 82.3], atol=0.05)
    for p in (fast, slow):
        assert np.linalg.norm(p[-1] - [3.0, 2.0]) < 1e-3
    assert np.linalg.norm(slow[20] - saddle) < 0.5
    assert np.linalg.norm(fast[20] - saddle) > 0.5


@check("cliff-clipping")
def _(o):
    raw, clipped = paths(o)
    x_min = np.array(surfaces.get("cliff").extra["minima"][0])

    def steps(p):
        return np.linalg.norm(np.diff(p, axis=0), axis=1)

    def first_within(p, tol=1e-3):
        return int(np.argmax(np.linalg.norm(p - x_min, axis=1) < tol))

    assert steps(raw).max() > 15 and raw[:, 0].max() > 15
    assert first_within(raw) > 60
    assert steps(clipped).max() <= 0.3 + 1e-12
    assert clipped[:, 0].max() <= x_min[0] + 1e-9
    assert 0 < first_within(clipped) <= 60


@check("escape-local-minima")
def _(o):
    gd, mom, adam, lucky, unlucky = paths(o)
    f = surfaces.get("rastrigin").extra["f"]
    local = np.array([2.984855701039481, -2.984855701039481])
    for p in (gd, mom, adam):
        assert np.linalg.norm(p[-1] - local) < 1e-3
        assert f(p[-1]) == pytest.approx(17.909, abs=1e-3)
    assert np.linalg.norm(lucky[-1]) < 1e-3
    assert f(unlucky[-1]) > f(local) + 1


@check("terminal-velocity")
def _(o):
    gd, half, ninety = paths(o)
    alpha, g = 0.1, 0.5
    np.testing.assert_allclose(np.diff(gd[:, 0]), -alpha * g, rtol=1e-12)
    for p, phi in ((half, 0.5), (ninety, 0.9)):
        k = np.arange(1, len(p))
        np.testing.assert_allclose(-np.diff(p[:, 0]), alpha * g * (1 - phi**k) / (1 - phi), rtol=1e-9)
        assert abs(-(p[-1, 0] - p[-2, 0]) - alpha * g / (1 - phi)) < 1e-3


@check("momentum-deck-vs-torch-form")
def _(o):
    torch_c, deck_c, torch_k, deck_k = (p[:, 0] for p in paths(o))
    np.testing.assert_allclose(torch_c, deck_c, atol=1e-9)
    assert round(float(torch_k[-1]), 4) == 3.2767
    assert round(float(deck_k[-1]), 4) == 3.2429


@check("sgd-vs-adaptive-deck-settings")
def _(o):
    sgd, ada, rms, adam = runs = results(o)
    assert all(r.config.optimizer_params["weight_decay"] == 0.001 for r in runs)
    final = [float(r.history["val_loss"].iloc[-1]) for r in runs]
    assert final[2] == min(final) and final[3] == max(final)
    for r in (sgd, ada, rms):
        assert val_metric(r) > 0.9, r.config.optimizer


@check("deck000-four-optimizers")
def _(o):
    runs = results(o)
    assert all(r.config.mode == "batch" and int(r.history["updates"].iloc[-1]) == 200 for r in runs)
    gd, ada, rms, adam = (float(r.history["val_loss"].iloc[-1]) for r in runs)
    assert gd > ada > rms > adam
    assert gd > 0.69 and adam < 0.05


@check("adam-beta1-zero-is-rmsprop")
def _(o):
    adam, rms = paths(o)
    sa, sr = np.abs(np.diff(adam, axis=0)), np.abs(np.diff(rms, axis=0))
    np.testing.assert_allclose(sa[0], 0.05, rtol=1e-6)
    np.testing.assert_allclose(sr[0] / sa[0], 1 / math.sqrt(1 - 0.9), rtol=1e-6)
    assert abs(sr[19, 0] / sa[19, 0] - 1) < 0.05


@check("why-nonlinear-activations")
def _(o):
    linear, tanh, relu = results(o)
    net, ds = net_and_data(linear.config)
    z = net.logits(linear.params, ds.X_val, linear.model_state)
    A = np.hstack([ds.X_val, np.ones((len(ds.X_val), 1))])
    coef, *_ = np.linalg.lstsq(A, z, rcond=None)
    np.testing.assert_allclose(A @ coef, z, atol=1e-9 * (1 + np.abs(z).max()))  # an affine map
    assert val_metric(linear) < 0.6
    assert val_metric(tanh) > 0.95 and val_metric(relu) > 0.95


@check("batch-size-timing-large")
def _(o):
    t = o.timing
    big = results(o)[0]
    cfg = big.config
    n_train = data.split_sizes(cfg.dataset, cfg.dataset_params, cfg.val_fraction, cfg.test_fraction)[0]
    assert t["updates_per_epoch"].tolist() == [math.ceil(n_train / b) for b in (16, 100, 1000)]
    assert t["updates_per_epoch"].iloc[0] == 34 * t["updates_per_epoch"].iloc[-1]
    assert all(int(r.history["samples_seen"].iloc[-1]) == n_train for r in results(o))
    small_cfg = lessons.configs("batch-size-timing")[0]
    small, _ = net_and_data(small_cfg)
    large, _ = net_and_data(cfg)
    assert large.n_params > 400 * small.n_params
    # the deck's 784-512-512-512-10 weights, by its own sum
    assert 784 * 512 + 512**2 + 512**2 + 512 * 10 == 930_816 != 3_285_504


@pytest.mark.parametrize("lesson_id", list(lessons.LESSONS))
def test_claim(lesson_id, store):
    fn = CHECKS.get(lesson_id)
    if fn is None:
        pytest.fail(f"lesson {lesson_id!r} has no claim check: add one with @check({lesson_id!r}) "
                    "in tests/engine/test_lessons.py")
    fn(outcome(lesson_id, store))


def test_every_check_belongs_to_a_lesson():
    assert sorted(set(CHECKS) - set(lessons.LESSONS)) == []


# -- the registry as data ---------------------------------------------------------

def test_ids_are_unique_slugs():
    ids = [lesson.id for lesson in lessons.LESSONS.values()]
    assert ids == list(lessons.LESSONS)
    assert len(set(ids)) == len(ids)
    for i in ids:
        assert lessons._SLUG.match(i), i


def test_every_topic_and_page_is_covered():
    topics = lessons.by_topic()
    assert list(topics) == list(lessons.TOPICS)  # every topic has a lesson, in order
    assert sum(len(v) for v in topics.values()) == len(lessons.LESSONS)
    assert {lesson.page for lesson in lessons.LESSONS.values()} == set(lessons.PAGES)
    for lesson in lessons.LESSONS.values():
        assert lesson.page in lessons.PAGES
        assert lesson.deck_code in lessons.DECKS and lesson.deck == lessons.deck(lesson.deck_code)
        sentences = [s for s in lesson.explanation.replace("…", ".").split(". ") if s.strip()]
        assert 2 <= len(sentences) <= 5, lesson.id


def test_setups_are_json():
    for lesson in lessons.LESSONS.values():
        text = json.dumps(lesson.setup, allow_nan=False)
        assert json.loads(text) == lesson.setup, lesson.id  # no tuples, no NaN


@pytest.mark.skipif(not DECK_DIR.is_dir(), reason="the lecture decks are not on this machine")
def test_slides_are_quoted_from_their_deck():
    for lesson in lessons.LESSONS.values():
        (deck_file,) = DECK_DIR.glob(f"{lesson.deck_code}_*.txt")
        assert lesson.slide in deck_file.read_text(), (lesson.id, lesson.slide)


MINIMIZE_ARGS = ("clip_norm", "clip_value")  # minimize()'s own arguments, not optimizer hypers


def _check_optimizer(name: str, params: dict, where: str) -> None:
    assert name in optim.REGISTRY, where
    params = {k: v for k, v in params.items() if k not in MINIMIZE_ARGS}
    resolved = optim.REGISTRY[name].resolve(lessons._params(params), where)
    if "inner" in resolved:
        assert resolved["inner"] in optim.REGISTRY, where
        optim.REGISTRY[resolved["inner"]].resolve(resolved.get("inner_params", {}), where)
    optim.create(name, **resolved)


def test_every_name_is_registered():
    for lesson in lessons.LESSONS.values():
        s = lesson.setup
        if lesson.page == "playground":
            spec = surfaces.get(s["surface"])
            assert len(s.get("x0", spec.extra["start"])) == spec.extra["dim"], lesson.id
            scheds = [s.get("schedule")] + [r.get("schedule") for r in s["runs"]]
            for r in s["runs"]:
                _check_optimizer(r["optimizer"], r.get("params", {}), lesson.id)
            for sch in filter(None, scheds):
                schedules.REGISTRY[sch["name"]].resolve(sch.get("params", {}), lesson.id)
            assert lessons.configs(lesson) == []
            continue
        cfgs = lessons.configs(lesson)  # RunConfig validates every field
        assert cfgs, lesson.id
        for c in cfgs:
            assert c.dataset in data.REGISTRY
            assert c.optimizer in optim.REGISTRY
            assert c.schedule in schedules.REGISTRY
            assert c.activation in nn.ACTIVATIONS
            assert c.initializer in nn.INITIALIZERS
        for r in s.get("runs", ()):
            _check_optimizer(r["optimizer"], r.get("params", {}), lesson.id)


def test_configs_name_what_pages_default_differently():
    # the pages' own defaults differ from RunConfig's (e.g. Modes trains 10 epochs), so a
    # lesson always says which data, model, optimizer and budget it means
    for lesson in lessons.LESSONS.values():
        if lesson.page != "playground":
            assert {"dataset", "hidden", "epochs", "optimizer"} <= set(lesson.setup["config"]), lesson.id


def test_configs_follow_the_pages_rules():
    nfl = lessons.get("no-free-lunch-digits")
    cfgs = lessons.configs(nfl)
    assert len(cfgs) == 3 * 3
    assert [c.seed for c in cfgs[:3]] == [0, 1, 2]
    modes = lessons.configs("sgd-minibatch-batch")
    assert [c.mode for c in modes] == ["sgd", "minibatch", "batch"]
    assert [c.batch_size for c in modes[:2]] == [1, 32]
    train = lessons.configs("exploding-gradients-clipping")
    assert [c.clip_norm for c in train] == [1.0, 0.0]
    # partial configs: RunConfig's defaults fill the rest, so a page that sends every field
    # (as the sidebar does) opens the same run
    for c in lessons.configs("adam-l2-vs-adamw"):
        assert RunConfig(**{**c.to_dict(), "hidden": tuple(c.hidden)}).key() == c.key()


def test_get_and_errors():
    assert lessons.get("ravine").page == "playground"
    with pytest.raises(ValueError, match="not known; allowed: gd-local-minimum"):
        lessons.get("no-such-lesson")
    with pytest.raises(ValueError, match="has no trajectories"):
        lessons.trajectories("early-stopping")
    good = lessons.get("ravine")
    with pytest.raises(ValueError, match="page"):
        lessons.Lesson(**{**vars(good), "id": "x", "page": "runs"})
    with pytest.raises(ValueError, match="slug"):
        lessons.Lesson(**{**vars(good), "id": "Not A Slug"})
    with pytest.raises(ValueError, match="JSON"):
        lessons.Lesson(**{**vars(good), "id": "x", "setup": {**good.setup, "x0": np.zeros(2)}})
    with pytest.raises(ValueError, match="setup has keys"):
        lessons.Lesson(**{**vars(good), "id": "x", "setup": {"surface": "ravine"}})
    twice = {**good.setup, "runs": [good.setup["runs"][0]] * 2}
    with pytest.raises(ValueError, match="labels must be unique"):
        lessons.Lesson(**{**vars(good), "id": "x", "setup": twice})
    modes = lessons.get("sgd-minibatch-batch")
    with pytest.raises(ValueError, match="batch_sizes"):
        lessons.Lesson(**{**vars(modes), "setup": {**modes.setup, "batch_sizes": [0, "full"]}})


# -- warm-up and the cache -------------------------------------------------------

class Refusing(Executor):
    """An executor for runs that must all be stored already."""

    def run(self, groups, progress=None, should_stop=None):
        raise AssertionError(f"a warmed lesson must not train: {groups}")


class Recording(InlineExecutor):
    """The inline executor, remembering the groups it trained."""

    def __init__(self):
        self.groups = []

    def run(self, groups, progress=None, should_stop=None):
        self.groups.extend(groups)
        return super().run(groups, progress, should_stop)


def test_warm_fills_the_store_and_lessons_then_train_nothing(store):
    with threadpool_limits(limits=1):
        lessons.warm(store)
    assert lessons.warm(store) == 0  # everything is stored now
    for lesson in lessons.LESSONS.values():
        for c in lessons.configs(lesson):
            assert c.key() in store

    orch = Orchestrator(store, Refusing())
    for lesson in lessons.LESSONS.values():
        o = lessons.run(lesson, orch)
        assert o.trained == 0
        if lesson.page != "playground":
            assert {r.key for r in o.results.values()} <= {c.key() for c in lessons.configs(lesson)}
    assert orch.trained == 0


def test_run_reads_back_what_it_stored(tmp_path):
    fresh = RunStore(tmp_path / "runs.sqlite")
    with threadpool_limits(limits=1):
        first = lessons.run("zero-init-symmetry", fresh)
        second = lessons.run("zero-init-symmetry", Orchestrator(fresh, Refusing()))
    assert first.trained == 2 and second.trained == 0
    for a, b in zip(first.results.values(), second.results.values(), strict=True):
        assert a.key == b.key
        np.testing.assert_array_equal(a.params, b.params)
    labels = set(fresh.list()["label"])
    assert all(lab.startswith("Lesson · ") for lab in labels)


def test_warm_in_parallel(tmp_path):
    fresh = RunStore(tmp_path / "runs.sqlite")
    chosen = ["exploding-gradients-clipping", "zero-init-symmetry"]
    keys = [c.key() for lesson_id in chosen for c in lessons.configs(lesson_id)]
    assert lessons.warm(fresh, jobs=2, lessons=chosen) == len(keys) == 4
    assert all(k in fresh for k in keys)
    assert lessons.warm(fresh, jobs=2, lessons=chosen) == 0


def test_warm_cli(store, monkeypatch, capsys):
    with threadpool_limits(limits=1):
        lessons.warm(store)
    monkeypatch.setenv("OPTLAB_STORE", str(store.path))
    assert lessons.warm_cli(Namespace(jobs=1)) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(lessons.LESSONS) + 1
    for line, lesson_id in zip(lines, lessons.LESSONS, strict=False):
        assert line.startswith(lesson_id)
    assert "0 runs trained" in lines[-1]


def test_run_trains_the_missing_runs_in_one_stacked_call(tmp_path):
    from engine.train import train

    fresh = RunStore(tmp_path / "runs.sqlite")
    recording = Recording()
    with threadpool_limits(limits=1):
        stacked = lessons.run("adagrad-vs-rmsprop", Orchestrator(fresh, recording))
        alone = {label: train(r.config) for label, r in stacked.results.items()}
        again = lessons.run("adagrad-vs-rmsprop", Orchestrator(fresh, recording))
    assert [len(g) for g in recording.groups] == [3] and stacked.trained == 3
    assert again.trained == 0 and len(recording.groups) == 1
    assert list(stacked.results) == list(alone)
    for label, r in stacked.results.items():
        assert r.timings["stacked_runs"] == 3.0
        np.testing.assert_array_equal(r.params, alone[label].params)
        assert r.key in fresh


def test_bias_correction_factors():
    f = lessons.bias_correction(0.9, np.arange(1, 101))
    assert f[0] == pytest.approx(10.0) and f[1] == pytest.approx(1 / (1 - 0.81))
    assert np.all(np.diff(f) < 0) and f[-1] == pytest.approx(1.0, abs=1e-4)
    # deck 004: E[m_t] = (1 − β^t)·E[g] for a constant gradient, undone by the factor
    m, g = 0.0, 2.5
    for t in range(1, 30):
        m = 0.9 * m + 0.1 * g
        assert m * lessons.bias_correction(0.9, t) == pytest.approx(g, rel=1e-12)
    assert lessons.bias_correction(0.0, [1, 5]).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="beta"):
        lessons.bias_correction(1.0, 3)
    with pytest.raises(ValueError, match="t:"):
        lessons.bias_correction(0.9, 0)


# -- the coverage table in the docs ------------------------------------------------

COVERAGE = Path(__file__).resolve().parents[2] / "docs" / "deck_coverage.md"


def coverage_rows() -> list[list[str]]:
    rows = []
    for line in COVERAGE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.replace("\\|", "¦").strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 5 and cells[0].isdigit():
            rows.append(cells)
    return rows


def test_coverage_table_names_real_lessons():
    rows = coverage_rows()
    assert len(rows) > 40
    for deck_code, slide, what, lesson_id, notes in rows:
        assert deck_code in lessons.DECKS, (deck_code, slide)
        assert what and slide, (deck_code, slide)
        if lesson_id == "—":
            assert notes, f"{deck_code} {slide}: a row without a lesson must say why"
        else:
            assert lesson_id in lessons.LESSONS, f"{lesson_id!r} is not a lesson"


def test_every_lesson_is_in_the_coverage_table():
    named = {row[3] for row in coverage_rows()}
    assert sorted(set(lessons.LESSONS) - named) == []
