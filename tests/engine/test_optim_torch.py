"""torch.optim 2.13 as the oracle: the same gradients, ~50 steps, float64.

Each case runs torch's optimizer and ours on the same deterministic gradient
function (a random quadratic plus step-dependent sine terms, so gradients
change sign) and compares the whole trajectory.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.optim import create

N = 7
STEPS = 50
TOL = 1e-12  # measured worst case 2.5e-15; L-BFGS uses LBFGS_TOL

_rng = np.random.default_rng(20240613)
_M = _rng.standard_normal((N, N))
A = _M @ _M.T / N + 0.5 * np.eye(N)
B = _rng.standard_normal(N)
X0 = _rng.standard_normal(N) * 2.0


@pytest.fixture(autouse=True)
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def grad_fn(x: np.ndarray, k: int, sign: float = 1.0) -> np.ndarray:
    """∇ of a quadratic bowl plus a step-dependent ripple; sign = −1 for maximize runs
    (so maximising stays bounded and the comparison stays at O(1) magnitudes)."""
    return sign * (A @ x - B + 0.8 * np.sin(3.0 * x + 0.7 * k))


def run_ours(name: str, hp: dict, steps: int = STEPS, extra: str | None = None):
    x = X0.copy()
    opt = create(name, **hp)
    state = opt.init(x)
    sign = -1.0 if hp.get("maximize") else 1.0
    xs, ex = [], []
    for k in range(steps):
        opt.step(x, grad_fn(x, k, sign), state)
        xs.append(x.copy())
        if extra:
            ex.append(state[extra].copy())
    return np.array(xs), np.array(ex)


def run_torch(cls, kwargs: dict, steps: int = STEPS, extra: str | None = None):
    p = torch.tensor(X0.copy(), requires_grad=True)
    opt = cls([p], **kwargs)
    sign = -1.0 if kwargs.get("maximize") else 1.0
    xs, ex = [], []
    for k in range(steps):
        p.grad = torch.from_numpy(grad_fn(p.detach().numpy().copy(), k, sign))
        opt.step()
        xs.append(p.detach().numpy().copy())
        if extra:
            ex.append(opt.state[p][extra].detach().numpy().copy())
    return np.array(xs), np.array(ex)


CASES = [
    # (our name, torch class, hyperparameters shared by both)
    ("sgd", torch.optim.SGD, {"lr": 0.05}),
    ("sgd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    ("sgd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("sgd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("sgd", torch.optim.SGD, {"lr": 0.02, "momentum": 0.5, "maximize": True, "weight_decay": 0.3}),
    ("adagrad", torch.optim.Adagrad, {"lr": 0.1}),
    ("adagrad", torch.optim.Adagrad, {"lr": 0.3, "lr_decay": 0.01, "weight_decay": 0.1,
                                      "initial_accumulator_value": 0.5}),
    ("adagrad", torch.optim.Adagrad, {"lr": 0.5, "eps": 0.5}),
    ("adagrad", torch.optim.Adagrad, {"lr": 0.1, "maximize": True, "weight_decay": 0.2}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 0.01}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 0.01, "centered": True}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 0.01, "momentum": 0.9}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.7,
                                      "weight_decay": 0.1, "alpha": 0.9}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 0.05, "eps": 0.1, "alpha": 0.4, "centered": True}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 0.01, "maximize": True, "weight_decay": 0.5}),
    ("adadelta", torch.optim.Adadelta, {}),
    ("adadelta", torch.optim.Adadelta, {"lr": 0.5, "rho": 0.5, "eps": 0.1, "weight_decay": 0.1}),
    ("adadelta", torch.optim.Adadelta, {"lr": 2.0, "rho": 0.95, "maximize": True}),
    ("adam", torch.optim.Adam, {"lr": 0.05}),
    ("adam", torch.optim.Adam, {"lr": 0.05, "amsgrad": True}),
    ("adam", torch.optim.Adam, {"lr": 0.05, "weight_decay": 0.1}),
    ("adam", torch.optim.Adam, {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True,
                                "amsgrad": True}),
    ("adam", torch.optim.Adam, {"lr": 0.1, "betas": (0.3, 0.9), "eps": 0.1}),
    ("adam", torch.optim.Adam, {"lr": 0.05, "maximize": True, "amsgrad": True, "weight_decay": 0.3}),
    ("adamw", torch.optim.AdamW, {"lr": 0.05}),
    ("adamw", torch.optim.AdamW, {"lr": 0.05, "weight_decay": 0.2, "amsgrad": True, "eps": 0.1}),
    ("adamw", torch.optim.AdamW, {"lr": 0.05, "maximize": True, "betas": (0.5, 0.6)}),
    ("adamax", torch.optim.Adamax, {"lr": 0.05}),
    ("adamax", torch.optim.Adamax, {"lr": 0.05, "betas": (0.4, 0.9), "eps": 0.5, "weight_decay": 0.1}),
    ("adamax", torch.optim.Adamax, {"lr": 0.05, "maximize": True}),
    ("nadam", torch.optim.NAdam, {"lr": 0.05}),
    ("nadam", torch.optim.NAdam, {"lr": 0.05, "weight_decay": 0.1}),
    ("nadam", torch.optim.NAdam, {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("nadam", torch.optim.NAdam, {"lr": 0.05, "momentum_decay": 0.1, "eps": 0.1, "betas": (0.4, 0.99)}),
    ("nadam", torch.optim.NAdam, {"lr": 0.05, "maximize": True}),
    ("radam", torch.optim.RAdam, {"lr": 0.05}),
    ("radam", torch.optim.RAdam, {"lr": 0.05, "betas": (0.9, 0.9), "eps": 0.1}),
    ("radam", torch.optim.RAdam, {"lr": 0.05, "weight_decay": 0.1}),
    ("radam", torch.optim.RAdam, {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True,
                                  "betas": (0.3, 0.99)}),
    ("radam", torch.optim.RAdam, {"lr": 0.05, "maximize": True}),
    ("asgd", torch.optim.ASGD, {"lr": 0.05}),
    ("asgd", torch.optim.ASGD, {"lr": 0.05, "lambd": 1e-2, "alpha": 0.6, "t0": 10.0,
                                "weight_decay": 0.05}),
    ("asgd", torch.optim.ASGD, {"lr": 0.05, "t0": 0.0, "maximize": True}),
    ("rprop", torch.optim.Rprop, {}),
    ("rprop", torch.optim.Rprop, {"lr": 0.1, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.05)}),
    ("rprop", torch.optim.Rprop, {"lr": 1.0, "step_sizes": (1e-6, 0.5)}),
    ("rprop", torch.optim.Rprop, {"lr": 0.05, "maximize": True}),
]


def _id(case):
    name, _, hp = case
    return name + ":" + (",".join(f"{k}={v}" for k, v in hp.items()) or "default")


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_trajectory_matches_torch(case):
    name, cls, hp = case
    ours, _ = run_ours(name, hp)
    ref, _ = run_torch(cls, hp)
    assert np.max(np.abs(ref)) < 50  # a bounded run: 1e-10 is a tight absolute tolerance
    assert np.max(np.abs(ours - ref)) <= TOL
    # the run must actually move: a no-op would not be a comparison
    assert np.max(np.abs(ref[-1] - X0)) > 1e-3


@pytest.mark.parametrize("hp", [{"lr": 0.05, "t0": 10.0, "lambd": 1e-2}, {"lr": 0.05, "t0": 0.0}])
def test_asgd_average_matches_torch(hp):
    _, ours = run_ours("asgd", hp, extra="ax")
    _, ref = run_torch(torch.optim.ASGD, hp, extra="ax")
    assert np.max(np.abs(ours - ref)) <= TOL
    # the average differs from the iterate once averaging has started
    xs, _ = run_ours("asgd", hp)
    assert np.max(np.abs(xs[-1] - ours[-1])) > 1e-4


@pytest.mark.parametrize("extra,hp", [
    ("exp_avg_sq", {"lr": 0.05, "amsgrad": True}),
    ("max_exp_avg_sq", {"lr": 0.05, "amsgrad": True}),
])
def test_adam_state_matches_torch(extra, hp):
    _, ours = run_ours("adam", hp, extra=extra)
    _, ref = run_torch(torch.optim.Adam, hp, extra=extra)
    assert np.max(np.abs(ours - ref)) <= TOL


def test_nadam_mu_product_matches_torch():
    x = X0.copy()
    opt = create("nadam", lr=0.05)
    st = opt.init(x)
    p = torch.tensor(X0.copy(), requires_grad=True)
    topt = torch.optim.NAdam([p], lr=0.05)
    for k in range(STEPS):
        opt.step(x, grad_fn(x, k), st)
        p.grad = torch.from_numpy(grad_fn(p.detach().numpy().copy(), k))
        topt.step()
    assert isinstance(st["mu_product"], float)
    assert st["mu_product"] == pytest.approx(topt.state[p]["mu_product"].item(), rel=1e-14)


def test_lr_schedule_matches_torch_scheduler():
    """Setting opt.lr between steps is torch's param_group['lr'] change."""
    hp = {"lr": 0.1, "momentum": 0.9}
    x = X0.copy()
    opt = create("sgd", **hp)
    st = opt.init(x)
    p = torch.tensor(X0.copy(), requires_grad=True)
    topt = torch.optim.SGD([p], **hp)
    sched = torch.optim.lr_scheduler.StepLR(topt, step_size=7, gamma=0.5)
    for k in range(STEPS):
        opt.lr = topt.param_groups[0]["lr"]
        opt.step(x, grad_fn(x, k), st)
        p.grad = torch.from_numpy(grad_fn(p.detach().numpy().copy(), k))
        topt.step()
        sched.step()
    assert np.max(np.abs(x - p.detach().numpy())) <= TOL


