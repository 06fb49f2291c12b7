"""The first steps of every optimizer, checked against updates worked out by hand.

The expected values are written with the textbook formulas (β·m + (1 − β)·g,
m̂ = m / (1 − βᵗ), ...), not with the engine's op order, in float64. Big-eps
cases (ε = 0.1 or 0.5) make a misplaced ε visible.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.optim import create

X0 = np.array([1.0, -0.5, 0.25, 2.0])
G = [
    np.array([0.5, -1.2, 2.0, 0.01]),
    np.array([0.3, 0.8, -1.5, 0.02]),
    np.array([-0.2, 0.5, 1.0, -0.03]),
]
TOL = 1e-12


def run(name, steps=3, grads=G, x0=X0, **hp):
    """Our trajectory [θ1, θ2, ...] with the fixed gradients ``grads``."""
    x = x0.copy()
    opt = create(name, **hp)
    state = opt.init(x)
    out = []
    for g in grads[:steps]:
        opt.step(x, g.copy(), state)
        out.append(x.copy())
    return out


def check(ours, expected):
    assert len(ours) == len(expected)
    for k, (a, b) in enumerate(zip(ours, expected, strict=True)):
        assert np.max(np.abs(a - b)) <= TOL, f"step {k + 1}: {a} != {b}"


# -- SGD ---------------------------------------------------------------------

def test_sgd_plain():
    lr = 0.1
    x1 = X0 - lr * G[0]
    x2 = x1 - lr * G[1]
    check(run("sgd", 2, lr=lr), [x1, x2])


def test_sgd_momentum_dampening_first_buffer_is_the_gradient():
    lr, mu, tau = 0.1, 0.9, 0.3
    b = G[0]                         # no dampening on the first step
    x1 = X0 - lr * b
    b = mu * b + (1 - tau) * G[1]
    x2 = x1 - lr * b
    b = mu * b + (1 - tau) * G[2]
    x3 = x2 - lr * b
    check(run("sgd", lr=lr, momentum=mu, dampening=tau), [x1, x2, x3])


def test_sgd_nesterov_weight_decay_maximize():
    lr, mu, wd = 0.1, 0.8, 0.2
    x, b, out = X0.copy(), None, []
    for g in G:
        g = -g + wd * x              # maximize flips the gradient, then L2 is added
        b = g if b is None else mu * b + g
        x = x - lr * (g + mu * b)
        out.append(x)
    check(run("sgd", lr=lr, momentum=mu, nesterov=True, weight_decay=wd, maximize=True), out)


# -- AdaGrad -----------------------------------------------------------------

@pytest.mark.parametrize("eps", [1e-10, 0.5])
def test_adagrad_eps_outside_sqrt(eps):
    lr = 0.1
    s = G[0] ** 2
    x1 = X0 - lr * G[0] / (np.sqrt(s) + eps)
    s = s + G[1] ** 2
    x2 = x1 - lr * G[1] / (np.sqrt(s) + eps)
    check(run("adagrad", 2, lr=lr, eps=eps), [x1, x2])


def test_adagrad_lr_decay_initial_accumulator_weight_decay():
    lr, decay, acc, wd, eps = 0.1, 0.5, 0.3, 0.2, 1e-10
    x, s, out = X0.copy(), np.full(4, acc), []
    for t, g in enumerate(G, start=1):
        g = g + wd * x
        s = s + g * g
        x = x - lr / (1 + (t - 1) * decay) * g / (np.sqrt(s) + eps)
        out.append(x)
    check(run("adagrad", lr=lr, lr_decay=decay, initial_accumulator_value=acc, weight_decay=wd), out)


@pytest.mark.parametrize("inside", [False, True])
def test_adagrad_book(inside):
    lr, delta = 0.1, 0.5
    r = G[0] ** 2
    den = np.sqrt(r + delta) if inside else delta + np.sqrt(r)
    x1 = X0 - lr * G[0] / den
    r = r + G[1] ** 2
    den = np.sqrt(r + delta) if inside else delta + np.sqrt(r)
    x2 = x1 - lr * G[1] / den
    check(run("adagrad_book", 2, lr=lr, eps=delta, eps_inside_sqrt=inside), [x1, x2])


# -- RMSprop -----------------------------------------------------------------

@pytest.mark.parametrize("eps", [1e-8, 0.1])
def test_rmsprop_plain(eps):
    lr, a = 0.01, 0.99
    v = (1 - a) * G[0] ** 2
    x1 = X0 - lr * G[0] / (np.sqrt(v) + eps)
    v = a * v + (1 - a) * G[1] ** 2
    x2 = x1 - lr * G[1] / (np.sqrt(v) + eps)
    check(run("rmsprop", 2, lr=lr, eps=eps), [x1, x2])


def test_rmsprop_first_step_is_about_ten_lr():
    x1 = run("rmsprop", 1, lr=0.01)[0]
    np.testing.assert_allclose(np.abs(x1 - X0), 0.01 / np.sqrt(0.01), rtol=1e-5)


def test_rmsprop_centered_momentum_weight_decay():
    lr, a, mu, wd, eps = 0.01, 0.9, 0.7, 0.1, 0.1
    x, v, gbar, b, out = X0.copy(), np.zeros(4), np.zeros(4), np.zeros(4), []
    for g in G:
        g = g + wd * x
        v = a * v + (1 - a) * g**2
        gbar = a * gbar + (1 - a) * g
        d = np.sqrt(v - gbar**2) + eps
        b = mu * b + g / d                 # buffer starts at 0, lr outside
        x = x - lr * b
        out.append(x)
    check(run("rmsprop", lr=lr, alpha=a, momentum=mu, centered=True, weight_decay=wd, eps=eps), out)


def test_rmsprop_book_delta_inside_sqrt():
    lr, rho, delta = 0.01, 0.9, 0.1
    r = (1 - rho) * G[0] ** 2
    x1 = X0 - lr * G[0] / np.sqrt(delta + r)
    r = rho * r + (1 - rho) * G[1] ** 2
    x2 = x1 - lr * G[1] / np.sqrt(delta + r)
    check(run("rmsprop_book", 2, lr=lr, rho=rho, eps=delta), [x1, x2])


# -- Adadelta ----------------------------------------------------------------

@pytest.mark.parametrize("hp", [{}, {"lr": 0.5, "rho": 0.5, "eps": 0.1, "weight_decay": 0.2}])
def test_adadelta(hp):
    lr, rho, eps, wd = hp.get("lr", 1.0), hp.get("rho", 0.9), hp.get("eps", 1e-6), hp.get("weight_decay", 0)
    x, v, u, out = X0.copy(), np.zeros(4), np.zeros(4), []
    for g in G:
        g = g + wd * x
        v = rho * v + (1 - rho) * g**2
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta**2     # Δ itself, not lr·Δ
        x = x - lr * delta
        out.append(x)
    check(run("adadelta", **hp), out)


def test_adadelta_first_step_size():
    x1 = run("adadelta", 1)[0]
    np.testing.assert_allclose(np.abs(x1 - X0)[:3], np.sqrt(1e-6 / 0.1), rtol=1e-3)


# -- Adam family ---------------------------------------------------------------

def adam_ref(lr, b1, b2, eps, wd=0.0, amsgrad=False, decoupled=False, maximize=False, steps=3):
    """Kingma & Ba's Algorithm 1 with torch's options."""
    x, m, v, vmax, out = X0.copy(), np.zeros(4), np.zeros(4), np.zeros(4), []
    for t, g in enumerate(G[:steps], start=1):
        g = -g if maximize else g
        if wd and decoupled:
            x = x * (1 - lr * wd)
        elif wd:
            g = g + wd * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        vmax = np.maximum(vmax, v)
        vv = vmax if amsgrad else v
        mhat = m / (1 - b1**t)
        vhat = vv / (1 - b2**t)
        x = x - lr * mhat / (np.sqrt(vhat) + eps)
        out.append(x)
    return out


ADAM_CASES = [
    {},
    {"eps": 0.1},
    {"betas": (0.3, 0.9), "eps": 0.5},
    {"amsgrad": True},
    {"amsgrad": True, "eps": 0.1},
    {"weight_decay": 0.3},
    {"weight_decay": 0.3, "decoupled_weight_decay": True},
    {"maximize": True, "weight_decay": 0.1},
]


@pytest.mark.parametrize("hp", ADAM_CASES, ids=[str(h) for h in ADAM_CASES])
def test_adam(hp):
    lr = 0.1
    b1, b2 = hp.get("betas", (0.9, 0.999))
    exp = adam_ref(lr, b1, b2, hp.get("eps", 1e-8), hp.get("weight_decay", 0.0), hp.get("amsgrad", False),
                   hp.get("decoupled_weight_decay", False), hp.get("maximize", False))
    check(run("adam", lr=lr, **hp), exp)


def test_adam_first_step_is_lr_sign():
    x1 = run("adam", 1, lr=0.1)[0]
    np.testing.assert_allclose(x1 - X0, -0.1 * np.sign(G[0]), rtol=1e-5)


def test_amsgrad_max_of_raw_v_matters():
    # g shrinks: v falls, so AMSGrad keeps the older, larger v and moves less
    grads = [np.array([3.0]), np.array([0.1]), np.array([0.1])]
    plain = run("adam", grads=grads, x0=np.zeros(1), lr=0.1, betas=(0.5, 0.5))
    ams = run("adam", grads=grads, x0=np.zeros(1), lr=0.1, betas=(0.5, 0.5), amsgrad=True)
    assert abs(ams[2][0] - ams[1][0]) < abs(plain[2][0] - plain[1][0])


@pytest.mark.parametrize("hp", [{}, {"weight_decay": 0.3, "amsgrad": True, "eps": 0.1}])
def test_adamw(hp):
    lr = 0.1
    exp = adam_ref(lr, 0.9, 0.999, hp.get("eps", 1e-8), hp.get("weight_decay", 1e-2),
                   hp.get("amsgrad", False), decoupled=True)
    check(run("adamw", lr=lr, **hp), exp)


@pytest.mark.parametrize("hp", [{}, {"betas": (0.4, 0.9), "eps": 0.5, "weight_decay": 0.2}])
def test_adamax(hp):
    lr = 0.1
    (b1, b2), eps, wd = hp.get("betas", (0.9, 0.999)), hp.get("eps", 1e-8), hp.get("weight_decay", 0.0)
    x, m, u, out = X0.copy(), np.zeros(4), np.zeros(4), []
    for t, g in enumerate(G, start=1):
        g = g + wd * x
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)      # ε inside the max
        x = x - lr / (1 - b1**t) * m / u
        out.append(x)
    check(run("adamax", lr=lr, **hp), out)


@pytest.mark.parametrize("hp", [
    {}, {"eps": 0.1, "momentum_decay": 0.5}, {"weight_decay": 0.2},
    {"weight_decay": 0.2, "decoupled_weight_decay": True, "betas": (0.4, 0.99)},
])
def test_nadam(hp):
    lr, psi = 0.1, hp.get("momentum_decay", 4e-3)
    (b1, b2), eps, wd = hp.get("betas", (0.9, 0.999)), hp.get("eps", 1e-8), hp.get("weight_decay", 0.0)
    decoupled = hp.get("decoupled_weight_decay", False)
    x, m, v, prod, out = X0.copy(), np.zeros(4), np.zeros(4), 1.0, []
    for t, g in enumerate(G, start=1):
        if wd and decoupled:
            x = x * (1 - lr * wd)
        elif wd:
            g = g + wd * x
        mu_t = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        prod *= mu_t
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        vhat = v / (1 - b2**t)
        mbar = (1 - mu_t) / (1 - prod) * g + mu_next / (1 - prod * mu_next) * m
        x = x - lr * mbar / (np.sqrt(vhat) + eps)
        out.append(x)
    check(run("nadam", lr=lr, **hp), out)


def test_nadam_first_momentum_coefficient():
    # μ₁ = 0.9·(1 − ½·0.96^0.004) = 0.450073...
    assert 0.9 * (1 - 0.5 * 0.96**0.004) == pytest.approx(0.450073, abs=1e-6)


@pytest.mark.parametrize("hp", [
    {}, {"betas": (0.9, 0.9), "eps": 0.1}, {"weight_decay": 0.2},
    {"weight_decay": 0.2, "decoupled_weight_decay": True},
])
def test_radam_rectification_switches_on_at_step_6(hp):
    lr, steps = 0.1, 8
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(4) for _ in range(steps)]
    (b1, b2), eps, wd = hp.get("betas", (0.9, 0.999)), hp.get("eps", 1e-8), hp.get("weight_decay", 0.0)
    decoupled = hp.get("decoupled_weight_decay", False)
    rho_inf = 2 / (1 - b2) - 1
    x, m, v, out, rectified = X0.copy(), np.zeros(4), np.zeros(4), [], []
    for t, g in enumerate(grads, start=1):
        if wd and decoupled:
            x = x * (1 - lr * wd)
        elif wd:
            g = g + wd * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        mhat = m / (1 - b1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > 5:
            r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            x = x - lr * mhat * r * np.sqrt(1 - b2**t) / (np.sqrt(v) + eps)   # ε on uncorrected √v
        else:
            x = x - lr * mhat
        rectified.append(rho_t > 5)
        out.append(x)
    assert rectified == [False] * 5 + [True] * 3
    check(run("radam", steps, grads=grads, lr=lr, **hp), out)


# -- ASGD, Rprop -------------------------------------------------------------------

def test_asgd_uses_previous_eta_and_averages_after_t0():
    lr, lambd, alpha, t0 = 0.1, 0.05, 0.75, 0.0
    x, eta, mu, ax, out, axs = X0.copy(), lr, 1.0, np.zeros(4), [], []
    for t, g in enumerate(G, start=1):
        x = x * (1 - lambd * eta) - eta * g
        ax = x.copy() if mu == 1 else ax + mu * (x - ax)
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)
        out.append(x)
        axs.append(ax)
    x = X0.copy()
    opt = create("asgd", lr=lr, lambd=lambd, alpha=alpha, t0=t0)
    st = opt.init(x)
    for k, g in enumerate(G):
        opt.step(x, g, st)
        assert np.max(np.abs(x - out[k])) <= TOL
        assert np.max(np.abs(st["ax"] - axs[k])) <= TOL
    # t0 = 0: ax = θ for t ≤ t0 + 1 = 1, then the mean of θ₂ … θ_t
    np.testing.assert_allclose(axs[2], (out[1] + out[2]) / 2, atol=TOL)


def test_rprop_sign_logic_and_clamp():
    lr, em, ep, lo, hi = 0.1, 0.5, 1.2, 1e-6, 0.11
    x1 = X0 - np.sign(G[0]) * lr
    same = np.sign(G[0]) == np.sign(G[1])        # [T, F, F, T]
    size = np.where(same, np.minimum(lr * ep, hi), lr * em)
    g2 = np.where(same, G[1], 0.0)               # a sign flip: no move
    x2 = x1 - np.sign(g2) * size
    # step 3: flipped coordinates have prev = 0 -> factor 1
    s3 = np.sign(G[2] * g2)
    size = np.clip(size * np.where(s3 > 0, ep, np.where(s3 < 0, em, 1.0)), lo, hi)
    g3 = np.where(s3 < 0, 0.0, G[2])
    x3 = x2 - np.sign(g3) * size
    check(run("rprop", lr=lr, etas=(em, ep), step_sizes=(lo, hi)), [x1, x2, x3])


def test_rprop_clamps_every_element_even_on_the_first_step():
    # lr above Γmax: torch clamps the first step too
    x1 = run("rprop", 1, lr=1.0, step_sizes=(1e-6, 0.5))[0]
    np.testing.assert_allclose(x1, X0 - 0.5 * np.sign(G[0]), atol=TOL)


# -- beyond torch ------------------------------------------------------------------

def test_lookahead_with_sgd_inner():
    lr, k, a = 0.1, 2, 0.5
    x1 = X0 - lr * G[0]
    fast = x1 - lr * G[1]
    x2 = X0 + a * (fast - X0)          # slow step; fast weights reset to it
    x3 = x2 - lr * G[2]
    check(run("lookahead", inner="sgd", inner_params={"lr": lr}, k=k, alpha=a), [x1, x2, x3])


def test_adabound_clips_into_the_band():
    lr, b1, b2, final, gamma, eps = 1e-3, 0.9, 0.999, 0.1, 0.5, 1e-8
    grads = [np.array([2.0, 0.01, -0.5, 1e-4]), np.array([1.0, -0.02, 0.3, 1e-4])]
    x, m, v, out, clipped = X0.copy(), np.zeros(4), np.zeros(4), [], []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        eta = lr * np.sqrt(1 - b2**t) / (1 - b1**t) / (np.sqrt(v) + eps)
        lo, hi = final * (1 - 1 / (gamma * t + 1)), final * (1 + 1 / (gamma * t))
        step = np.clip(eta, lo, hi)
        clipped.append((eta < lo) | (eta > hi))
        x = x - step * m
        out.append(x)
    assert clipped[0].all()        # this choice exercises both bounds
    check(run("adabound", 2, grads=grads, lr=lr, final_lr=final, gamma=gamma), out)


def test_adabound_final_lr_follows_the_schedule():
    x = X0.copy()
    opt = create("adabound", lr=1e-3, final_lr=0.1, gamma=0.5)
    st = opt.init(x)
    opt.lr = 5e-4                  # halve lr: the band halves too
    opt.step(x, G[0], st)
    m = 0.1 * G[0]
    eta = 5e-4 * np.sqrt(1e-3) / 0.1 / (np.sqrt(1e-3 * G[0] ** 2) + 1e-8)
    band = 0.05 * (1 - 1 / 1.5), 0.05 * (1 + 1 / 0.5)     # final_lr·lr/lr₀ = 0.05
    np.testing.assert_allclose(x, X0 - np.clip(eta, *band) * m, atol=TOL)


def test_gradlr_shrinks_alpha_before_the_update():
    lr, c = 0.1, 0.99
    alpha = lr / (1 + c * np.sqrt(np.abs(G[0])))
    x1 = X0 - alpha * G[0]
    alpha = alpha / (1 + c * np.sqrt(np.abs(G[1])))
    x2 = x1 - alpha * G[1]
    check(run("gradlr", 2, lr=lr, control=c), [x1, x2])


def test_gradlr_schedule_scales_the_multiplier():
    lr, c = 0.1, 0.5
    x = X0.copy()
    opt = create("gradlr", lr=lr, control=c)
    st = opt.init(x)
    opt.step(x, G[0], st)
    opt.lr = 0.02
    opt.step(x, G[1], st)
    scale = 1 / (1 + c * np.sqrt(np.abs(G[0]))) / (1 + c * np.sqrt(np.abs(G[1])))
    np.testing.assert_allclose(st["scale"], scale, rtol=1e-14)
    x1 = X0 - lr / (1 + c * np.sqrt(np.abs(G[0]))) * G[0]
    np.testing.assert_allclose(x, x1 - 0.02 * scale * G[1], atol=TOL)


# -- L-BFGS --------------------------------------------------------------------------

H_Q = np.array([[3.0, 0.5, 0.0, 0.2], [0.5, 2.0, 0.1, 0.0], [0.0, 0.1, 1.0, 0.3], [0.2, 0.0, 0.3, 4.0]])
B_Q = np.array([1.0, -2.0, 0.5, 0.3])


def quad(x):
    return float(0.5 * x @ H_Q @ x - B_Q @ x), H_Q @ x - B_Q


def test_lbfgs_first_two_iterations_by_hand():
    lr = 0.7
    x = X0.copy()
    opt = create("lbfgs", lr=lr, max_iter=1)
    st = opt.init(x)
    f0 = opt.step(x, None, st, closure=quad)
    assert f0 == quad(X0)[0]
    g0 = quad(X0)[1]
    t0 = min(1.0, 1.0 / np.abs(g0).sum()) * lr
    x1 = X0 - t0 * g0
    np.testing.assert_allclose(x, x1, atol=TOL)
    # second step: one BFGS update of H0 = γI with the pair (s, y)
    opt.step(x, None, st, closure=quad)
    g1 = quad(x1)[1]
    s, y = -t0 * g0, g1 - g0
    rho = 1 / (y @ s)
    gamma = (y @ s) / (y @ y)
    eye = np.eye(4)
    h = (eye - rho * np.outer(s, y)) @ (gamma * eye) @ (eye - rho * np.outer(y, s)) + rho * np.outer(s, s)
    x2 = x1 - lr * h @ g1
    np.testing.assert_allclose(x, x2, atol=TOL)
    assert st["hist_len"] == 1 and st["n_iter"] == 2 and st["func_evals"] == 2


def test_lbfgs_ring_buffer_keeps_the_newest_pairs():
    x = X0.copy()
    opt = create("lbfgs", history_size=2, max_iter=6, lr=0.5)
    st = opt.init(x)
    opt.step(x, None, st, closure=quad)
    assert st["hist_len"] == 2
    assert 0 <= st["hist_start"] < 2
    assert st["old_dirs"].shape == (2, 4)


def test_lbfgs_returns_at_once_when_the_gradient_is_zero():
    xstar = np.linalg.solve(H_Q, B_Q)
    x = xstar.copy()
    opt = create("lbfgs")
    st = opt.init(x)
    f = opt.step(x, None, st, closure=quad)
    assert f == quad(xstar)[0]
    assert st["n_iter"] == 0 and st["func_evals"] == 1
    np.testing.assert_array_equal(x, xstar)


def test_lbfgs_needs_a_closure():
    opt = create("lbfgs")
    x = X0.copy()
    with pytest.raises(ValueError, match="closure"):
        opt.step(x, G[0], opt.init(x))


# -- Adam without bias correction (deck 004's comparison) -----------------------

@pytest.mark.parametrize("hp", [{}, {"betas": (0.5, 0.9), "eps": 0.1, "weight_decay": 0.3}])
def test_adam_without_bias_correction(hp):
    lr = 0.1
    (b1, b2), eps, wd = hp.get("betas", (0.9, 0.999)), hp.get("eps", 1e-8), hp.get("weight_decay", 0.0)
    x, m, v, out = X0.copy(), np.zeros(4), np.zeros(4), []
    for g in G:
        g = g + wd * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        x = x - lr * m / (np.sqrt(v) + eps)  # no division by 1 - β^t
        out.append(x)
    check(run("adam_nobc", lr=lr, **hp), out)


def test_adam_without_bias_correction_first_step_is_too_long():
    x1 = run("adam_nobc", 1, lr=0.1)[0]
    np.testing.assert_allclose(np.abs(x1 - X0), 0.1 * 0.1 / np.sqrt(0.001), rtol=1e-4)  # ε/√v ≤ 3e-5


# -- the decks' own forms (engine/optim/deck.py) ------------------------------------

def _sched_run(name, lrs, grads=G, x0=X0, **hp):
    """Like :func:`run`, with ``opt.lr = lrs[t]`` before update t (a schedule)."""
    x = x0.copy()
    opt = create(name, lr=lrs[0], **hp)
    state = opt.init(x)
    out = []
    for lr, g in zip(lrs, grads, strict=False):
        opt.lr = lr
        opt.step(x, g.copy(), state)
        out.append(x.copy())
    return out


def test_momentum_deck_by_hand():
    lr, mu, wd = 0.1, 0.9, 0.01
    v = np.zeros(4)
    x, expected = X0.copy(), []
    for g in G:
        v = mu * v - lr * (g + wd * x)        # v ← μv − α(g + λθ)
        x = x + v
        expected.append(x)
    check(run("momentum_deck", lr=lr, momentum=mu, weight_decay=wd), expected)


def test_nesterov_deck_by_hand():
    lr, mu = 0.1, 0.9
    v = np.zeros(4)
    x, expected = X0.copy(), []
    for g in G:
        v = mu * v - lr * g                    # deck 000: mom = mu*mom + grad
        x = x + mu * v - lr * g                #           val += mu*mom + grad
        expected.append(x)
    check(run("nesterov_deck", lr=lr, momentum=mu), expected)


@pytest.mark.parametrize("deck_name,torch_name,extra", [
    ("momentum_deck", "momentum", {}), ("nesterov_deck", "nesterov", {}),
])
def test_deck_momentum_equals_torch_form_at_constant_lr(deck_name, torch_name, extra):
    ours = run(deck_name, lr=0.1, momentum=0.9, weight_decay=0.01)
    torch_form = run(torch_name, lr=0.1, momentum=0.9, weight_decay=0.01)
    np.testing.assert_allclose(ours, torch_form, rtol=0, atol=1e-14)


@pytest.mark.parametrize("deck_name,torch_name", [("momentum_deck", "momentum"),
                                                  ("nesterov_deck", "nesterov")])
def test_deck_momentum_differs_from_torch_form_under_a_schedule(deck_name, torch_name):
    lrs = [0.1, 0.05, 0.025]
    ours = _sched_run(deck_name, lrs, momentum=0.9)
    torch_form = _sched_run(torch_name, lrs, momentum=0.9)
    # step 1 agrees; from step 2 the deck's velocity keeps the old step size 0.1·g₁,
    # torch's buffer rescales g₁ by the new 0.05
    np.testing.assert_allclose(ours[0], torch_form[0], atol=1e-15)
    if deck_name == "momentum_deck":
        v1 = -0.1 * G[0]
        expected2 = ours[0] + 0.9 * v1 - 0.05 * G[1]
        b2 = 0.9 * G[0] + G[1]
        expected_torch2 = torch_form[0] - 0.05 * b2
        check([ours[1]], [expected2])
        check([torch_form[1]], [expected_torch2])
    assert np.abs(ours[1] - torch_form[1]).max() > 1e-3


def test_momentum_deck_vs_torch_form_on_the_quartic_with_decay():
    from engine.minimize import minimize

    kw = {"schedule": "exponential", "schedule_params": {"gamma": 0.97}, "lr": 0.1, "momentum": 0.9}
    torch_form = minimize("quartic", "momentum", [-5.0], 100, **kw)[-1, 0]
    deck_form = minimize("quartic", "momentum_deck", [-5.0], 100, **kw)[-1, 0]
    assert round(torch_form, 4) == 3.2767
    assert round(deck_form, 4) == 3.2429


@pytest.mark.parametrize("name,wd,decoupled", [("adam_deck", 0.0, False), ("adam_deck", 0.1, False),
                                               ("adam_deck", 0.1, True), ("adamw_deck", 0.1, True)])
def test_adam_deck_eps_inside_v_hat_by_hand(name, wd, decoupled):
    lr, b1, b2, eps = 0.1, 0.9, 0.99, 0.5   # a big ε: inside vs outside the root is visible
    m, v, x, expected = np.zeros(4), np.zeros(4), X0.copy(), []
    for t, g in enumerate(G, start=1):
        if decoupled:
            x = x * (1 - lr * wd)
        else:
            g = g + wd * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        x = x - lr * m_hat / np.sqrt(v_hat + eps)   # deck 001: −μ ŝ/√(r̂ + β)
        expected.append(x)
    hp = {"lr": lr, "betas": (b1, b2), "eps": eps, "weight_decay": wd}
    if name == "adam_deck":
        hp["decoupled_weight_decay"] = decoupled
    check(run(name, **hp), expected)


def test_adam_deck_eps_inside_v_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.99, 0.5
    m, v, x, expected = np.zeros(4), np.zeros(4), X0.copy(), []
    for t, g in enumerate(G, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        eta_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        x = x - eta_t * m / np.sqrt(v + eps)          # deck 004: η_t·m/√(v + ε)
        expected.append(x)
    check(run("adam_deck", lr=lr, betas=(b1, b2), eps=eps, eps_under="v"), expected)


def test_adam_deck_first_step_is_lr_times_g_over_sqrt_g2_plus_eps():
    (x1,) = run("adam_deck", 1, lr=0.1, eps=0.5)
    check([x1], [X0 - 0.1 * G[0] / np.sqrt(G[0] ** 2 + 0.5)])


@pytest.mark.parametrize("under", ["v_hat", "v"])
@pytest.mark.parametrize("deck_name,torch_name", [("adam_deck", "adam"), ("adamw_deck", "adamw")])
def test_adam_deck_without_eps_is_torch_adam(under, deck_name, torch_name):
    hp = {"lr": 0.1, "betas": (0.9, 0.99), "eps": 0.0, "weight_decay": 0.05}
    np.testing.assert_allclose(run(deck_name, eps_under=under, **hp), run(torch_name, **hp),
                               rtol=1e-13, atol=1e-14)


def test_adam_deck_differs_from_torch_with_a_big_eps():
    hp = {"lr": 0.1, "betas": (0.9, 0.99), "eps": 0.5}
    a, b = run("adam_deck", **hp), run("adam", **hp)
    assert np.abs(a[-1] - b[-1]).max() > 1e-2


def test_deck000_presets_by_hand():
    g = G[0]
    (x1,) = run("adagrad_deck000", 1, lr=0.1)
    check([x1], [X0 - 0.1 * g / np.sqrt(g * g + 1e-6)])          # √(G + ε), ε = 1e-6
    (x1,) = run("rmsprop_deck000", 1, lr=0.1)
    check([x1], [X0 - 0.1 * g / np.sqrt(0.9 * g * g + 1e-6)])    # G = 0.1·0 + 0.9·g²
    (x1,) = run("adam_deck000", 1, lr=0.1)
    check([x1], [X0 - 0.1 * g / (np.abs(g) + 1e-6)])             # m̂ = g, √v̂ = |g|, ε outside


def test_deck000_presets_equal_their_general_forms():
    np.testing.assert_array_equal(run("adagrad_deck000", lr=0.1),
                                  run("adagrad_book", lr=0.1, eps=1e-6, eps_inside_sqrt=True))
    np.testing.assert_array_equal(run("rmsprop_deck000", lr=0.1),
                                  run("rmsprop_book", lr=0.1, rho=0.1, eps=1e-6))
    np.testing.assert_array_equal(run("adam_deck000", lr=0.1), run("adam", lr=0.1, eps=1e-6))
