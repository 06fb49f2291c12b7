"""Test surfaces: analytic gradients, critical points and the deck formulas."""

import math
import zlib

import numpy as np
import pytest

from engine.surfaces import REGISTRY, get

NAMES = list(REGISTRY)


def _numgrad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _hessian(grad, x, h=1e-5):
    n = x.size
    H = np.zeros((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        H[:, i] = (grad(x + e) - grad(x - e)) / (2 * h)
    return 0.5 * (H + H.T)


def _random_points(spec, n, seed):
    rng = np.random.default_rng(seed)
    lo = np.array([b[0] for b in spec.extra["bounds"]])
    hi = np.array([b[1] for b in spec.extra["bounds"]])
    return lo + (hi - lo) * rng.random((n, spec.extra["dim"]))


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_centred_differences(name):
    spec = REGISTRY[name]
    f, grad = spec.extra["f"], spec.extra["grad"]
    for x in _random_points(spec, 25, seed=zlib.crc32(name.encode())):
        a = grad(x)
        n = _numgrad(f, x)
        assert a.shape == (spec.extra["dim"],) and a.dtype == np.float64
        rel = np.abs(a - n).max() / max(1.0, np.abs(a).max() + np.abs(n).max())
        assert rel < 1e-6, (name, x, a, n)


@pytest.mark.parametrize("name", NAMES)
def test_critical_points(name):
    ex = REGISTRY[name].extra
    f, grad = ex["f"], ex["grad"]
    assert len(ex["minima"]) == len(ex["minima_labels"])
    for p, label in zip(ex["minima"], ex["minima_labels"], strict=False):
        x = np.array(p)
        assert np.abs(grad(x)).max() < 1e-9, (name, p)
        # a minimum: the Hessian is positive definite
        assert (np.linalg.eigvalsh(_hessian(grad, x)) > 0).all(), (name, p)
        if label == "global":
            assert f(x) == pytest.approx(ex["f_min"], abs=1e-12)
        else:
            assert label == "local" and f(x) > ex["f_min"] + 1e-6
    if ex["minima"]:
        assert ex["minima_labels"][0] == "global"
    for p in ex["saddles"]:
        x = np.array(p)
        assert np.abs(grad(x)).max() < 1e-9, (name, p)
        eig = np.linalg.eigvalsh(_hessian(grad, x))
        assert eig.min() < 0 < eig.max(), (name, p, eig)


@pytest.mark.parametrize("name", NAMES)
def test_f_grid_agrees_with_f(name):
    spec = REGISTRY[name]
    ex = spec.extra
    axes = [np.linspace(lo, hi, 7) for lo, hi in ex["bounds"]]
    mesh = np.meshgrid(*axes)
    Z = ex["f_grid"](*mesh)
    assert Z.shape == mesh[0].shape
    for idx in np.ndindex(Z.shape):
        x = np.array([m[idx] for m in mesh])
        assert Z[idx] == pytest.approx(ex["f"](x), rel=1e-14, abs=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_spec_facts(name):
    spec = REGISTRY[name]
    ex = spec.extra
    assert spec.label and spec.help and spec.reference
    assert ex["dim"] in (1, 2)
    assert len(ex["bounds"]) == ex["dim"] and len(ex["start"]) == ex["dim"]
    for (lo, hi), s in zip(ex["bounds"], ex["start"], strict=False):
        assert lo < s < hi
    for p in ex["minima"] + ex["saddles"]:
        assert len(p) == ex["dim"]
        assert all(lo <= v <= hi for (lo, hi), v in zip(ex["bounds"], p, strict=False))
    assert isinstance(ex["f"](np.array(ex["start"])), float)


def test_quartic_is_the_deck_000_function():
    # deck 000 obj_fun / obj_fun_deriv, typed from the slide
    def obj_fun(val):
        return 319 / 8400 * val**4 + 43 / 4200 * val**3 - 6799 / 8400 * val**2 - 299 / 840 * val + 6

    def obj_fun_deriv(val):
        return 4 * 319 / 8400 * val**3 + 3 * 43 / 4200 * val**2 + 2 * -6799 / 8400 * val - 299 / 840

    ex = get("quartic").extra
    for v in (-5.0, -3.25, 0.0, 1.7, 5.0):
        assert ex["f"](np.array([v])) == pytest.approx(obj_fun(v), rel=1e-14)
        assert ex["grad"](np.array([v]))[0] == pytest.approx(obj_fun_deriv(v), rel=1e-13, abs=1e-15)
    assert ex["minima"] == ((3.2727653395584366,), (-3.254993730859254,))
    assert ex["minima_labels"] == ("global", "local")
    assert ex["start"] == (-5.0,)


def test_sin_exp_is_the_deck_001_formula_as_printed():
    ex = get("sin_exp").extra
    for x1, x2 in [(0.3, 1.0), (1.5, 2.9), (2.8, 0.1)]:
        want = -math.sin(x1) * (1 / (2 * math.pi)) * math.exp((x2 - math.pi / 2) ** 2)
        assert ex["f"](np.array([x1, x2])) == pytest.approx(want, rel=1e-14)
    assert ex["minima"] == ()  # as printed, (π/2, π/2) is a saddle
    assert ex["saddles"] == ((math.pi / 2, math.pi / 2),)


def test_saddle_and_himmelblau():
    assert get("saddle").extra["f"](np.array([3.0, 2.0])) == 9.0 - 4.0
    ex = get("himmelblau").extra
    assert len(ex["minima"]) == 4 and set(ex["minima_labels"]) == {"global"}
    assert ex["minima"][0] == (3.0, 2.0)


def test_unknown_surface_lists_the_known_ones():
    with pytest.raises(ValueError, match="surface: 'nope' is not known; allowed: .*rosenbrock"):
        get("nope")


def test_registry_has_the_briefed_surfaces():
    assert {"quartic", "saddle", "ravine", "rosenbrock", "beale", "himmelblau",
            "sin_exp", "quadratic"} <= set(REGISTRY)


# -- the cliff, Rastrigin, the slope, and the Hessian -------------------------------

def test_cliff_has_a_steep_face_and_a_minimum_at_its_foot():
    from engine.surfaces import CLIFF_MIN

    ex = get("cliff").extra
    face = np.abs(ex["grad"](np.array([0.0, 0.0])))[0]
    assert face == pytest.approx(0.5 * 40 * 4 + 0.5 * 2, rel=1e-12)  # H·k/2 + s·m
    assert ex["f"](np.array([-3.0, 0.0])) - ex["f"](np.array(CLIFF_MIN)) > 40  # the plateau
    assert abs(CLIFF_MIN[0] - 2.0) < 1e-4 and np.abs(ex["grad"](np.array(CLIFF_MIN))).max() < 1e-12


def test_rastrigin_formula_and_its_wells():
    ex = get("rastrigin").extra
    for x1, x2 in [(0.3, -1.2), (2.5, 4.0)]:
        want = 20 + x1**2 - 10 * math.cos(2 * math.pi * x1) + x2**2 - 10 * math.cos(2 * math.pi * x2)
        assert ex["f"](np.array([x1, x2])) == pytest.approx(want, rel=1e-13)
    assert ex["f"](np.zeros(2)) == 0.0
    # one local minimum just inside every integer
    from engine.surfaces import RASTRIGIN_MINIMA_1D
    assert all(abs(m - k) < 0.03 and (k == 0 or m < k) for k, m in enumerate(RASTRIGIN_MINIMA_1D))


def test_slope_has_a_constant_gradient():
    ex = get("slope").extra
    for x in (-100.0, 0.0, 3.0):
        assert ex["grad"](np.array([x]))[0] == 0.5
    assert ex["minima"] == () and ex["f_min"] is None


def test_hessian_of_the_quadratics_is_exact():
    from engine.surfaces import curvature, hessian

    np.testing.assert_allclose(hessian("saddle", [0.3, -0.7]), [[2, 0], [0, -2]], atol=1e-8)
    np.testing.assert_allclose(hessian("ravine", [1.0, 1.0]), [[1, 0], [0, 20]], atol=1e-8)
    np.testing.assert_allclose(hessian("quartic", [1.5]), [[12 * 319 / 8400 * 1.5**2 + 6 * 43 / 4200 * 1.5
                                                            - 2 * 6799 / 8400]], rtol=1e-7)
    eig, vec = curvature("saddle", [0.0, 0.0])
    np.testing.assert_allclose(eig, [-2, 2], atol=1e-8)
    assert abs(vec[1, 0]) == pytest.approx(1.0)  # the negative curvature runs along x₂


def test_hessian_tells_saddles_from_minima():
    from engine.surfaces import curvature

    for name in ("himmelblau", "rastrigin", "cliff"):
        ex = get(name).extra
        for p in ex["minima"]:
            assert (curvature(name, p)[0] > 0).all(), (name, p)
        for p in ex["saddles"]:
            eig = curvature(name, p)[0]
            assert eig[0] < 0 < eig[-1], (name, p)
    eig = curvature("rastrigin", [0.0, 0.0])[0]
    np.testing.assert_allclose(eig, 2 + 10 * (2 * math.pi) ** 2, rtol=1e-6)


def test_hessian_rejects_a_point_of_the_wrong_size():
    from engine.surfaces import hessian

    with pytest.raises(ValueError, match="x: .* allowed: 2 numbers"):
        hessian("saddle", [1.0])
