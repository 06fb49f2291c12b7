"""minimize(): deck 000 trajectories, schedules, divergence and the saddle."""

import warnings

import numpy as np
import pytest

from engine import optim
from engine.minimize import minimize, minimize_many
from engine.surfaces import REGISTRY as SURFACES

# The deck's printed results (deck 000, SUTD 50.039 week 2).
GLOBAL_MIN = 3.2727653395584366
LOCAL_MIN = -3.254993730859254
MOMENTUM_09_FROM_MINUS_5 = 3.267681061691328


def obj_fun_deriv(val):
    # deck 000, typed from the slide
    a4, a3, a2, a1 = 319 / 8400, 43 / 4200, -6799 / 8400, -299 / 840
    return 4 * a4 * val**3 + 3 * a3 * val**2 + 2 * a2 * val + a1


def vanilla_gd_lrdecay(start_val, alpha=0.1, alpha_decay_fac=0.99, n_iter=100):
    val = start_val
    list_vals = [val]
    for _ in range(n_iter):
        alpha *= alpha_decay_fac
        val += -alpha * obj_fun_deriv(val)
        list_vals.append(val)
    return val, list_vals


def momentum_gd(start_val, alpha=0.1, mu=0.1, n_iter=100):
    val = start_val
    mom = 0
    list_vals = [val]
    for _ in range(n_iter):
        grad = -alpha * obj_fun_deriv(val)
        mom = mu * mom + grad
        val += mom
        list_vals.append(val)
    return val, list_vals


# -- deck 000 ----------------------------------------------------------------------

def test_gd_from_5_finds_the_global_minimum():
    traj = minimize("quartic", "gd", [5.0], 100, lr=0.1)
    assert traj.shape == (101, 1)
    assert traj[-1, 0] == pytest.approx(GLOBAL_MIN, abs=1e-9)


def test_gd_from_minus_5_is_trapped_in_the_local_minimum():
    traj = minimize("quartic", "gd", [-5.0], 100, lr=0.1)
    assert traj[-1, 0] == pytest.approx(LOCAL_MIN, abs=1e-9)


def test_sgd_momentum_09_from_minus_5_escapes():
    traj = minimize("quartic", "sgd", [-5.0], 100, lr=0.1, momentum=0.9)
    assert traj[-1, 0] == pytest.approx(MOMENTUM_09_FROM_MINUS_5, abs=1e-9)


@pytest.mark.parametrize("start, mu", [(5.0, 0.1), (-5.0, 0.1), (-5.0, 0.9)])
def test_momentum_preset_follows_the_deck_loop(start, mu):
    _, vals = momentum_gd(start, alpha=0.1, mu=mu, n_iter=100)
    traj = minimize("quartic", "momentum", [start], 100, lr=0.1, momentum=mu)
    np.testing.assert_allclose(traj[:, 0], vals, rtol=0, atol=1e-9)


@pytest.mark.parametrize("start", [5.0, -5.0, 0.5])
def test_exponential_schedule_is_the_deck_lrdecay_loop(start):
    _, vals = vanilla_gd_lrdecay(start, alpha=0.1, alpha_decay_fac=0.99, n_iter=100)
    traj = minimize("quartic", "gd", [start], 100, schedule="exponential",
                    schedule_params={"gamma": 0.99}, lr=0.1)
    np.testing.assert_allclose(traj[:, 0], vals, rtol=1e-12, atol=1e-13)


# -- schedules reach the optimizer ------------------------------------------------

@pytest.mark.parametrize("schedule, params", [
    ("step", {"step_size": 2, "gamma": 0.5}),
    ("linear", {"tau": 4, "final_fraction": 0.25}),
    ("inverse_time", {"decay": 1.0}),
])
def test_update_t_uses_schedule_of_t(schedule, params):
    # on ½‖x‖² the gradient is x, so GD gives x_t = x_{t−1}·(1 − lr_t)
    lr = 0.4
    lrs = {
        "step": [0.4, 0.4, 0.2, 0.2, 0.1, 0.1],
        "linear": [0.75 * 0.4 + 0.25 * 0.1, 0.5 * 0.4 + 0.5 * 0.1,
                   0.25 * 0.4 + 0.75 * 0.1, 0.1, 0.1, 0.1],
        "inverse_time": [0.4 / t for t in range(1, 7)],
    }[schedule]
    x0 = np.array([1.0, -2.0])
    traj = minimize("quadratic", "gd", x0, 6, schedule=schedule, schedule_params=params, lr=lr)
    want = x0 * np.cumprod([1.0] + [1 - a for a in lrs])[:, None]
    np.testing.assert_allclose(traj, want, rtol=1e-13)


def test_plateau_schedule_is_fed_the_loss():
    # lr 2 on ½x² flips x -> −x, so f never improves; patience 0 drops the lr
    # to 0.2 after the second update, then x shrinks by 0.8 per update.
    traj = minimize("quadratic", "gd", [1.0, 1.0], 5, schedule="plateau",
                    schedule_params={"factor": 0.1, "patience": 0}, lr=2.0)
    np.testing.assert_allclose(traj[:, 0], [1, -1, 1, 0.8, 0.64, 0.512], rtol=1e-13)