# -- beyond torch: oracles written with torch ops ---------------------------

def test_lookahead_matches_torch_inner_plus_lerp():
    k_, alpha = 3, 0.6
    x = X0.copy()
    opt = create("lookahead", inner="adam", inner_params={"lr": 0.05}, k=k_, alpha=alpha)
    st = opt.init(x)
    p = torch.tensor(X0.copy(), requires_grad=True)
    topt = torch.optim.Adam([p], lr=0.05)
    slow = p.detach().clone()
    for k in range(STEPS):
        opt.step(x, grad_fn(x, k), st)
        p.grad = torch.from_numpy(grad_fn(p.detach().numpy().copy(), k))
        topt.step()
        if (k + 1) % k_ == 0:
            with torch.no_grad():
                slow.lerp_(p, alpha)
                p.copy_(slow)
        assert np.max(np.abs(x - p.detach().numpy())) <= TOL


def _adabound_reference(hp: dict, steps: int = STEPS) -> np.ndarray:
    """Luolc/AdaBound's step, transcribed with current torch op signatures."""
    lr, (b1, b2) = hp["lr"], hp.get("betas", (0.9, 0.999))
    final_lr0, gamma = hp.get("final_lr", 0.1), hp.get("gamma", 1e-3)
    eps, wd, amsbound = hp.get("eps", 1e-8), hp.get("weight_decay", 0.0), hp.get("amsbound", False)
    base_lr = lr
    p = torch.tensor(X0.copy())
    exp_avg, exp_avg_sq, max_sq = torch.zeros(N), torch.zeros(N), torch.zeros(N)
    out = []
    for k in range(steps):
        grad = torch.from_numpy(grad_fn(p.numpy().copy(), k))
        step = k + 1
        if wd != 0:
            grad = grad.add(p, alpha=wd)
        exp_avg.mul_(b1).add_(grad, alpha=1 - b1)
        exp_avg_sq.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        if amsbound:
            torch.max(max_sq, exp_avg_sq, out=max_sq)
            denom = max_sq.sqrt().add_(eps)
        else:
            denom = exp_avg_sq.sqrt().add_(eps)
        bias_correction1 = 1 - b1**step
        bias_correction2 = 1 - b2**step
        step_size = lr * math.sqrt(bias_correction2) / bias_correction1
        final_lr = final_lr0 * lr / base_lr
        lower_bound = final_lr * (1 - 1 / (gamma * step + 1))
        upper_bound = final_lr * (1 + 1 / (gamma * step))
        step_size = torch.full_like(denom, step_size)
        step_size.div_(denom).clamp_(lower_bound, upper_bound).mul_(exp_avg)
        p.add_(-step_size)
        out.append(p.numpy().copy())
    return np.array(out)


