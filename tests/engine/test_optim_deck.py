"""The lecture decks' 1-D experiments, reproduced with the registered optimizers.

Deck 000 (SUTD 50.039, week 2) minimises the quartic
f(x) = 319/8400 x⁴ + 43/4200 x³ − 6799/8400 x² − 299/840 x + 6, whose global
minimum is at x ≈ 3.27 and a local one at x ≈ −3.25, and prints the results
checked below.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.optim import create


def obj_fun_deriv(val):
    """The deck's derivative, verbatim (Python floats)."""
    a4 = 319 / 8400
    a3 = 43 / 4200
    a2 = -6799 / 8400
    a1 = -299 / 840
    return 4 * a4 * val**3 + 3 * a3 * val**2 + 2 * a2 * val + a1


def vanilla_gd_gradlr(start_val, alpha=0.1, alpha_control_fac=0.99, n_iter=100):
    """The deck's loop, verbatim."""
    val = start_val
    list_vals = [val]
    for _ in range(n_iter):
        grad = obj_fun_deriv(val)
        alpha *= 1 / (1 + alpha_control_fac * np.sqrt(np.abs(grad)))
        val += -alpha * grad
        list_vals.append(val)
    return val, list_vals


def run_1d(name, x0, n_iter=100, **hp):
    x = np.array([x0], dtype=np.float64)
    opt = create(name, **hp)
    state = opt.init(x)
    vals = [x0]
    for _ in range(n_iter):
        opt.step(x, np.array([obj_fun_deriv(float(x[0]))]), state)
        vals.append(float(x[0]))
    return vals


@pytest.mark.parametrize("x0,expected", [(5, 3.2727653395584366), (-5, -3.254993730859254)])
def test_vanilla_gd(x0, expected):
    assert run_1d("gd", x0, lr=0.1)[-1] == expected  # bit for bit


@pytest.mark.parametrize("x0,mu,expected", [
    (5, 0.1, 3.272765339558436),      # case 1: good start
    (-5, 0.1, -3.254993730859254),    # case 2: stuck in the local minimum
    (-5, 0.9, 3.267681061691328),     # case 3: momentum escapes it
])
def test_momentum_gd(x0, mu, expected):
    assert run_1d("momentum", x0, lr=0.1, momentum=mu)[-1] == pytest.approx(expected, abs=1e-9)


def test_momentum_gd_matches_the_deck_loop_while_lr_is_constant():
    val, mom, vals = -5.0, 0.0, []
    for _ in range(100):
        mom = 0.9 * mom + -0.1 * obj_fun_deriv(val)
        val += mom
        vals.append(val)
    np.testing.assert_allclose(run_1d("momentum", -5, lr=0.1, momentum=0.9)[1:], vals, atol=1e-9)


def test_nesterov_matches_the_deck_loop():
    val, mom, vals = -5.0, 0.0, []
    for _ in range(100):
        grad = -0.1 * obj_fun_deriv(val)
        mom = 0.5 * mom + grad
        val += 0.5 * mom + grad
        vals.append(val)
    np.testing.assert_allclose(run_1d("nesterov", -5, lr=0.1, momentum=0.5)[1:], vals, atol=1e-9)


@pytest.mark.parametrize("x0", [5.0, -5.0, 0.5, -2.0])
@pytest.mark.parametrize("control", [0.99, 0.1])
def test_gradlr_reproduces_vanilla_gd_gradlr_exactly(x0, control):
    _, deck = vanilla_gd_gradlr(x0, alpha=0.1, alpha_control_fac=control)
    ours = run_1d("gradlr", x0, lr=0.1, control=control)
    assert ours == deck  # bit for bit, every iterate


def test_adagrad_deck_form_is_eps_inside_sqrt():
    # deck 000's AdaGrad: G += g²; W -= α·g / sqrt(G + eps), eps = 1e-6
    val, big_g, vals = 0.5, 0.0, []
    for _ in range(50):
        g = obj_fun_deriv(val)
        big_g += g**2
        val -= 0.5 * g / np.sqrt(big_g + 1e-6)
        vals.append(val)
    ours = run_1d("adagrad_book", 0.5, 50, lr=0.5, eps=1e-6, eps_inside_sqrt=True)[1:]
    np.testing.assert_allclose(ours, vals, atol=1e-12)


def test_rmsprop_deck_form_is_the_book_form():
    # deck 000's RMSProp: G = (1 − ρ)g² + ρG; W -= α·g / sqrt(G + eps)
    rho, val, big_g, vals = 0.1, 0.5, 0.0, []
    for _ in range(50):
        g = obj_fun_deriv(val)
        big_g = (1 - rho) * g**2 + rho * big_g
        val -= 0.05 * g / np.sqrt(big_g + 1e-6)
        vals.append(val)
    ours = run_1d("rmsprop_book", 0.5, 50, lr=0.05, rho=rho, eps=1e-6)[1:]
    np.testing.assert_allclose(ours, vals, atol=1e-12)


def momentum_gd_lrdecay(start_val, alpha, mu, decay, n_iter=100):
    """Deck 000's momentum_gd with its α ← K·α decay before every update."""
    val, mom = start_val, 0
    for _ in range(n_iter):
        alpha *= decay
        grad = -alpha * obj_fun_deriv(val)
        mom = mu * mom + grad
        val += mom
    return val


@pytest.mark.parametrize("x0,mu", [(5, 0.1), (-5, 0.1), (-5, 0.9)])
def test_momentum_deck_reproduces_momentum_gd_bit_for_bit(x0, mu):
    expected = momentum_gd_lrdecay(float(x0), 0.1, mu, 1.0)
    assert run_1d("momentum_deck", x0, lr=0.1, momentum=mu)[-1] == expected


def test_momentum_deck_follows_the_deck_loop_under_decay_and_torch_form_does_not():
    from engine.minimize import minimize

    deck = momentum_gd_lrdecay(-5.0, 0.1, 0.9, 0.97)
    kw = {"schedule": "exponential", "schedule_params": {"gamma": 0.97}, "lr": 0.1, "momentum": 0.9}
    assert minimize("quartic", "momentum_deck", [-5.0], 100, **kw)[-1, 0] == pytest.approx(deck, abs=1e-12)
    assert abs(minimize("quartic", "momentum", [-5.0], 100, **kw)[-1, 0] - deck) > 0.03
