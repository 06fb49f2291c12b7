"""Learning-rate schedules: deck tables, textbook formulas and torch/nanoGPT oracles."""

import math

import numpy as np
import pytest

from engine import schedules
from engine.schedules import REGISTRY, Plateau, create, preview

# -- deck 001: linear decay until τ ------------------------------------------------

def test_linear_reproduces_deck_001_table_for_tau_4():
    a0, a_tau = 0.8, 0.2  # final_fraction = 0.25
    fn = create("linear", a0, 100, tau=4, final_fraction=0.25)
    # the slide's table: iteration k uses ε = k/τ
    assert fn(1) == pytest.approx(3 / 4 * a0 + 1 / 4 * a_tau, rel=1e-15)
    assert fn(2) == pytest.approx(2 / 4 * a0 + 2 / 4 * a_tau, rel=1e-15)
    assert fn(3) == pytest.approx(1 / 4 * a0 + 3 / 4 * a_tau, rel=1e-15)
    assert fn(4) == pytest.approx(a_tau, rel=1e-15)
    assert fn(5) == pytest.approx(a_tau, rel=1e-15)
    assert fn(1000) == pytest.approx(a_tau, rel=1e-15)


def test_linear_tau_zero_means_the_whole_run():
    fn = create("linear", 1.0, 10, tau=0, final_fraction=0.0)
    assert fn(5) == pytest.approx(0.5)
    assert fn(10) == 0.0
    assert create("linear", 1.0, 10)(10) == pytest.approx(0.01)  # default α_τ = 1 % of α₀


# -- textbook formulas at hand-picked t -------------------------------------------------

def test_step_decay():
    fn = create("step", 1.0, 100, step_size=3, gamma=0.5)
    assert [fn(t) for t in (1, 2, 3)] == [1.0, 1.0, 1.0]
    assert fn(4) == 0.5 and fn(6) == 0.5
    assert fn(7) == 0.25
    assert fn(10) == 0.125


def test_exponential_decays_before_the_first_update():
    fn = create("exponential", 0.1, 100, gamma=0.99)
    assert fn(1) == pytest.approx(0.1 * 0.99, rel=1e-15)
    assert fn(2) == pytest.approx(0.1 * 0.99 * 0.99, rel=1e-15)
    assert fn(50) == pytest.approx(0.1 * math.pow(0.99, 50), rel=1e-14)


def test_exponential_matches_the_deck_000_loop():
    alpha, K = 0.1, 0.99
    fn = create("exponential", alpha, 300, gamma=K)
    for t in range(1, 301):
        alpha *= K  # deck: decay, then update t
        assert fn(t) == pytest.approx(alpha, rel=1e-12)


def test_cosine_matches_torch_cosine_annealing():
    lr, m, T = 1.0, 0.1, 10
    fn = create("cosine", lr, T, min_lr=m)
    assert fn(1) == lr  # torch: T_cur = 0 for the first update
    assert fn(6) == pytest.approx(m + (lr - m) * 0.5)  # T_cur = 5 = T/2
    assert fn(T) > m  # the floor is not used within the budget
    assert fn(T + 1) == pytest.approx(m)
    assert fn(T + 50) == pytest.approx(m)  # clamped after the budget


def _nanogpt_get_lr(it, learning_rate, warmup_iters, lr_decay_iters, min_lr):
    # karpathy/nanoGPT train.py, copied as the oracle
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    assert 0 <= decay_ratio <= 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


def test_warmup_cosine_hand_values():
    fn = create("warmup_cosine", 2.0, 24, warmup=4, min_lr=0.0)
    assert fn(1) == pytest.approx(2.0 * 1 / 5)
    assert fn(4) == pytest.approx(2.0 * 4 / 5)
    assert fn(5) == 2.0  # the peak
    assert fn(15) == pytest.approx(1.0)  # halfway through the 20 decay updates


@pytest.mark.parametrize("warmup", [0, 1, 7])
def test_warmup_cosine_is_nanogpt_get_lr(warmup):
    T, lr, m = 50, 0.3, 0.01
    fn = create("warmup_cosine", lr, T, warmup=warmup, min_lr=m)
    for t in range(1, T + 1):
        assert fn(t) == pytest.approx(_nanogpt_get_lr(t - 1, lr, warmup, T, m), rel=1e-14)


def test_warmup_cosine_without_warmup_is_cosine():
    a = preview("warmup_cosine", 0.5, 40, warmup=0, min_lr=0.05)
    b = preview("cosine", 0.5, 40, min_lr=0.05)
    np.testing.assert_allclose(a, b, rtol=1e-15)


def test_inverse_time():
    fn = create("inverse_time", 0.6, 100, decay=1.0)
    assert [fn(t) for t in (1, 2, 3)] == pytest.approx([0.6, 0.3, 0.2])
    assert create("inverse_time", 1.0, 100, decay=0.5)(5) == pytest.approx(1 / 3)


def test_constant():
    fn = create("constant", 0.25, 10)
    assert {fn(t) for t in range(1, 100)} == {0.25}


