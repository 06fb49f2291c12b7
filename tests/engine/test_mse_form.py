"""The regression loss's form (RunConfig.mse_form) reaches the network, the loop and the stack.

Deck 002 writes L(y, ŷ) = ½ Σᵢ (ŷᵢ − yᵢ)² per sample; torch's MSELoss averages
over the k outputs without the ½. With the mean over the n samples always
taken, dL/dz is 2c (z − y) / d with c = ½ or 1 and d = n k (mean) or n (sum).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import data
from engine.config import RunConfig
from engine.nn import MLP
from engine.stacked import stack_key, train_many
from engine.train import train

# a linear model with 2 inputs and k = 3 outputs, n = 2 samples, started at W = 0, b = 0,
# so the residual is −Y and dL/dW = Xᵀ(−Y)·2c/d, dL/db = Σ(−Y)·2c/d
X = np.array([[1.0, 2.0], [3.0, -1.0]])
Y = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])
XT_Y = np.array([[1.0, 3.0, -1.0], [2.0, -1.0, 5.0]])  # Xᵀ Y, worked by hand
SUM_Y = np.array([1.0, 1.0, 1.0])  # Σ over samples of Y
SQ = 7.0  # Σ of Y²
N, K = 2, 3
# form -> (c, d)
FORMS = {"mean": (1.0, N * K), "half_mean": (0.5, N * K), "sum": (1.0, N), "half_sum": (0.5, N)}


def grads(form: str) -> tuple[float, dict[str, np.ndarray]]:
    net = MLP(2, (), K, output="identity", mse_form=form)
    params = np.zeros(net.n_params)
    g = np.zeros_like(params)
    loss = net.loss_grad(params, X, Y, g)
    return loss, net.views(g)[0]


@pytest.mark.parametrize("form", FORMS)
def test_network_gradient_by_hand(form):
    c, d = FORMS[form]
    loss, g = grads(form)
    assert loss == pytest.approx(c * SQ / d, rel=1e-15)
    np.testing.assert_allclose(g["W"], -2 * c / d * XT_Y, rtol=1e-15)
    np.testing.assert_allclose(g["b"], -2 * c / d * SUM_Y, rtol=1e-15)


def test_deck_form_literal_numbers():
    # ½ Σ over outputs, mean over the 2 samples: loss ½·7/2, gradient −XᵀY/2
    loss, g = grads("half_sum")
    assert loss == 1.75
    np.testing.assert_array_equal(g["W"], [[-0.5, -1.5, 0.5], [-1.0, 0.5, -2.5]])
    np.testing.assert_array_equal(g["b"], [-0.5, -0.5, -0.5])
    # torch's MSELoss: loss 7/6, gradient −XᵀY/3; the deck's is k/2 = 1.5 times it
    loss_t, g_t = grads("mean")
    assert loss_t == pytest.approx(7 / 6, rel=1e-15)
    np.testing.assert_allclose(g["W"], K / 2 * g_t["W"], rtol=1e-15)


def test_the_other_outputs_ignore_it():
    a = MLP(2, (3,), 4, output="softmax", mse_form="half_sum")
    assert a.loss_name == "softmax_ce"
    assert MLP(2, (), 1, output="identity", mse_form="sum").loss_name == "identity_mse_sum"
    with pytest.raises(ValueError, match="mse_form: 'half' is not allowed"):
        MLP(2, (), 1, output="identity", mse_form="half")


BASE = {"dataset": "diabetes", "hidden": (4,), "optimizer": "sgd", "optimizer_params": {"lr": 0.01},
        "mode": "batch", "epochs": 1}


@pytest.fixture(scope="module")
def runs():
    return {form: train(RunConfig(**BASE, mse_form=form)) for form in FORMS}


def test_training_steps_scale_as_the_forms_imply(runs):
    """One full-batch SGD step: Δθ = −α g, so the steps are in the forms' ratio (k = 1 output
    here: ½ Σ and ½ mean give half the step of the mean, Σ the same)."""
    cfg = RunConfig(**BASE)
    ds = data.load(cfg.dataset, cfg.dataset_params, cfg.val_fraction, cfg.test_fraction, cfg.seed,
                   cfg.dtype)
    assert ds.n_outputs == 1
    net = MLP(ds.n_features, cfg.hidden, 1, cfg.activation, ds.output)
    theta0 = net.init_params(np.random.default_rng([cfg.seed, 0]), cfg.initializer)
    step = {form: r.params - theta0 for form, r in runs.items()}
    ratio = {"mean": 1.0, "half_mean": 0.5, "sum": 1.0, "half_sum": 0.5}
    for form, f in ratio.items():
        np.testing.assert_allclose(step[form], f * step["mean"], rtol=1e-12, atol=1e-15)
    # the reported losses carry the same factor (the initial row: the same θ₀ for all)
    loss0 = {form: float(r.history["train_loss"].iloc[0]) for form, r in runs.items()}
    for form, f in ratio.items():
        assert loss0[form] == pytest.approx(f * loss0["mean"], rel=1e-12)
    assert not np.array_equal(step["half_sum"], step["mean"])


def test_it_is_part_of_the_key_and_the_stack_key():
    a, b = RunConfig(**BASE), RunConfig(**BASE, mse_form="half_sum")
    assert a.key() != b.key()
    assert stack_key(a) != stack_key(b)
    with pytest.raises(ValueError, match="mse_form: 'half' is not allowed; allowed: one of 'mean'"):
        RunConfig(**BASE, mse_form="half")
    assert RunConfig.from_dict(b.to_dict()) == b


def test_stacked_runs_of_one_form_are_bit_identical_to_training_alone():
    cfgs = [RunConfig(**{**BASE, "optimizer_params": {"lr": lr}, "epochs": 3}, mse_form="half_sum")
            for lr in (0.01, 0.03)]
    assert stack_key(cfgs[0]) == stack_key(cfgs[1])
    stacked = train_many(cfgs)
    assert stacked[0].timings["stacked_runs"] == 2.0
    for cfg, r in zip(cfgs, stacked, strict=True):
        alone = train(cfg)
        np.testing.assert_array_equal(r.params, alone.params)
        np.testing.assert_array_equal(r.history["train_loss"], alone.history["train_loss"])


def test_the_regression_loss_is_offered_only_where_the_task_can_be_regression():
    from engine.config import FIELD

    form = FIELD["mse_form"]
    assert form.matters({"dataset": "diabetes"}) and form.matters({"dataset": "csv"})
    assert not form.matters({"dataset": "moons"}) and not form.matters({"dataset": "digits"})