@pytest.mark.parametrize("hp", [
    {"lr": 1e-3},
    {"lr": 0.01, "gamma": 0.1, "final_lr": 0.05, "amsbound": True},
    {"lr": 0.05, "weight_decay": 0.1, "eps": 0.1, "betas": (0.5, 0.9), "gamma": 0.5},
])
def test_adabound_matches_reference_implementation(hp):
    ours, _ = run_ours("adabound", hp)
    ref = _adabound_reference(hp)
    assert np.max(np.abs(ours - ref)) <= TOL
    assert np.max(np.abs(ref[-1] - X0)) > 1e-3


# -- L-BFGS -----------------------------------------------------------------

_R = np.random.default_rng(7)
_Q, _ = np.linalg.qr(_R.standard_normal((N, N)))
A_ILL = _Q @ np.diag(np.logspace(0, 1.5, N)) @ _Q.T  # condition number ~32


def loss_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
    """A strongly convex, non-quadratic objective: quadratic + cosine ripple + quartic.

    (Strong convexity keeps the trajectory insensitive to rounding, so 1e-10
    is a fair tolerance; on Rosenbrock-like terms torch differs from itself by
    1e-8 under a 1e-15 perturbation of x0.)
    """
    f = 0.5 * x @ A_ILL @ x - B @ x + 0.1 * np.sum(np.cos(2.0 * x)) + 0.05 * np.sum(x**4)
    g = A_ILL @ x - B - 0.2 * np.sin(2.0 * x) + 0.2 * x**3
    return float(f), g