# -- registry-wide ----------------------------------------------------------------

@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_schedule_gives_finite_positive_lr(name):
    fn = create(name, 0.1, 1000)
    lrs = np.array([fn(t) for t in range(1, 1001)])
    assert np.isfinite(lrs).all()
    assert (lrs > 0).all()
    assert lrs.max() <= 0.1 * (1 + 1e-12)  # no default schedule exceeds the base lr


@pytest.mark.parametrize("name", list(REGISTRY))
def test_preview_equals_calling_the_function(name):
    fn = create(name, 0.05, 137)
    p = preview(name, 0.05, 137)
    assert p.shape == (137,) and p.dtype == np.float64
    np.testing.assert_array_equal(p, [fn(t) for t in range(1, 138)])


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_spec_is_documented(name):
    spec = REGISTRY[name]
    assert spec.label and spec.help and spec.reference
    assert callable(spec.factory)
    for h in spec.hypers:
        assert h.help, f"{name}.{h.name} has no help"
        assert h.kind in ("float", "int")
        assert h.low is not None and h.high is not None
        assert not (h.log and h.low is not None and h.low <= 0 and not h.low_open)
        h.validate(h.default)  # defaults are inside their own range


def test_validation_errors_name_the_field():
    with pytest.raises(ValueError, match=r"schedule_params\.gamma"):
        create("step", 0.1, 100, gamma=2.0)
    with pytest.raises(ValueError, match=r"schedule_params\.warmpu"):
        create("warmup_cosine", 0.1, 100, warmpu=3)
    with pytest.raises(ValueError, match=r"schedule_params\.step_size"):
        create("step", 0.1, 100, step_size=0)
    with pytest.raises(ValueError, match=r"schedule: 'nope' is not known; allowed: .*cosine"):
        create("nope", 0.1, 100)
    with pytest.raises(ValueError, match="total_updates"):
        create("cosine", 0.1, 0)


# -- reduce on plateau (torch ReduceLROnPlateau semantics) ----------------------------

def test_plateau_reduces_after_patience_bad_evaluations():
    p = Plateau(factor=0.5, patience=2)
    assert p.update(1.0) == 1.0  # first value sets best
    assert p.update(1.0) == 1.0  # bad 1
    assert p.update(1.0) == 1.0  # bad 2 = patience: still tolerated
    assert p.update(1.0) == 0.5  # bad 3 > patience: drop
    assert p.update(1.0) == 0.5
    assert p.update(1.0) == 0.5
    assert p.update(1.0) == 0.25


def test_plateau_improvement_resets_the_count_and_threshold_is_relative():
    p = Plateau(factor=0.5, patience=1, threshold=1e-2)
    p.update(1.0)
    p.update(1.0)  # bad 1
    p.update(0.995)  # better than before but not by 1 %: bad 2 -> drop
    assert p.multiplier == 0.5
    p.update(0.98)  # 0.98 < 1.0·0.99: improvement
    p.update(0.98)  # bad 1
    assert p.multiplier == 0.5
    p.update(float("nan"))  # NaN is never better: bad 2 -> drop
    assert p.multiplier == 0.25


def test_plateau_respects_min_lr():
    p = Plateau(factor=0.1, patience=0, min_lr=0.05, lr=1.0)
    p.update(1.0)
    assert p.update(1.0) == pytest.approx(0.1)
    assert p.update(1.0) == pytest.approx(0.05)
    assert p.update(1.0) == pytest.approx(0.05)
    # with a base lr, min_lr is absolute, as in torch
    q = Plateau(factor=0.1, patience=0, min_lr=0.002, lr=0.01)
    q.update(3.0)
    q.update(3.0)
    assert q.lr == pytest.approx(0.002) and q.multiplier == pytest.approx(0.2)


def test_plateau_cooldown_ignores_bad_evaluations():
    p = Plateau(factor=0.5, patience=0, cooldown=2)
    p.update(1.0)
    assert p.update(1.0) == 0.5  # drop, cooldown 2 starts
    assert p.update(1.0) == 0.5  # cooldown
    assert p.update(1.0) == 0.5  # cooldown
    assert p.update(1.0) == 0.25


def test_plateau_mode_max():
    p = Plateau(factor=0.5, patience=0, mode="max")
    p.update(0.5)
    assert p.update(0.6) == 1.0  # higher is better
    assert p.update(0.6) == 0.5


def test_plateau_schedule_follows_its_state():
    assert REGISTRY["plateau"].extra["plateau"] is True
    fn = create("plateau", 0.2, 100, factor=0.5, patience=0)
    assert fn(1) == 0.2
    fn.update(3.0)
    fn.update(3.0)
    assert fn(2) == pytest.approx(0.1)
    assert fn.plateau.multiplier == pytest.approx(0.5)
    np.testing.assert_array_equal(preview("plateau", 0.2, 5), [0.2] * 5)


def test_module_exports():
    assert schedules.REGISTRY is REGISTRY
    assert {"constant", "step", "exponential", "linear", "cosine", "warmup_cosine",
            "inverse_time", "plateau"} <= set(REGISTRY)
