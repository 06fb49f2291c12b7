"""Properties every registered optimizer must have, looped over the REGISTRY.

Convergence on an ill-conditioned quadratic (one table row per optimizer; a
new registry entry without a row fails), float32 in -> float32 out, a state
that survives .npz exactly, spec metadata, validation messages, and
equivalences between entries.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from engine.optim import REGISTRY, create, state_from_arrays, state_to_arrays
from engine.spec import Hyper

D = np.array([1.0, 5.0])           # f = 0.5·(x1² + 5·x2²)
START = np.array([3.0, -2.0])


def quad(x):
    return float(0.5 * np.sum(D * x * x)), (D * x).astype(x.dtype)


# name -> (hyperparameters, steps). Every registry entry needs a row.
CONVERGENCE = {
    "sgd": ({"lr": 0.1}, 120),
    "gd": ({"lr": 0.1}, 120),
    "momentum": ({"lr": 0.05, "momentum": 0.5}, 120),
    "nesterov": ({"lr": 0.05, "momentum": 0.5}, 120),
    "adagrad": ({"lr": 1.0}, 60),
    "rmsprop": ({"lr": 0.05, "eps": 0.1}, 200),
    "adadelta": ({"lr": 0.3, "eps": 1e-2}, 200),
    "adam": ({"lr": 0.1}, 250),
    "adamw": ({"lr": 0.1, "weight_decay": 0.0}, 250),
    "adamax": ({"lr": 0.1}, 250),
    "nadam": ({"lr": 0.1}, 250),
    "radam": ({"lr": 0.1}, 350),
    "asgd": ({"lr": 0.1}, 150),
    "rprop": ({"lr": 0.1}, 100),
    "lbfgs": ({}, 3),
    "adagrad_book": ({"lr": 1.0}, 60),
    "rmsprop_book": ({"lr": 0.05, "eps": 0.1}, 200),
    "gradlr": ({"lr": 0.35, "control": 0.01}, 60),
    "adabound": ({"lr": 0.1}, 250),
    "adam_nobc": ({"lr": 0.1}, 250),
    "lookahead": ({"inner": "sgd", "inner_params": {"lr": 0.1}}, 250),
    "momentum_deck": ({"lr": 0.05, "momentum": 0.5}, 120),
    "nesterov_deck": ({"lr": 0.05, "momentum": 0.5}, 120),
    "adam_deck": ({"lr": 0.1}, 250),
    "adamw_deck": ({"lr": 0.1, "weight_decay": 0.0}, 250),
    "adagrad_deck000": ({"lr": 1.0}, 60),
    "rmsprop_deck000": ({"lr": 0.05, "eps": 0.1}, 200),
    "adam_deck000": ({"lr": 0.1}, 250),
}

NAMES = list(REGISTRY)


def drive(name, hp, steps, x0=START, dtype=np.float64, grad=None):
    x = np.array(x0, dtype=dtype)
    opt = create(name, **hp)
    state = opt.init(x)
    for _ in range(steps):
        g = quad(x)[1] if grad is None else grad(x)
        opt.step(x, g, state, closure=quad)
    return x, state, opt


def test_every_registry_entry_has_a_convergence_row():
    assert set(CONVERGENCE) == set(REGISTRY)


@pytest.mark.parametrize("name", NAMES)
def test_converges_on_ill_conditioned_quadratic(name):
    hp, steps = CONVERGENCE[name]  # KeyError: add a row for the new optimizer
    x, _, _ = drive(name, hp, steps)
    assert np.linalg.norm(x) <= 1e-3, f"{name} ended at {x}"


# -- dtype and state ---------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32(name):
    hp, _ = CONVERGENCE[name]
    x, state, _ = drive(name, hp, 10, dtype=np.float32)
    assert x.dtype == np.float32
    assert np.isfinite(x).all()
    for k, v in state.items():
        if isinstance(v, np.ndarray):
            assert v.dtype == np.float32, f"state[{k!r}] is {v.dtype}"
            assert np.isfinite(v).all(), k


def _sin_grad(x):
    return (D * x + 0.5 * np.sin(3 * x)).astype(x.dtype)


def _assert_same_state(a, b):
    assert set(a) == set(b)
    for k in a:
        assert type(a[k]) is type(b[k]), k
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            assert a[k] == b[k], k


@pytest.mark.parametrize("name", NAMES)
def test_state_is_flat_and_round_trips_through_npz(name):
    hp, _ = CONVERGENCE[name]
    x, state, opt = drive(name, hp, 5, grad=_sin_grad)
    for k, v in state.items():
        assert isinstance(v, np.ndarray | bool | int | float), f"state[{k!r}] is {type(v)}"
        assert not isinstance(v, np.generic), f"state[{k!r}] is a NumPy scalar"
        if isinstance(v, np.ndarray):
            assert v.ndim >= 1
    buf = io.BytesIO()
    np.savez(buf, **state_to_arrays(state))
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:
        restored = state_from_arrays(dict(f))
    _assert_same_state(state, restored)
    # a fresh optimizer continues from the restored state bit for bit
    x2 = x.copy()
    opt2 = create(name, **hp)
    for _ in range(5):
        opt.step(x, _sin_grad(x), state, closure=quad)
        opt2.step(x2, _sin_grad(x2), restored, closure=quad)
    np.testing.assert_array_equal(x, x2)
    _assert_same_state(state, restored)


def test_state_to_arrays_keeps_scalar_types():
    state = {"step": 3, "flag": True, "mu": 0.1 + 0.2, "big": 2**40, "v": np.arange(3.0)}
    arrays = state_to_arrays(state)
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    back = state_from_arrays(arrays)
    _assert_same_state(state, back)
    assert back["mu"] == 0.1 + 0.2
    assert back["v"] is not state["v"]


@pytest.mark.parametrize("bad", [None, [1, 2], {"a": 1}, "text", np.array(1.0)])
def test_state_to_arrays_rejects_non_flat_values(bad):
    with pytest.raises(TypeError, match="state.x"):
        state_to_arrays({"x": bad})


# -- specs ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_spec_metadata(name):
    spec = REGISTRY[name]
    assert spec.label and spec.help and spec.reference, name
    assert "\n" not in spec.help
    assert spec.factory is not None
    for h in spec.hypers:
        assert h.help and "\n" not in h.help, f"{name}.{h.name} has no one-line help"
        if h.kind in ("float", "int"):
            assert h.low is not None and h.high is not None, f"{name}.{h.name} needs a UI range"
            assert h.low <= h.default <= h.high
        if h.kind == "pair":
            assert len(h.default) == 2
    defaults = spec.resolve({}, "optimizer_params")
    opt = create(name, **defaults)
    assert opt.name == name
    if "lr" in defaults:
        assert opt.lr == defaults["lr"]


def test_full_batch_only_flag():
    assert REGISTRY["lbfgs"].extra.get("full_batch_only") is True
    assert [n for n in REGISTRY if REGISTRY[n].extra.get("full_batch_only")] == ["lbfgs"]


TORCH_DEFAULTS = {
    "sgd": {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    "adagrad": {"lr": 1e-2, "lr_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10},
    "rmsprop": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False},
    "adadelta": {"lr": 1.0, "rho": 0.9, "eps": 1e-6},
    "adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
             "decoupled_weight_decay": False},
    "adamw": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2},
    "adamax": {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8},
    "nadam": {"lr": 2e-3, "momentum_decay": 4e-3, "decoupled_weight_decay": False},
    "radam": {"lr": 1e-3, "eps": 1e-8, "decoupled_weight_decay": False},
    "asgd": {"lr": 1e-2, "lambd": 1e-4, "alpha": 0.75, "t0": 1e6},
    "rprop": {"lr": 1e-2, "etas": (0.5, 1.2), "step_sizes": (1e-6, 50.0)},
    "lbfgs": {"lr": 1.0, "max_iter": 20, "tolerance_grad": 1e-7, "tolerance_change": 1e-9,
              "history_size": 100, "line_search_fn": None},
    "adabound": {"lr": 1e-3, "final_lr": 0.1, "gamma": 1e-3, "eps": 1e-8, "amsbound": False},
    "rmsprop_book": {"lr": 1e-3, "rho": 0.9, "eps": 1e-6},
    "rmsprop_deck000": {"rho": 0.1, "eps": 1e-6},
    "adagrad_deck000": {"eps": 1e-6},
    "adam_deck000": {"eps": 1e-6, "betas": (0.9, 0.999)},
    "adam_deck": {"lr": 1e-3, "eps": 1e-8, "eps_under": "v_hat"},
    "momentum_deck": {"lr": 0.1, "momentum": 0.9},
    "adagrad_book": {"eps": 1e-7, "eps_inside_sqrt": False},
    "gradlr": {"lr": 0.1, "control": 0.99},
    "lookahead": {"inner": "adam", "inner_params": {}, "k": 5, "alpha": 0.5},
}


@pytest.mark.parametrize("name", list(TORCH_DEFAULTS))
def test_defaults(name):
    d = REGISTRY[name].defaults()
    for k, v in TORCH_DEFAULTS[name].items():
        assert d[k] == v, f"{name}.{k}"


# -- validation ----------------------------------------------------------------------

@pytest.mark.parametrize("name,hp,field", [
    ("adam", {"lr": -0.1}, "optimizer_params.lr"),
    ("sgd", {"lr": -1e-3}, "optimizer_params.lr"),
    ("adam", {"betas": (1.0, 0.999)}, "optimizer_params.betas[0]"),
    ("adam", {"betas": (0.9, 1.0)}, "optimizer_params.betas[1]"),
    ("nadam", {"betas": (-0.1, 0.9)}, "optimizer_params.betas[0]"),
    ("adamw", {"betas": (0.9,)}, "optimizer_params.betas"),
    ("rprop", {"etas": (1.0, 1.2)}, "optimizer_params.etas[0]"),
    ("rprop", {"etas": (0.0, 1.2)}, "optimizer_params.etas[0]"),
    ("rprop", {"etas": (0.5, 1.0)}, "optimizer_params.etas[1]"),
    ("adam", {"momentum": 0.9}, "optimizer_params.momentum"),
    ("rprop", {"weight_decay": 0.1}, "optimizer_params.weight_decay"),
    ("sgd", {"nesterov": True}, "optimizer_params.nesterov"),
    ("sgd", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "optimizer_params.nesterov"),
    ("adadelta", {"rho": 1.5}, "optimizer_params.rho"),
    ("adam", {"eps": -1e-8}, "optimizer_params.eps"),
    ("adabound", {"gamma": 0.0}, "optimizer_params.gamma"),
    ("lbfgs", {"line_search_fn": "armijo"}, "optimizer_params.line_search_fn"),
    ("lbfgs", {"history_size": 2.5}, "optimizer_params.history_size"),
    ("lookahead", {"inner": "adamx"}, "optimizer_params.inner"),
    ("lookahead", {"inner": "lbfgs"}, "optimizer_params.inner"),
    ("lookahead", {"inner": "lookahead"}, "optimizer_params.inner"),
    ("lookahead", {"inner_params": {"lr": -1.0}}, "optimizer_params.inner_params.lr"),
    ("lookahead", {"inner_params": {"momentum": 0.9}}, "optimizer_params.inner_params.momentum"),
    ("lookahead", {"k": 0}, "optimizer_params.k"),
])
def test_bad_hyperparameters_name_the_field(name, hp, field):
    with pytest.raises(ValueError) as err:
        create(name, **hp)
    msg = str(err.value)
    assert msg.startswith(field + ":"), msg
    assert "allowed" in msg


def test_unknown_optimizer_lists_the_known_names():
    with pytest.raises(ValueError) as err:
        create("adamx")
    msg = str(err.value)
    assert "'adamx'" in msg
    for name in REGISTRY:
        assert name in msg


@pytest.mark.parametrize("name", NAMES)
def test_every_lower_bound_is_enforced(name):
    for h in REGISTRY[name].hypers:
        if h.kind not in ("float", "int") or h.low is None:
            continue
        bad = h.low if h.low_open else h.low - 1
        with pytest.raises(ValueError, match=rf"optimizer_params\.{h.name}:"):
            create(name, **{h.name: bad})


# -- equivalences ----------------------------------------------------------------------

def trajectory(name, steps=30, **hp):
    x = START.copy()
    opt = create(name, **hp)
    st = opt.init(x)
    out = []
    for _ in range(steps):
        opt.step(x, _sin_grad(x), st, closure=quad)
        out.append(x.copy())
    return np.array(out)


def test_adamw_without_decay_is_adam():
    np.testing.assert_array_equal(trajectory("adamw", lr=0.05, weight_decay=0.0), trajectory("adam", lr=0.05))
    np.testing.assert_array_equal(
        trajectory("adamw", lr=0.05, weight_decay=0.1, amsgrad=True),
        trajectory("adam", lr=0.05, weight_decay=0.1, amsgrad=True, decoupled_weight_decay=True),
    )
    assert np.abs(trajectory("adamw", lr=0.05) - trajectory("adam", lr=0.05)).max() > 1e-6


def test_sgd_presets():
    np.testing.assert_array_equal(trajectory("gd", lr=0.1), trajectory("sgd", lr=0.1))
    np.testing.assert_array_equal(trajectory("gd"), trajectory("sgd", lr=0.1, momentum=0.0, nesterov=False))
    np.testing.assert_array_equal(trajectory("momentum"), trajectory("sgd", lr=0.1, momentum=0.9))
    np.testing.assert_array_equal(
        trajectory("nesterov", momentum=0.5), trajectory("sgd", lr=0.1, momentum=0.5, nesterov=True))
    # dampening is irrelevant without momentum
    np.testing.assert_array_equal(trajectory("sgd", lr=0.1, dampening=0.5), trajectory("sgd", lr=0.1))


@pytest.mark.parametrize("inner,params", [
    ("adam", {"lr": 0.05}), ("sgd", {"lr": 0.05, "momentum": 0.9}), ("rmsprop", {"centered": True}),
    ("rprop", {}), ("gradlr", {}),
])
def test_lookahead_k1_alpha1_is_its_inner_optimizer(inner, params):
    np.testing.assert_array_equal(
        trajectory("lookahead", inner=inner, inner_params=params, k=1, alpha=1.0),
        trajectory(inner, **params),
    )


def test_lookahead_forwards_lr_to_the_inner_optimizer():
    opt = create("lookahead", inner="adam", inner_params={"lr": 0.01})
    assert opt.lr == 0.01
    opt.lr = 0.5
    assert opt.inner.lr == 0.5
    x = START.copy()
    st = opt.init(x)
    ref = create("adam", lr=0.5)
    xr = START.copy()
    sr = ref.init(xr)
    for _ in range(4):  # before the first slow step (k = 5)
        opt.step(x, _sin_grad(x), st)
        ref.step(xr, _sin_grad(xr), sr)
    np.testing.assert_array_equal(x, xr)
    assert set(st) == {"inner.step", "inner.exp_avg", "inner.exp_avg_sq", "step", "slow"}


def test_book_variants_differ_from_torch_only_in_eps():
    # same ε placement (outside √): the book AdaGrad is torch's
    np.testing.assert_allclose(
        trajectory("adagrad_book", lr=0.1, eps=0.3), trajectory("adagrad", lr=0.1, eps=0.3), atol=1e-13)
    # without ε, book RMSProp is torch's RMSprop with α = ρ
    np.testing.assert_allclose(
        trajectory("rmsprop_book", lr=0.01, rho=0.9, eps=0.0),
        trajectory("rmsprop", lr=0.01, alpha=0.9, eps=0.0), atol=1e-13)
    # a big ε inside vs outside the root is visible
    d = trajectory("rmsprop_book", lr=0.01, eps=0.1) - trajectory("rmsprop", lr=0.01, alpha=0.9, eps=0.1)
    assert np.abs(d).max() > 1e-3


def test_grad_is_never_modified():
    for name in NAMES:
        hp, _ = CONVERGENCE[name]
        extra = {"maximize": True} if any(h.name == "maximize" for h in REGISTRY[name].hypers) else {}
        if any(h.name == "weight_decay" for h in REGISTRY[name].hypers):
            extra["weight_decay"] = 0.1
        x = START.copy()
        opt = create(name, **{**hp, **extra})
        st = opt.init(x)
        for _ in range(3):
            g = _sin_grad(x)
            g0 = g.copy()
            opt.step(x, g, st, closure=quad)
            np.testing.assert_array_equal(g, g0, err_msg=name)


def test_hyper_kinds_used():
    pairs = [h for n in NAMES for h in REGISTRY[n].hypers if h.kind == "pair"]
    assert {h.name for h in pairs} == {"betas", "etas", "step_sizes"}
    assert all(isinstance(h, Hyper) for h in pairs)