# -- shape, start, divergence ---------------------------------------------------------

@pytest.mark.parametrize("name", list(SURFACES))
def test_shape_and_first_row(name):
    ex = SURFACES[name].extra
    traj = minimize(name, "gd", None, 7, lr=1e-3)
    assert traj.shape == (8, ex["dim"]) and traj.dtype == np.float64
    np.testing.assert_array_equal(traj[0], ex["start"])
    assert minimize(name, "gd", None, 0).shape == (1, ex["dim"])


def test_x0_is_not_modified():
    x0 = np.array([-1.2, 1.0])
    minimize("rosenbrock", "momentum", x0, 20, lr=1e-3)
    np.testing.assert_array_equal(x0, [-1.2, 1.0])


def test_divergence_gives_nan_rows_without_exception_or_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = minimize("rosenbrock", "gd", [-1.2, 1.0], 50, lr=10.0)
    assert traj.shape == (51, 2)
    np.testing.assert_array_equal(traj[0], [-1.2, 1.0])
    bad = ~np.isfinite(traj).all(axis=1)
    assert bad.any()
    first = int(np.argmax(bad))
    assert first > 0
    assert np.isnan(traj[first:]).all()  # NaN from the first non-finite iterate on
    assert np.isfinite(traj[:first]).all()


def test_gd_stalls_near_the_saddle_then_escapes():
    # f = x1² − x2²: GD with lr 0.1 multiplies x1 by 0.8 and x2 by 1.2 per step
    traj = minimize("saddle", "gd", [1.0, 1e-6], 100, lr=0.1)
    t = np.arange(101)
    np.testing.assert_allclose(traj[:, 0], 0.8**t, rtol=1e-12)
    np.testing.assert_allclose(traj[:, 1], 1e-6 * 1.2**t, rtol=1e-12)
    # first 30 steps: x1 has almost reached the saddle, x2 is still ≈ 0
    assert np.abs(traj[:31, 1]).max() < 1e-3
    assert abs(traj[30, 0]) < 2e-3
    assert abs(traj[100, 1]) > 10  # ... and eventually it escapes


def test_saddle_exactly_on_the_ridge_converges_to_the_saddle():
    traj = minimize("saddle", "gd", [1.0, 0.0], 200, lr=0.1)
    assert np.abs(traj[-1]).max() < 1e-12


# -- optimizers ----------------------------------------------------------------------

@pytest.mark.parametrize("name", list(optim.REGISTRY))
def test_every_registered_optimizer_runs(name):
    traj = minimize("quadratic", name, None, 25)
    assert traj.shape == (26, 2)
    np.testing.assert_array_equal(traj[0], SURFACES["quadratic"].extra["start"])
    assert np.isfinite(traj).all()


def test_closure_returns_loss_and_gradient_at_the_given_point(monkeypatch):
    seen = []

    class ClosureOnly(optim.Optimizer):
        name = "closure_only"

        def step(self, params, grad, state, closure=None):
            probe = params + 0.5
            loss, g = closure(probe)
            seen.append((probe, loss, g))
            params -= self.lr * closure(params)[1]

    real_create = optim.create
    monkeypatch.setattr(optim, "create", lambda name, **hp: ClosureOnly(lr=hp.get("lr", 0.1))
                        if name == "closure_only" else real_create(name, **hp))
    traj = minimize("rosenbrock", "closure_only", [0.0, 0.0], 3, lr=1e-3)
    ex = SURFACES["rosenbrock"].extra
    for probe, loss, g in seen:
        assert loss == ex["f"](probe)
        np.testing.assert_array_equal(g, ex["grad"](probe))
    assert len(seen) == 3 and np.isfinite(traj).all()


@pytest.mark.skipif("lbfgs" not in optim.REGISTRY, reason="lbfgs not registered yet")
def test_lbfgs_uses_the_closure_and_converges_on_the_bowl():
    traj = minimize("quadratic", "lbfgs", [2.0, -1.0], 3)
    assert np.abs(traj[-1]).max() < 1e-6


# -- errors and conveniences ------------------------------------------------------------

def test_bad_names_raise_listing_known_names():
    with pytest.raises(ValueError, match="surface: 'nope' is not known; allowed: .*rosenbrock"):
        minimize("nope", "gd", None, 5)
    with pytest.raises(ValueError, match="optimizer: 'nope' is not known; allowed: .*gd"):
        minimize("quadratic", "nope", None, 5)
    with pytest.raises(ValueError, match="schedule: 'nope' is not known; allowed: .*cosine"):
        minimize("quadratic", "gd", None, 5, schedule="nope")
    with pytest.raises(ValueError, match=r"schedule_params\.gamma"):
        minimize("quadratic", "gd", None, 5, schedule="exponential", schedule_params={"gamma": 3})
    with pytest.raises(ValueError, match=r"optimizer_params\.lr"):
        minimize("quadratic", "gd", None, 5, lr=-1.0)
    with pytest.raises(ValueError, match="x0"):
        minimize("quadratic", "gd", [1.0, 2.0, 3.0], 5)
    with pytest.raises(ValueError, match="steps"):
        minimize("quadratic", "gd", None, -1)