LBFGS_TOL = 1e-10  # measured worst case 2.9e-13 (line-search interpolation amplifies rounding)

LBFGS_CASES = [
    {},
    {"max_iter": 4},
    {"max_iter": 5, "history_size": 3},
    {"lr": 0.5, "max_iter": 3, "history_size": 2},
    {"line_search_fn": "strong_wolfe"},
    {"line_search_fn": "strong_wolfe", "max_iter": 4, "history_size": 3},
    {"line_search_fn": "strong_wolfe", "max_iter": 6, "max_eval": 8, "history_size": 2},
    {"line_search_fn": "strong_wolfe", "lr": 3.0, "max_iter": 3},  # zoom phase
    {"line_search_fn": "strong_wolfe", "lr": 0.02, "max_iter": 5},  # extrapolation phase
]


@pytest.mark.parametrize("hp", LBFGS_CASES, ids=[str(h) for h in LBFGS_CASES])
def test_lbfgs_matches_torch(hp):
    outer = 6
    shared = dict(hp)
    x = X0.copy()
    opt = create("lbfgs", **shared)
    st = opt.init(x)

    p = torch.tensor(X0.copy(), requires_grad=True)
    tkw = dict(shared)
    if "max_eval" not in tkw:
        tkw["max_eval"] = None
    topt = torch.optim.LBFGS([p], **tkw)

    def closure():
        topt.zero_grad()
        f, g = loss_grad(p.detach().numpy().copy())
        p.grad = torch.from_numpy(g)
        return torch.tensor(f)

    n_evals = 0

    def ours_closure(z):
        nonlocal n_evals
        n_evals += 1
        return loss_grad(z)

    for _ in range(outer):
        f_ours = opt.step(x, None, st, closure=ours_closure)
        f_ref = float(topt.step(closure))
        assert f_ours == pytest.approx(f_ref, rel=1e-12, abs=1e-12)
        assert np.max(np.abs(x - p.detach().numpy())) <= LBFGS_TOL
    tstate = topt.state[p]
    assert st["func_evals"] == tstate["func_evals"] == n_evals
    assert st["n_iter"] == tstate["n_iter"]
    assert st["hist_len"] == len(tstate["old_dirs"])
    assert abs(loss_grad(x)[0] - loss_grad(X0)[0]) > 1e-3
