"""Weight initializers: ``factory(rng, fan_in, fan_out, shape, dtype, **hp)``.

Formulas follow torch.nn.init (gain 1; He uses gain sqrt(2), fan_in mode):

============== ===============================================
zeros          0 (every hidden unit stays identical: symmetry)
normal         N(0, std^2)
uniform        U(-limit, limit)
xavier_uniform U(-a, a),  a = sqrt(6 / (fan_in + fan_out))
xavier_normal  N(0, s^2), s = sqrt(2 / (fan_in + fan_out))
he_uniform     U(-a, a),  a = sqrt(6 / fan_in)
he_normal      N(0, s^2), s = sqrt(2 / fan_in)
lecun_uniform  U(-a, a),  a = sqrt(3 / fan_in)
lecun_normal   N(0, s^2), s = sqrt(1 / fan_in)
============== ===============================================

Random numbers are drawn in float64 and then rounded to ``dtype``, so a
float32 model starts from the float64 model's weights rounded to float32.
Biases start at 0 and batch-norm gamma/beta at 1/0 (see ``MLP.init_params``).
"""

from __future__ import annotations

import math

import numpy as np

from engine.spec import Hyper, Registry, Spec

INITIALIZERS = Registry("initializer")


def _normal_std(rng, shape, std, dtype):
    return rng.normal(0.0, std, size=shape).astype(dtype, copy=False)


def _uniform_limit(rng, shape, limit, dtype):
    return rng.uniform(-limit, limit, size=shape).astype(dtype, copy=False)


def zeros(rng, fan_in, fan_out, shape, dtype):
    return np.zeros(shape, dtype=dtype)


def normal(rng, fan_in, fan_out, shape, dtype, std=0.01):
    return _normal_std(rng, shape, std, dtype)


def uniform(rng, fan_in, fan_out, shape, dtype, limit=0.05):
    return _uniform_limit(rng, shape, limit, dtype)


def xavier_uniform(rng, fan_in, fan_out, shape, dtype):
    return _uniform_limit(rng, shape, math.sqrt(6.0 / (fan_in + fan_out)), dtype)


def xavier_normal(rng, fan_in, fan_out, shape, dtype):
    return _normal_std(rng, shape, math.sqrt(2.0 / (fan_in + fan_out)), dtype)


def he_uniform(rng, fan_in, fan_out, shape, dtype):
    return _uniform_limit(rng, shape, math.sqrt(6.0 / fan_in), dtype)


def he_normal(rng, fan_in, fan_out, shape, dtype):
    return _normal_std(rng, shape, math.sqrt(2.0 / fan_in), dtype)


def lecun_uniform(rng, fan_in, fan_out, shape, dtype):
    return _uniform_limit(rng, shape, math.sqrt(3.0 / fan_in), dtype)


def lecun_normal(rng, fan_in, fan_out, shape, dtype):
    return _normal_std(rng, shape, math.sqrt(1.0 / fan_in), dtype)


def _register(name, label, factory, help, reference="", hypers=(), **extra):
    INITIALIZERS.register(
        Spec(name=name, label=label, help=help, reference=reference,
             factory=factory, hypers=tuple(hypers), extra=extra)
    )


_register("zeros", "Zeros", zeros,
          "All weights 0: hidden units get identical gradients and never differ (symmetry).",
          random=False)
_register("normal", "Normal", normal,
          "Weights ~ N(0, std^2) with a fixed std, whatever the layer size.",
          hypers=[Hyper("std", 0.01, 0.0, 10.0, log=False, low_open=True,
                        help="standard deviation of the weights")],
          random=True)
_register("uniform", "Uniform", uniform,
          "Weights ~ U(-limit, limit) with a fixed limit, whatever the layer size.",
          hypers=[Hyper("limit", 0.05, 0.0, 10.0, low_open=True,
                        help="weights are drawn from [-limit, limit]")],
          random=True)
_register("xavier_uniform", "Xavier / Glorot uniform", xavier_uniform,
          "U(-a, a), a = sqrt(6 / (fan_in + fan_out)): keeps variance for tanh/sigmoid.",
          reference="Glorot & Bengio 2010", random=True)
_register("xavier_normal", "Xavier / Glorot normal", xavier_normal,
          "N(0, 2 / (fan_in + fan_out)): keeps variance for tanh/sigmoid.",
          reference="Glorot & Bengio 2010", random=True)
_register("he_uniform", "He / Kaiming uniform", he_uniform,
          "U(-a, a), a = sqrt(6 / fan_in): keeps variance through ReLU layers.",
          reference="He et al. 2015", random=True)
_register("he_normal", "He / Kaiming normal", he_normal,
          "N(0, 2 / fan_in): keeps variance through ReLU layers.",
          reference="He et al. 2015", random=True)
_register("lecun_uniform", "LeCun uniform", lecun_uniform,
          "U(-a, a), a = sqrt(3 / fan_in): unit variance for linear/SELU layers.",
          reference="LeCun et al. 1998", random=True)
_register("lecun_normal", "LeCun normal", lecun_normal,
          "N(0, 1 / fan_in): unit variance for linear/SELU layers.",
          reference="LeCun et al. 1998", random=True)
