"""Fused numba kernels for the engine's element-wise work (imported by :mod:`engine.kernels`).

Each kernel does in one pass over memory what the NumPy path does in several,
with the same operations in the same order and the same rounding, so that its
results are bit-identical to the NumPy path:

* every intermediate is rounded to the arrays' dtype, exactly where NumPy
  writes a temporary (``tmp = g·c; tmp = tmp·g; v = v·β; v = v + tmp``);
* scalars arrive already cast to the arrays' dtype (NumPy 2 casts a Python
  float to the array's dtype before the operation), so float32 arrays are
  worked in float32 throughout;
* ``maximum`` and ``minimum`` follow NumPy: a NaN in either operand is the
  result, and on a tie (+0 against -0) the second operand wins;
* no fastmath and no transcendental functions: ``exp``, ``log``, ``tanh`` and
  ``expit`` differ in the last bit between NumPy's and LLVM's libraries, so
  they stay in NumPy, and so do the reductions (sums and BLAS dot products).

Kernels take contiguous 1-D views (2-D C-contiguous for the per-sample
softmax) and compile on first use, once per dtype. With ``cache=True`` the
machine code is stored in ``engine/__pycache__`` when that is writable, else in
numba's user-wide cache (``NUMBA_CACHE_DIR``, default ``~/.cache/numba``);
where neither is writable the kernels compile anew in each process.
"""

from __future__ import annotations

import numba
import numpy as np


def _inline(fn):
    """A scalar helper inlined into its callers (no compiled function, no cache entry of its own)."""
    return numba.njit(inline="always", error_model="numpy")(fn)


def _jit(fn):
    # error_model="numpy": IEEE division (x/0 = ±inf or NaN, as NumPy) rather than Python's
    # ZeroDivisionError check, whose branch also keeps the loops from vectorising
    opts = dict(error_model="numpy", nogil=True)
    try:
        return numba.njit(cache=True, **opts)(fn)
    except RuntimeError:  # no writable cache location (read-only install): compile per process
        return numba.njit(cache=False, **opts)(fn)


@_inline
def _maximum(a, b):
    """np.maximum(a, b) on scalars: NaN wins, a tie goes to ``b``."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a > b else b


@_inline
def _minimum(a, b):
    """np.minimum(a, b) on scalars: NaN wins, a tie goes to ``b``."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a < b else b


# -- optimizers -------------------------------------------------------------------
@_jit
def sgd_step(p, grad, buf, neg_lr, wd, mu, one_minus_tau, maximize, decay, momentum,
             dampen, nesterov, first):
    """torch.optim.SGD on flat vectors, in :class:`engine.optim.sgd.SGD`'s order:
    ``g = ±grad (+ θ·λ)``; ``b = g`` (first step) or ``b·μ + g(·(1 − τ))``;
    ``g = g + b·μ`` (Nesterov) or ``b``; ``θ = θ + g·(−γ)``."""
    for i in range(p.shape[0]):
        g = -grad[i] if maximize else grad[i]
        if decay:
            g = g + p[i] * wd
        if momentum:
            if first:
                b = g
            else:
                b = buf[i] * mu
                b = b + (g * one_minus_tau if dampen else g)
            buf[i] = b
            g = g + b * mu if nesterov else b
        p[i] = p[i] + g * neg_lr


@_jit
def adam_step(p, grad, m, v, vmax, maximize, coupled, wd, decoupled, keep, w, small,
              one_minus_w, one_minus_b2, b2, amsgrad, sqrt_bc2, eps, neg_step):
    """torch.optim.Adam / AdamW on flat vectors, in :class:`engine.optim.adam.Adam`'s order:
    ``g = ±grad (+ θ·λ)``; ``θ = θ·(1 − γλ)`` (decoupled); ``m = lerp(m, g, w)``;
    ``v = v·β₂ + (g·(1 − β₂))·g``; ``v̂ = max(v̂, v)`` (AMSGrad);
    ``d = √v̂ / √bc2 + ε``; ``θ = θ + (m·(−γ/bc1)) / d``."""
    for i in range(p.shape[0]):
        g = -grad[i] if maximize else grad[i]
        pi = p[i]
        if coupled:
            g = g + pi * wd
        if decoupled:
            pi = pi * keep
        # torch's two-branch lerp: a + w(b − a), or b − (b − a)(1 − w) for |w| ≥ 0.5
        t = g - m[i]
        mi = m[i] + t * w if small else g - t * one_minus_w
        m[i] = mi
        s = g * one_minus_b2
        s = s * g
        vi = v[i] * b2
        vi = vi + s
        v[i] = vi
        if amsgrad:
            vi = _maximum(vmax[i], vi)
            vmax[i] = vi
        d = np.sqrt(vi) / sqrt_bc2
        d = d + eps
        u = mi * neg_step
        u = u / d
        p[i] = pi + u


# -- hidden activations --------------------------------------------------------------
@_jit
def relu_forward(z, out):
    zero = z.dtype.type(0)
    for i in range(z.shape[0]):
        out[i] = _maximum(z[i], zero)


@_jit
def relu_backward(z, delta):
    one, zero = delta.dtype.type(1), delta.dtype.type(0)
    for i in range(z.shape[0]):
        delta[i] = delta[i] * (one if z[i] > zero else zero)


@_jit
def leaky_relu_forward(z, out, slope):
    for i in range(z.shape[0]):
        zi = z[i]
        out[i] = _maximum(zi, zi * slope)


@_jit
def leaky_relu_backward(z, delta, slope):
    zero = z.dtype.type(0)
    for i in range(z.shape[0]):
        if z[i] <= zero:
            delta[i] = delta[i] * slope


@_jit
def sigmoid_backward(a, delta):
    one = a.dtype.type(1)
    for i in range(a.shape[0]):
        t = one - a[i]
        t = t * a[i]
        delta[i] = delta[i] * t


@_jit
def tanh_backward(a, delta):
    one = a.dtype.type(1)
    for i in range(a.shape[0]):
        t = a[i] * a[i]
        t = one - t
        delta[i] = delta[i] * t


@_jit
def elu_backward(a, delta):
    one, zero = a.dtype.type(1), a.dtype.type(0)
    for i in range(a.shape[0]):
        t = _minimum(a[i], zero)
        t = t + one
        delta[i] = delta[i] * t


# -- output losses ---------------------------------------------------------------------
@_jit
def shift_by_column_max(z):
    """``z -= np.maximum.reduce(z, axis=0)`` on a (k, n) array (max is exact in any order)."""
    k, n = z.shape
    for j in range(n):
        mx = z[0, j]
        for i in range(1, k):
            mx = _maximum(mx, z[i, j])
        for i in range(k):
            z[i, j] = z[i, j] - mx


@_jit
def normalise_residual(p, s, Y, delta, scale):
    """``p /= s`` (per column), then ``delta = (p − Y)·scale``, on (k, n) arrays."""
    k, n = p.shape
    for i in range(k):
        for j in range(n):
            pij = p[i, j] / s[j]
            p[i, j] = pij
            d = pij - Y[i, j]
            delta[i, j] = d * scale


@_jit
def residual(p, Y, delta, scale):
    """``delta = (p − Y)·scale`` on flat vectors."""
    for i in range(p.shape[0]):
        d = p[i] - Y[i]
        delta[i] = d * scale