def test_minimize_many_equals_single_runs():
    runs = [("gd", {"lr": 0.1}), ("momentum", {"lr": 0.1, "momentum": 0.9}),
            ("gd", {"lr": 0.1, "schedule": "exponential", "schedule_params": {"gamma": 0.9}})]
    many = minimize_many("quartic", runs, [-5.0], 40)
    assert len(many) == 3
    np.testing.assert_array_equal(many[0], minimize("quartic", "gd", [-5.0], 40, lr=0.1))
    np.testing.assert_array_equal(
        many[1], minimize("quartic", "momentum", [-5.0], 40, lr=0.1, momentum=0.9))
    np.testing.assert_array_equal(
        many[2], minimize("quartic", "gd", [-5.0], 40, schedule="exponential",
                          schedule_params={"gamma": 0.9}, lr=0.1))


# -- gradient clipping, as in training ---------------------------------------------

def test_clip_norm_caps_every_gd_step_by_hand():
    traj = minimize("cliff", "gd", [-2.5, 1.0], 30, clip_norm=1.0, lr=0.3)
    grad = SURFACES["cliff"].extra["grad"]
    x = np.array([-2.5, 1.0])
    for t in range(1, 31):
        g = grad(x)
        n = np.linalg.norm(g)
        if n > 1.0:
            g = g / n                     # deck 001: ∇θ ← h∇θ/‖∇θ‖ with h = 1
        x = x - 0.3 * g
        np.testing.assert_allclose(traj[t], x, rtol=0, atol=1e-12)
    assert np.linalg.norm(np.diff(traj, axis=0), axis=1).max() <= 0.3 + 1e-12


def test_clip_value_clips_each_coordinate_then_the_norm():
    x0 = np.array([3.0, -2.0])             # ravine gradient (3, −40)
    one = minimize("ravine", "gd", x0, 1, clip_value=5.0, lr=0.1)[1]
    np.testing.assert_allclose(one, x0 - 0.1 * np.array([3.0, -5.0]), atol=1e-15)
    both = minimize("ravine", "gd", x0, 1, clip_value=5.0, clip_norm=1.0, lr=0.1)[1]
    g = np.array([3.0, -5.0]) / np.hypot(3.0, 5.0)
    np.testing.assert_allclose(both, x0 - 0.1 * g, atol=1e-15)


def test_clipping_matches_training_semantics():
    from engine.loop.update import clip

    rng = np.random.default_rng(0)
    for _ in range(20):
        g = rng.normal(size=5) * 10
        ours = g.copy()
        clip(ours, 3.0, 2.0)  # the one clipping function: by value 3, then by norm 2
        expected = np.clip(g, -3.0, 3.0)   # engine.train: value first, then the norm
        if np.linalg.norm(expected) > 2.0:
            expected = expected * 2.0 / np.linalg.norm(expected)
        np.testing.assert_allclose(ours, expected, rtol=1e-15)


def test_no_clipping_by_default_and_below_the_threshold():
    a = minimize("quartic", "gd", [-5.0], 50, lr=0.1)
    np.testing.assert_array_equal(a, minimize("quartic", "gd", [-5.0], 50, clip_norm=0.0, lr=0.1))
    # the quartic's slope from 0.5 onwards stays below 1e3: a huge threshold changes nothing
    np.testing.assert_array_equal(minimize("quartic", "gd", [0.5], 50, lr=0.1),
                                  minimize("quartic", "gd", [0.5], 50, clip_norm=1e3, lr=0.1))


def test_cliff_catapults_gd_unless_clipped():
    raw = minimize("cliff", "gd", [-2.5, 1.0], 100, lr=0.3)
    clipped = minimize("cliff", "gd", [-2.5, 1.0], 100, lr=0.3, clip_norm=1.0)
    assert raw[:, 0].max() > 15 > clipped[:, 0].max()


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "x", True])
def test_bad_clip_arguments_name_the_field(bad):
    with pytest.raises(ValueError, match="clip_norm: .* allowed: a number in"):
        minimize("quartic", "gd", [-5.0], 3, clip_norm=bad)
    with pytest.raises(ValueError, match="clip_value: .* allowed: a number in"):
        minimize("quartic", "gd", [-5.0], 3, clip_value=bad)


def test_minimize_many_passes_clipping_through():
    (a,) = minimize_many("cliff", [("gd", {"lr": 0.3, "clip_norm": 1.0})], [-2.5, 1.0], 20)
    np.testing.assert_array_equal(a, minimize("cliff", "gd", [-2.5, 1.0], 20, clip_norm=1.0, lr=0.3))
