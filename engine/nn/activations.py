"""Hidden-layer activations as in-place forward/backward pairs.

Each entry of :data:`ACTIVATIONS` is a :class:`~engine.spec.Spec` whose
``extra`` holds

* ``forward(z, out) -> out``: writes ``f(z)`` into ``out`` and returns it
  (``out`` may be ``z`` itself);
* ``backward(z, a, delta, tmp=None) -> delta``: multiplies ``delta`` in place
  by ``f'(z)``, given the pre-activation ``z`` and the activation ``a = f(z)``.
  ``tmp`` is an optional scratch array shaped like ``delta``; it may be ``z``
  (the MLP passes ``z``, which is dead by then) and is allocated when omitted.

Derivatives are written in terms of ``a`` where that is cheaper (as in
scikit-learn's ``DERIVATIVES``): ``sigmoid' = a(1 - a)``, ``tanh' = 1 - a^2``,
``elu' = min(a, 0) + 1``. At ``z = 0`` ReLU and leaky ReLU use the left
derivative (0 and the slope), as torch does.

Everything stays in the arrays' dtype: only Python scalars mix in.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from engine.spec import Registry, Spec

ACTIVATIONS = Registry("activation")

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0  # the backward rule min(a, 0) + 1 relies on alpha = 1


def _scratch(tmp: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    return np.empty_like(like) if tmp is None else tmp


# identity ------------------------------------------------------------------
def identity_forward(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    if out is not z:
        np.copyto(out, z)
    return out


def identity_backward(z, a, delta, tmp=None):
    return delta


# sigmoid -------------------------------------------------------------------
def sigmoid_forward(z, out):
    return expit(z, out=out)  # 1 / (1 + exp(-z)) without overflow warnings


def sigmoid_backward(z, a, delta, tmp=None):
    t = _scratch(tmp, delta)
    np.subtract(1.0, a, out=t)
    t *= a
    delta *= t
    return delta


# tanh ----------------------------------------------------------------------
def tanh_forward(z, out):
    return np.tanh(z, out=out)


def tanh_backward(z, a, delta, tmp=None):
    t = _scratch(tmp, delta)
    np.square(a, out=t)
    np.subtract(1.0, t, out=t)
    delta *= t
    return delta


# relu ----------------------------------------------------------------------
def relu_forward(z, out):
    return np.maximum(z, 0.0, out=out)


def relu_backward(z, a, delta, tmp=None):
    # the 0/1 mask goes into the scratch array (often z itself, dead by now)
    # rather than a new bool array on every call
    mask = np.greater(z, 0.0, out=_scratch(tmp, delta))
    delta *= mask
    return delta


# leaky relu ----------------------------------------------------------------
def leaky_relu_forward(z, out):
    # max(z, s z) for 0 < s < 1; the temporary keeps ``out is z`` safe
    return np.maximum(z, z * LEAKY_SLOPE, out=out)


def leaky_relu_backward(z, a, delta, tmp=None):
    np.multiply(delta, LEAKY_SLOPE, out=delta, where=z <= 0.0)
    return delta


# elu -----------------------------------------------------------------------
def elu_forward(z, out):
    neg = np.minimum(z, 0.0)
    np.expm1(neg, out=neg)  # alpha = 1
    np.maximum(z, 0.0, out=out)
    out += neg
    return out


def elu_backward(z, a, delta, tmp=None):
    # z > 0: 1;  z <= 0: alpha exp(z) = a + alpha  ->  min(a, 0) + 1 for alpha = 1
    t = _scratch(tmp, delta)
    np.minimum(a, 0.0, out=t)
    t += 1.0
    delta *= t
    return delta


# softplus ------------------------------------------------------------------
def softplus_forward(z, out):
    return np.logaddexp(0.0, z, out=out)  # log(1 + e^z), stable both ways


def softplus_backward(z, a, delta, tmp=None):
    t = _scratch(tmp, delta)
    expit(z, out=t)  # reads z before writing, so tmp may be z
    delta *= t
    return delta


def _register(name, label, forward, backward, help, reference="", **extra):
    ACTIVATIONS.register(
        Spec(
            name=name,
            label=label,
            help=help,
            reference=reference,
            extra={"forward": forward, "backward": backward, **extra},
        )
    )


_register(
    "identity", "Identity (linear)", identity_forward, identity_backward,
    "f(z) = z: stacked layers collapse into one linear map.",
    bounded=False,
)
_register(
    "sigmoid", "Sigmoid", sigmoid_forward, sigmoid_backward,
    "f(z) = 1 / (1 + e^-z); f' <= 1/4, so gradients vanish in deep stacks.",
    bounded=True,
)
_register(
    "tanh", "Tanh", tanh_forward, tanh_backward,
    "f(z) = tanh(z); zero-centred, saturates for |z| >> 1.",
    bounded=True,
)
_register(
    "relu", "ReLU", relu_forward, relu_backward,
    "f(z) = max(z, 0); no saturation for z > 0, dead units for z < 0.",
    reference="Nair & Hinton 2010",
    bounded=False,
)
_register(
    "leaky_relu", "Leaky ReLU", leaky_relu_forward, leaky_relu_backward,
    f"f(z) = z for z > 0, {LEAKY_SLOPE:g} z otherwise: no dead units.",
    reference="Maas et al. 2013",
    bounded=False, slope=LEAKY_SLOPE,
)
_register(
    "elu", "ELU", elu_forward, elu_backward,
    "f(z) = z for z > 0, e^z - 1 otherwise (alpha = 1): smooth, mean near 0.",
    reference="Clevert et al. 2016",
    bounded=False, alpha=ELU_ALPHA,
)
_register(
    "softplus", "Softplus", softplus_forward, softplus_backward,
    "f(z) = log(1 + e^z): a smooth ReLU whose derivative is the sigmoid.",
    bounded=False,
)
