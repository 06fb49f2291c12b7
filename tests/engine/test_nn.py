"""engine.nn: gradient checks, parameter layout, initializers, batch norm, dtypes.

Oracles: centred finite differences (CS231n / scikit-learn ``test_gradient``)
and a naive sample-major reference forward pass written out below.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import nn
from engine.nn import ACTIVATIONS, INITIALIZERS, LOSSES, MLP

OUTPUTS = ("sigmoid", "softmax", "identity")


# -- a naive reference implementation (sample-major, no buffers) -------------
REF_ACT = {
    "identity": lambda z: z,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.where(z > 0, z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1),
    "softplus": lambda z: np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0),
}


def ref_forward(net: MLP, params, X, state=None, train=True):
    """Logits and per-BN-layer batch (mean, biased var) by the textbook formulas."""
    a = X
    stats = []
    views = net.views(params)
    for i, v in enumerate(views[:-1]):
        h = REF_ACT[net.activation](a @ v["W"] + v["b"])
        if net.batchnorm:
            if train:
                mu, var = h.mean(axis=0), h.var(axis=0)
            else:
                mu, var = state[f"bn{i + 1}.mean"], state[f"bn{i + 1}.var"]
            stats.append((h.mean(axis=0), h.var(axis=0)))
            h = v["gamma"] * (h - mu) / np.sqrt(var + 1e-5) + v["beta"]
        a = h
    return a @ views[-1]["W"] + views[-1]["b"], stats


def ref_loss(output, z, Y):
    if output == "softmax":
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return -np.mean(np.sum(Y * np.log(p), axis=1))
    if output == "sigmoid":
        p = 1 / (1 + np.exp(-z))
        return -np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p))
    return np.mean((z - Y) ** 2)


def make_problem(output, n_in=3, n_out=3, n=7, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in)).astype(dtype)
    if output == "softmax":
        Y = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, n)]
    elif output == "sigmoid":
        n_out = 1
        Y = rng.integers(0, 2, (n, 1)).astype(dtype)
    else:
        Y = rng.normal(size=(n, n_out)).astype(dtype)
    return X, Y, n_out


def random_params(net, rng):
    p = net.init_params(rng, "xavier_normal")
    # non-trivial biases and BN affine parameters, so every term is exercised
    for v in net.views(p):
        v["b"][:] = rng.normal(scale=0.5, size=v["b"].shape)
        if "gamma" in v:
            v["gamma"][:] = rng.uniform(0.5, 1.5, size=v["gamma"].shape)
            v["beta"][:] = rng.normal(scale=0.5, size=v["beta"].shape)
    return p


def rel_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


# -- gradient checks ------------------------------------------------------------
GRAD_CASES = [("identity", out, (), False) for out in OUTPUTS] + [
    (act, out, hidden, bn)
    for act in ACTIVATIONS
    for out in OUTPUTS
    for hidden in ((5,), (5, 4))
    for bn in (False, True)
]


@pytest.mark.parametrize("act,output,hidden,bn", GRAD_CASES)
def test_gradient_matches_centred_differences(act, output, hidden, bn):
    X, Y, n_out = make_problem(output)
    net = MLP(3, hidden, n_out, act, output, batchnorm=bn)
    rng = np.random.default_rng(1)
    params = random_params(net, rng)
    grad = np.full(net.n_params, np.nan)  # every entry must be written
    loss = net.loss_grad(params, X, Y, grad)
    assert np.all(np.isfinite(grad))
    # the loss of the training-mode pass equals the textbook formula
    z, _ = ref_forward(net, params, X)
    assert loss == pytest.approx(ref_loss(output, z, Y), rel=1e-12)

    h = 1e-6
    num = np.empty_like(params)
    scratch = np.empty_like(params)
    for i in range(net.n_params):
        old = params[i]
        params[i] = old + h
        fp = net.loss_grad(params, X, Y, scratch)
        params[i] = old - h
        fm = net.loss_grad(params, X, Y, scratch)
        params[i] = old
        num[i] = (fp - fm) / (2 * h)
    assert rel_error(num, grad) < 1e-6, (rel_error(num, grad), num, grad)


def test_gradient_changes_with_the_batch_size_buffers():
    """Alternating batch sizes (cached work buffers) gives the same gradients."""
    X, Y, n_out = make_problem("softmax", n=9)
    net = MLP(3, (6,), n_out, "tanh", "softmax")
    p = random_params(net, np.random.default_rng(0))
    g_full, g_part, g_again = (np.empty(net.n_params) for _ in range(3))
    net.loss_grad(p, X, Y, g_full)
    net.loss_grad(p, X[:4], Y[:4], g_part)
    net.loss_grad(p, X, Y, g_again)
    assert np.array_equal(g_full, g_again)
    assert not np.allclose(g_full, g_part)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_pairs(name):
    spec = ACTIVATIONS[name]
    fwd, bwd = spec.extra["forward"], spec.extra["backward"]
    z = np.linspace(-4, 4, 41)[:, None] + np.array([[0.013, -0.021]])  # avoid exact 0
    a = fwd(z, np.empty_like(z))
    np.testing.assert_allclose(a, REF_ACT[name](z), rtol=1e-12, atol=1e-15)
    # in place (out is z) gives the same values
    zz = z.copy()
    assert fwd(zz, zz) is zz
    np.testing.assert_allclose(zz, a, rtol=1e-14, atol=0)
    # backward multiplies by f'(z); compare with centred differences
    h = 1e-6
    slope = (REF_ACT[name](z + h) - REF_ACT[name](z - h)) / (2 * h)
    delta = np.full_like(z, 3.0)
    bwd(z, a, delta)
    np.testing.assert_allclose(delta, 3.0 * slope, rtol=1e-7, atol=1e-9)
    # with z as the scratch buffer, as the MLP passes it
    delta2 = np.full_like(z, 3.0)
    bwd(z.copy(), a, delta2, z.copy())
    np.testing.assert_allclose(delta2, delta, rtol=1e-15)


@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_stable_for_huge_logits(name):
    spec = LOSSES[name]
    z = np.array([[1000.0, -1000.0, 0.0], [-800.0, 700.0, 3.0]])
    if spec.extra["output"] == "sigmoid":
        z, Y = z[:, :1].copy(), np.array([[0.0], [1.0]])
        expected = (1000.0 + 800.0) / 2  # log(1 + e^1000) - 0  and  log(1 + e^-800) + 800
    elif spec.extra["output"] == "softmax":
        Y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
        expected = (2000.0 + 1500.0) / 2
    else:
        Y = np.zeros_like(z)
        half = 0.5 if "half" in name else 1.0
        per = z.shape[0] if name.endswith("sum") else z.size  # sum forms: mean over samples only
        expected = half * np.sum(z**2) / per
    value = spec.extra["value"](z, Y)
    assert math.isfinite(value)
    assert value == pytest.approx(expected, rel=1e-12)


# -- parameter layout --------------------------------------------------------------
@pytest.mark.parametrize("hidden,bn", [((), False), ((7,), False), ((7, 5), True), ((4, 4, 4), False)])
def test_views_layout_and_n_params(hidden, bn):
    net = MLP(6, hidden, 3, "relu", "softmax", batchnorm=bn)
    sizes = [6, *hidden, 3]
    expected = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    expected += 2 * sum(hidden) if bn else 0
    assert net.n_params == expected == MLP.n_params_for(6, hidden, 3, bn)
    assert net.layer_names == [f"layer{i + 1}" for i in range(len(hidden))] + ["output"]
    # slices tile the vector in order
    starts = [s.start for s in net.layer_slices]
    stops = [s.stop for s in net.layer_slices]
    assert starts[0] == 0 and stops[-1] == net.n_params and starts[1:] == stops[:-1]

    flat = np.zeros(net.n_params)
    views = net.views(flat)
    assert len(views) == len(net.layer_names)
    for i, (v, sl) in enumerate(zip(views, net.layer_slices, strict=True)):
        assert v["W"].shape == (sizes[i], sizes[i + 1]) and v["b"].shape == (sizes[i + 1],)
        assert ("gamma" in v) == (bn and i < len(hidden))
        for arr in v.values():
            assert arr.base is not None and np.shares_memory(arr, flat)
            assert np.shares_memory(arr, flat[sl])
        size = sum(arr.size for arr in v.values())
        assert size == sl.stop - sl.start
    # writing the flat vector shows through the views and vice versa
    flat[:] = np.arange(net.n_params)
    assert views[0]["W"][0, 0] == 0 and views[0]["W"][0, 1] == 1
    assert views[-1]["b"][-1] == net.n_params - 1
    views[-1]["W"][0, 0] = -5.0
    assert flat[net.layer_slices[-1].start] == -5.0


def test_init_params_biases_gamma_beta():
    net = MLP(4, (6, 5), 2, "relu", "sigmoid", batchnorm=True)
    p = net.init_params(np.random.default_rng(0), "he_normal")
    for v in net.views(p):
        assert np.all(v["b"] == 0)
        assert np.count_nonzero(v["W"]) == v["W"].size
        if "gamma" in v:
            assert np.all(v["gamma"] == 1) and np.all(v["beta"] == 0)
    state = net.init_state()
    assert sorted(state) == ["bn1.mean", "bn1.var", "bn2.mean", "bn2.var"]
    assert np.all(state["bn2.mean"] == 0) and np.all(state["bn2.var"] == 1)
    assert MLP(4, (6,), 2).init_state() == {}


def test_rejects_wrong_arrays():
    net = MLP(3, (4,), 2, output="softmax")
    p = net.init_params(np.random.default_rng(0), "he_uniform")
    X, Y = np.zeros((2, 3)), np.eye(2)
    with pytest.raises(ValueError, match="grad: dtype float32"):
        net.loss_grad(p, X, Y, np.zeros(net.n_params, dtype=np.float32))
    with pytest.raises(ValueError, match="params: shape"):
        net.loss_grad(p[:-1].copy(), X, Y, np.zeros(net.n_params))
    with pytest.raises(ValueError, match="X: shape"):
        net.loss_grad(p, np.zeros((2, 5)), Y, np.zeros(net.n_params))
    with pytest.raises(ValueError, match="output: 'tanh'"):
        MLP(3, (), 2, output="tanh")
    with pytest.raises(ValueError, match="activation: 'swish'"):
        MLP(3, (), 2, activation="swish")


# -- initializers ------------------------------------------------------------------
FAN_IN, FAN_OUT = 400, 300
# (std, uniform limit or None) from the textbook formulas
INIT_FORMULAS = {
    "zeros": (0.0, None),
    "normal": (0.01, None),
    "uniform": (0.05 / math.sqrt(3), 0.05),
    "xavier_uniform": (math.sqrt(2 / (FAN_IN + FAN_OUT)), math.sqrt(6 / (FAN_IN + FAN_OUT))),
    "xavier_normal": (math.sqrt(2 / (FAN_IN + FAN_OUT)), None),
    "he_uniform": (math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN)),
    "he_normal": (math.sqrt(2 / FAN_IN), None),
    "lecun_uniform": (math.sqrt(1 / FAN_IN), math.sqrt(3 / FAN_IN)),
    "lecun_normal": (math.sqrt(1 / FAN_IN), None),
}


def test_every_initializer_has_a_formula():
    assert set(INITIALIZERS) == set(INIT_FORMULAS)


@pytest.mark.parametrize("name", list(INIT_FORMULAS))
def test_initializer_statistics(name):
    std, limit = INIT_FORMULAS[name]
    spec = INITIALIZERS[name]
    W = spec.factory(np.random.default_rng(0), FAN_IN, FAN_OUT, (FAN_IN, FAN_OUT), np.float64,
                     **spec.defaults())
    assert W.shape == (FAN_IN, FAN_OUT) and W.dtype == np.float64
    if std == 0:
        assert not W.any()
        return
    assert W.std() == pytest.approx(std, rel=0.01)
    assert abs(W.mean()) < 0.01 * std
    if limit is not None:
        assert np.abs(W).max() <= limit and np.abs(W).max() > 0.999 * limit
    else:  # Gaussian: about 4.6% beyond 2 std
        assert np.mean(np.abs(W) > 2 * std) == pytest.approx(0.0455, abs=0.004)


def test_initializer_hypers_and_float32():
    net = MLP(50, (40,), 3, dtype="float32")
    p = net.init_params(np.random.default_rng(0), "normal", std=0.5)
    assert p.dtype == np.float32
    assert net.views(p)[0]["W"].std() == pytest.approx(0.5, rel=0.05)
    p64 = MLP(50, (40,), 3).init_params(np.random.default_rng(0), "normal", std=0.5)
    assert np.array_equal(p, p64.astype(np.float32))  # same draws, rounded
    with pytest.raises(ValueError, match="init_params.std"):
        net.init_params(np.random.default_rng(0), "normal", std=-1)


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
def test_zero_init_keeps_hidden_units_identical(act):
    """The symmetry problem: with equal weights every hidden unit gets the
    same gradient, so after any number of steps the units are still copies."""
    X, Y, n_out = make_problem("softmax", n_in=4, n_out=3, n=20, seed=3)
    net = MLP(4, (6,), n_out, act, "softmax")
    p = net.init_params(np.random.default_rng(0), "zeros")
    g = np.empty_like(p)
    for _ in range(25):
        net.loss_grad(p, X, Y, g)
        p -= 0.5 * g
    W1, b1 = net.views(p)[0]["W"], net.views(p)[0]["b"]
    W2 = net.views(p)[1]["W"]
    # copies up to rounding: a column sum of the bias gradient may round differently per
    # SIMD lane, which a random init's differences (order 0.1) dwarf by 10 orders
    np.testing.assert_allclose(W1, np.broadcast_to(W1[:, :1], W1.shape), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(b1, np.full_like(b1, b1[0]), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(W2, np.broadcast_to(W2[:1, :], W2.shape), rtol=1e-9, atol=1e-15)
    assert np.any(p != 0)  # it did learn something (the output biases at least)
    if act == "sigmoid":  # a = 1/2 != 0 lets the outgoing weights move, identically
        assert np.any(W2 != 0)
    # a random init breaks the symmetry
    p = net.init_params(np.random.default_rng(0), "he_uniform")
    assert not np.all(net.views(p)[0]["W"] == net.views(p)[0]["W"][:, :1])


# -- dtypes -------------------------------------------------------------------------
@pytest.mark.parametrize("bn", [False, True])
@pytest.mark.parametrize("output", OUTPUTS)
def test_float32_end_to_end(output, bn):
    X, Y, n_out = make_problem(output, n_in=5, n=16, dtype=np.float32)
    net = MLP(5, (8, 6), n_out, "elu", output, batchnorm=bn, dtype="float32")
    p = net.init_params(np.random.default_rng(0), "he_uniform")
    g = np.zeros_like(p)
    state = net.init_state()
    loss = net.loss_grad(p, X, Y, g, state)
    assert isinstance(loss, float) and math.isfinite(loss)
    assert p.dtype == g.dtype == net.last_output.dtype == np.float32
    assert all(v.dtype == np.float32 for v in state.values())
    out = net.predict(p, X, state)
    assert out.dtype == np.float32 and out.shape == (16, n_out)
    assert isinstance(net.loss(p, X, Y, state), float)
    for ws in (*net._train_ws.values(), *net._eval_ws.values()):
        for arr in vars(ws).values():
            if isinstance(arr, np.ndarray):
                assert arr.dtype == np.float32
    # float64 inputs are rounded into the float32 buffers, not upcast
    net.loss_grad(p, X.astype(np.float64), Y.astype(np.float64), g, state)
    assert net.last_output.dtype == np.float32
    # float32 matches float64 to float32 precision
    net64 = MLP(5, (8, 6), n_out, "elu", output, batchnorm=bn)
    g64 = np.zeros(net64.n_params)
    loss64 = net64.loss_grad(p.astype(np.float64), X.astype(np.float64), Y.astype(np.float64), g64,
                             net64.init_state())
    assert loss == pytest.approx(loss64, rel=1e-4)
    np.testing.assert_allclose(g, g64, rtol=1e-3, atol=1e-5)


# -- outputs ------------------------------------------------------------------------
@pytest.mark.parametrize("output", OUTPUTS)
def test_predict_last_output_and_loss_agree_without_bn(output):
    X, Y, n_out = make_problem(output, n=11)
    net = MLP(3, (5,), n_out, "tanh", output)
    p = random_params(net, np.random.default_rng(2))
    g = np.empty_like(p)
    train_loss = net.loss_grad(p, X, Y, g)
    out = net.predict(p, X)
    np.testing.assert_allclose(net.last_output, out, rtol=1e-13)
    assert net.loss(p, X, Y) == pytest.approx(train_loss, rel=1e-13)
    loss, out2 = net.evaluate(p, X, Y)
    assert loss == pytest.approx(train_loss, rel=1e-13) and np.allclose(out2, out)
    z, _ = ref_forward(net, p, X)
    np.testing.assert_allclose(net.logits(p, X), z, rtol=1e-12)
    if output == "softmax":
        np.testing.assert_allclose(out.sum(axis=1), 1.0)
    if output == "identity":
        np.testing.assert_allclose(out, z, rtol=1e-12)
    # predict returns a new array each time
    assert not np.shares_memory(out, net.predict(p, X))


def test_zero_hidden_layers_is_logistic_regression():
    X, Y, _ = make_problem("sigmoid", n_in=4, n=30)
    net = MLP(4, (), 1, output="sigmoid")
    assert net.n_params == 5 and net.layer_names == ["output"]
    p = np.arange(5, dtype=np.float64) / 10
    W, b = p[:4], p[4]
    expected = 1 / (1 + np.exp(-(X @ W + b)))
    np.testing.assert_allclose(net.predict(p, X)[:, 0], expected, rtol=1e-13)


# -- batch norm -------------------------------------------------------------------------
def test_batchnorm_running_stats_and_eval_mode():
    X, Y, n_out = make_problem("softmax", n_in=4, n=12, seed=5)
    net = MLP(4, (6, 5), n_out, "relu", "softmax", batchnorm=True)
    p = random_params(net, np.random.default_rng(4))
    state = net.init_state()
    g = np.empty_like(p)
    _, stats = ref_forward(net, p, X)
    net.loss_grad(p, X, Y, g, state)
    n = X.shape[0]
    for i, (mu, var) in enumerate(stats):
        np.testing.assert_allclose(state[f"bn{i + 1}.mean"], 0.1 * mu, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(state[f"bn{i + 1}.var"], 0.9 + 0.1 * var * n / (n - 1), rtol=1e-12)
    # a second step compounds with momentum 0.1
    before = {k: v.copy() for k, v in state.items()}
    net.loss_grad(p, X, Y, g, state)
    for i, (mu, var) in enumerate(stats):
        k = f"bn{i + 1}"
        np.testing.assert_allclose(state[f"{k}.mean"], 0.9 * before[f"{k}.mean"] + 0.1 * mu, rtol=1e-12)
        np.testing.assert_allclose(state[f"{k}.var"],
                                   0.9 * before[f"{k}.var"] + 0.1 * var * n / (n - 1), rtol=1e-12)
    # eval mode normalises with the running statistics, not the batch's
    z_eval, _ = ref_forward(net, p, X, state, train=False)
    out = net.predict(p, X, state)
    np.testing.assert_allclose(net.logits(p, X, state), z_eval, rtol=1e-12)
    assert not np.allclose(out, net.last_output, atol=1e-3)
    # and the eval loss uses the same
    assert net.loss(p, X, Y, state) == pytest.approx(ref_loss("softmax", z_eval, Y), rel=1e-12)
    # without a state the running statistics are left alone (e.g. gradient checks)
    snapshot = {k: v.copy() for k, v in state.items()}
    net.loss_grad(p, X, Y, g)
    assert all(np.array_equal(snapshot[k], state[k]) for k in state)
    with pytest.raises(ValueError, match="state"):
        net.predict(p, X)


def test_batchnorm_single_sample_batch():
    X, Y, n_out = make_problem("softmax", n_in=4, n=1)
    net = MLP(4, (6,), n_out, "tanh", "softmax", batchnorm=True)
    p = random_params(net, np.random.default_rng(0))
    state = net.init_state()
    g = np.empty_like(p)
    loss = net.loss_grad(p, X, Y, g, state)
    assert math.isfinite(loss) and np.all(np.isfinite(g))
    np.testing.assert_array_equal(state["bn1.var"], 1.0)  # no variance from one sample
    # the normalised activations are 0, so the layer outputs beta and nothing
    # before it gets a gradient
    assert not net.views(g)[0]["W"].any() and not net.views(g)[0]["gamma"].any()


def test_batchnorm_matches_torch():
    torch = pytest.importorskip("torch")
    X, Y, n_out = make_problem("softmax", n_in=4, n=10, seed=7)
    net = MLP(4, (6,), n_out, "tanh", "softmax", batchnorm=True)
    p = random_params(net, np.random.default_rng(8))
    v = net.views(p)
    fc1, fc2 = torch.nn.Linear(4, 6).double(), torch.nn.Linear(6, n_out).double()
    bn = torch.nn.BatchNorm1d(6).double()
    with torch.no_grad():
        for tensor, array in ((fc1.weight, v[0]["W"].T), (fc1.bias, v[0]["b"]),
                              (bn.weight, v[0]["gamma"]), (bn.bias, v[0]["beta"]),
                              (fc2.weight, v[1]["W"].T), (fc2.bias, v[1]["b"])):
            tensor.copy_(torch.tensor(array))
    model = torch.nn.Sequential(fc1, torch.nn.Tanh(), bn, fc2)
    model.train()
    out = model(torch.tensor(X))
    tl = torch.nn.functional.cross_entropy(out, torch.tensor(Y.argmax(axis=1)))
    tl.backward()
    state = net.init_state()
    g = np.empty_like(p)
    loss = net.loss_grad(p, X, Y, g, state)
    gv = net.views(g)
    assert loss == pytest.approx(tl.item(), rel=1e-12)
    np.testing.assert_allclose(gv[0]["W"], fc1.weight.grad.numpy().T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gv[0]["gamma"], bn.weight.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gv[1]["b"], fc2.bias.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(state["bn1.mean"], bn.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(state["bn1.var"], bn.running_var.numpy(), rtol=1e-12)
    model.eval()
    with torch.no_grad():
        expected = torch.softmax(model(torch.tensor(X)), dim=1).numpy()
    np.testing.assert_allclose(net.predict(p, X, state), expected, rtol=1e-10)


def test_registries_are_wired():
    assert set(ACTIVATIONS) == {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus"}
    assert set(LOSSES) == {"sigmoid_bce", "softmax_ce", "identity_mse", "identity_mse_half_sum",
                           "identity_mse_sum", "identity_mse_half"}
    for out, loss in nn.OUTPUT_LOSS.items():
        assert LOSSES[loss].extra["output"] == out
        assert nn.TASK_OUTPUT[LOSSES[loss].extra["task"]] == out
    assert MLP(3, (), 2, output="identity").loss_name == "identity_mse"


# -- the forms of MSE (deck 002: L = ½ Σᵢ (ŷᵢ − yᵢ)²) ------------------------------------

Z_MSE = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])   # (n = 2 samples, k = 3 outputs)
Y_MSE = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize("form,c,per_sample", [("mean", 1.0, False), ("half_mean", 0.5, False),
                                               ("sum", 1.0, True), ("half_sum", 0.5, True)])
def test_mse_forms_by_hand(form, c, per_sample):
    from engine.nn.losses import loss_for_output

    spec = loss_for_output("identity", form)
    r = Z_MSE - Y_MSE
    n, k = r.shape
    d = n if per_sample else n * k
    # deck 002 per sample: ½ Σᵢ (ŷᵢ − yᵢ)², then the mean over the batch
    expected = c * float((r**2).sum()) / d
    assert spec.extra["value"](Z_MSE, Y_MSE) == pytest.approx(expected, rel=1e-15)
    z_t, y_t = np.ascontiguousarray(Z_MSE.T), np.ascontiguousarray(Y_MSE.T)
    p, delta = np.empty_like(z_t), np.empty_like(z_t)
    loss = spec.extra["train_t"](z_t.copy(), y_t, p, delta)
    assert loss == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(delta.T, 2 * c * r / d, rtol=1e-15)
    np.testing.assert_array_equal(p, z_t)
    # the gradient is the loss's: central differences
    num = np.zeros_like(Z_MSE)
    for idx in np.ndindex(Z_MSE.shape):
        e = np.zeros_like(Z_MSE)
        e[idx] = 1e-6
        num[idx] = (spec.extra["value"](Z_MSE + e, Y_MSE) - spec.extra["value"](Z_MSE - e, Y_MSE)) / 2e-6
    np.testing.assert_allclose(delta.T, num, rtol=1e-7, atol=1e-10)
    # K runs stacked: bit-identical to one call each
    zs = np.stack([z_t, 2 * z_t])
    ps, ds = np.empty_like(zs), np.empty_like(zs)
    losses = spec.extra["train_stacked"](zs.copy(), y_t, ps, ds)
    for kk in range(2):
        p1, d1 = np.empty_like(z_t), np.empty_like(z_t)
        assert losses[kk] == spec.extra["train_t"](zs[kk].copy(), y_t, p1, d1)
        np.testing.assert_array_equal(ds[kk], d1)


def test_deck_mse_gradient_is_k_over_2_times_torch_mse():
    from engine.nn.losses import loss_for_output

    k = Z_MSE.shape[1]
    grads = {}
    for form in ("mean", "half_sum"):
        spec = loss_for_output("identity", form)
        z_t, y_t = np.ascontiguousarray(Z_MSE.T), np.ascontiguousarray(Y_MSE.T)
        delta = np.empty_like(z_t)
        spec.extra["train_t"](z_t.copy(), y_t, np.empty_like(z_t), delta)
        grads[form] = delta
    np.testing.assert_allclose(grads["half_sum"], k / 2 * grads["mean"], rtol=1e-15)


def test_mse_form_only_affects_the_identity_output_and_is_validated():
    from engine.nn.losses import MSE_FORMS, loss_for_output

    assert loss_for_output("identity").name == "identity_mse"
    assert loss_for_output("identity", "half_sum").name == "identity_mse_half_sum"
    assert loss_for_output("softmax", "half_sum").name == "softmax_ce"
    assert set(MSE_FORMS) == {"mean", "half_mean", "sum", "half_sum"}
    with pytest.raises(ValueError, match="mse_form: 'half' is not allowed; allowed: mean"):
        loss_for_output("identity", "half")


# -- evaluation in chunks of rows -------------------------------------------------
@pytest.mark.parametrize("output", OUTPUTS)
def test_a_split_larger_than_a_chunk_is_evaluated_in_bounded_chunks(output, monkeypatch):
    from engine.nn import mlp

    monkeypatch.setattr(mlp, "EVAL_ROWS", 50)
    X, Y, n_out = make_problem(output, n=123)
    net = MLP(3, (5,), n_out, "tanh", output)
    params = random_params(net, np.random.default_rng(4))
    z, _ = ref_forward(net, params, X, train=False)
    np.testing.assert_allclose(net.logits(params, X), z, rtol=1e-12, atol=1e-14)
    assert net.loss(params, X, Y) == pytest.approx(ref_loss(output, z, Y), rel=1e-12)
    loss, out = net.evaluate(params, X, Y)
    assert loss == pytest.approx(ref_loss(output, z, Y), rel=1e-12)
    np.testing.assert_array_equal(out, net.predict(params, X))
    into = np.empty_like(out)
    assert net.evaluate_into(params, X, np.ascontiguousarray(Y.T), into) == loss
    np.testing.assert_array_equal(into, out)
    # no buffer holds more than one chunk: 50, 50 and the last 23 rows
    assert sorted(net._eval_ws) == [23, 50]
