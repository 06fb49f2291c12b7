"""A multilayer perceptron on one flat parameter vector.

Architecture, for ``hidden = (h1, ..., hL)``::

    x -> [fc -> act (-> bn)] x L -> fc -> output activation (+ matched loss)

Batch norm, when on, follows each hidden layer's activation (fc -> act -> bn).

Parameter layout. Layer ``l`` owns one contiguous slice of the flat vector:
``W`` (fan_in, fan_out) row-major, then ``b`` (fan_out,), then, for a
batch-norm layer, ``gamma`` and ``beta`` (fan_out,) each. ``W`` and ``b``
together are one (fan_in + 1, fan_out) matrix ``Wb``.

Work buffers are feature-major: a layer's activations are stored as
(width, batch), one column per sample, so element-wise ops run on contiguous
memory and the softmax / batch-norm reductions are fast. Every layer input
carries a trailing row of ones, so ``z = Wb.T @ [a; 1]`` adds the bias and
``[a; 1] @ delta.T`` yields ``dW`` and ``db`` in a single matrix product
written straight into the gradient vector.

Training step (``loss_grad``), CS231n-style with the cache in preallocated
work buffers (one set per batch size):

(written sample-major here; the buffers hold the transposes)

* forward: ``z = [a_prev, 1] @ Wb``; ``a = f(z)``; batch norm
  ``y = gamma (a - mu) / sqrt(var + eps) + beta`` with batch statistics;
* output: ``delta = (y_hat - y) / n`` (scikit-learn's shortcut for the
  matched pairs, see :mod:`engine.nn.losses`);
* backward: ``dWb = [a_prev, 1].T @ delta``; ``delta_prev = delta @ W.T``,
  through batch norm
  ``da = gamma / sigma (dy - mean(dy) - xhat mean(dy xhat))`` and the
  activation ``delta_prev *= f'(z)``.

Batch-norm running statistics follow torch: momentum 0.1, unbiased variance
for the running estimate, eps 1e-5. A batch of one sample has no variance:
its normalised activations are 0 (the layer outputs beta), and the running
variance is left unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

import numpy as np

from engine import kernels
from engine.nn import shards
from engine.nn.activations import ACTIVATIONS
from engine.nn.initializers import INITIALIZERS
from engine.nn.losses import loss_for_output

BN_MOMENTUM = 0.1
BN_EPS = 1e-5
DTYPES = ("float64", "float32")
_MAX_WORKSPACES = 6  # batch sizes kept (train, last partial batch, val, test, ...)
# Rows per evaluation pass: a split or a grid is evaluated in chunks of this many rows,
# so its buffers stay bounded (a few MB, reused, in cache) however large the split is.
EVAL_ROWS = 2048


class _Layer:
    """Offsets of one affine layer in the flat vector."""

    __slots__ = ("fan_in", "fan_out", "start", "wb_end", "end", "bn")

    def __init__(self, fan_in: int, fan_out: int, start: int, bn: bool) -> None:
        self.fan_in, self.fan_out, self.start, self.bn = fan_in, fan_out, start, bn
        self.wb_end = start + (fan_in + 1) * fan_out
        self.end = self.wb_end + (2 * fan_out if bn else 0)


class _Views:
    """Per-layer views of one flat vector: Wb, Wb.T, W, and gamma/beta (as columns)."""

    __slots__ = ("Wb", "WbT", "W", "gamma", "beta", "gcol", "bcol")

    def __init__(self, flat: np.ndarray, L: _Layer) -> None:
        self.Wb = flat[L.start:L.wb_end].reshape(L.fan_in + 1, L.fan_out)
        self.WbT = self.Wb.T
        self.W = self.Wb[:L.fan_in]
        if L.bn:
            self.gamma = flat[L.wb_end:L.wb_end + L.fan_out]
            self.beta = flat[L.wb_end + L.fan_out:L.end]
            self.gcol, self.bcol = self.gamma[:, None], self.beta[:, None]
        else:
            self.gamma = self.beta = self.gcol = self.bcol = None


class _Work:
    """Feature-major work buffers for one batch size (forward cache, deltas)."""

    def __init__(self, n: int, sizes: list[int], out_is_z: bool, bn: bool,
                 dtype: np.dtype, train: bool) -> None:
        def aug(width: int) -> np.ndarray:
            a = np.empty((width + 1, n), dtype=dtype)
            a[width] = 1.0
            return a

        self.n = n
        self.xa = aug(sizes[0])  # [X.T; 1]
        self.x = self.xa[:sizes[0]]
        self.z, self.a, self.h, self.av, self.xhat, self.invstd, self.d = [], [], [], [], [], [], []
        for width in sizes[1:-1]:
            a = aug(width)
            # evaluation keeps no cache: each layer computes in place in its output
            self.z.append(np.empty((width, n), dtype=dtype) if train else a[:width])
            self.a.append(a)
            self.av.append(a[:width])  # what the next layer sees
            # the activation output: the next layer's input, or batch norm's input
            self.h.append(np.empty((width, n), dtype=dtype) if bn and train else a[:width])
            self.xhat.append(np.empty((width, n), dtype=dtype) if bn and train else None)
            self.invstd.append(np.empty((width, 1), dtype=dtype) if bn and train else None)
            self.d.append(np.empty((width, n), dtype=dtype) if train else None)
        self.inp = [self.xa, *self.a]
        k = sizes[-1]
        self.zo = np.empty((k, n), dtype=dtype)
        self.p = self.zo if out_is_z or not train else np.empty((k, n), dtype=dtype)
        self.out = self.p.T  # (n, k) view: what last_output shows
        if train:
            self.Y = np.empty((k, n), dtype=dtype)
            self.do = np.empty((k, n), dtype=dtype)
            self.doT = self.do.T
        self.whole = _Part(self, None)
        self.halves: tuple[_Part, _Part] | None = None

    def split(self, cut: int) -> tuple[_Part, _Part]:
        """The two shards' views, columns ``[0, cut)`` and ``[cut, n)`` (made once)."""
        if self.halves is None:
            self.halves = (_Part(self, slice(0, cut)), _Part(self, slice(cut, self.n)))
        return self.halves


class _Part:
    """One shard's columns of a :class:`_Work`, or all of them (``cols`` None).

    A shard's views are strided (the row stride is the whole batch), which BLAS
    takes as a leading dimension through ``np.matmul``; ``np.dot`` needs
    contiguous outputs, so it serves the whole batch only.
    """

    def __init__(self, ws: _Work, cols: slice | None) -> None:
        def cut(a):
            return a if a is None or cols is None else a[:, cols]

        self.rows = cols if cols is not None else slice(None)
        self.dot = np.dot if cols is None else np.matmul
        self.x, self.xa = cut(ws.x), cut(ws.xa)
        self.inp = [cut(a) for a in ws.inp]
        self.z, self.h, self.d = ([cut(a) for a in arrs] for arrs in (ws.z, ws.h, ws.d))
        self.zo, self.p = cut(ws.zo), cut(ws.p)
        self.Y, self.do = cut(getattr(ws, "Y", None)), cut(getattr(ws, "do", None))
        self.doT = None if self.do is None else self.do.T


class MLP:
    """Fully connected network on a flat parameter vector.

    Parameters
    ----------
    n_in, n_out : input and output widths.
    hidden : hidden-layer widths; ``()`` gives logistic, softmax or linear
        regression.
    activation : a name in ``engine.nn.ACTIVATIONS``.
    output : ``"softmax"``, ``"sigmoid"`` or ``"identity"``; picks the matched
        loss (``softmax_ce``, ``sigmoid_bce``, ``identity_mse``).
    batchnorm : batch norm after each hidden activation.
    dtype : ``"float64"`` or ``"float32"``; everything stays in it.
    mse_form : the regression loss of the identity output, a key of
        :data:`engine.nn.losses.MSE_FORMS` (``"mean"``: torch's MSELoss;
        ``"half_sum"``: deck 002's ½ Σ over outputs); the other outputs
        ignore it.

    Attributes
    ----------
    n_params, layer_names (``"layer1", ..., "output"``), layer_slices,
    loss_name, last_output (outputs of the latest ``loss_grad`` call: a view
    into a work buffer, overwritten by the next call).
    """

    def __init__(
        self,
        n_in: int,
        hidden: tuple[int, ...] = (),
        n_out: int = 1,
        activation: str = "relu",
        output: str = "softmax",
        batchnorm: bool = False,
        dtype: str = "float64",
        mse_form: str = "mean",
    ) -> None:
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        for name, v in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: {v!r} is not allowed; allowed: a whole number >= 1")
        if not all(isinstance(w, int | np.integer) and not isinstance(w, bool) and w >= 1
                   for w in hidden):
            raise ValueError(f"hidden: {list(hidden)!r} is not allowed; allowed: widths >= 1")
        if str(dtype) not in DTYPES:
            raise ValueError(f"dtype: {dtype!r} is not allowed; allowed: {', '.join(DTYPES)}")
        aspec = ACTIVATIONS.get_spec(activation, "activation")
        lspec = loss_for_output(output, mse_form)
        self.n_in, self.hidden, self.n_out = int(n_in), tuple(int(w) for w in hidden), int(n_out)
        self.activation, self.output, self.batchnorm = activation, output, bool(batchnorm)
        self.mse_form = mse_form
        self.loss_name = lspec.name
        self.dtype = np.dtype(dtype)
        # the fused kernels' versions when the JIT switch is on (engine.kernels), else NumPy's
        self._fwd, self._bwd, self._train = kernels.nn_functions(
            activation, self.loss_name, aspec.extra["forward"], aspec.extra["backward"],
            lspec.extra["train_t"])
        self._out_fn = lspec.extra["output_t"]
        self._value = lspec.extra["value_t"]

        # threads the two shards of a large batch may use (engine.nn.shards): 1 runs them one
        # after the other, 2 at once; never changes a number
        self.threads = 1
        self._nh = len(self.hidden)
        self._sizes = [self.n_in, *self.hidden, self.n_out]
        self._layers: list[_Layer] = []
        start = 0
        for i in range(len(self._sizes) - 1):
            bn = self.batchnorm and i < len(self.hidden)
            L = _Layer(self._sizes[i], self._sizes[i + 1], start, bn)
            self._layers.append(L)
            start = L.end
        self.n_params = start
        self._macs = sum((L.fan_in + 1) * L.fan_out for L in self._layers)  # per row and pass
        self._grad2: np.ndarray | None = None  # the second shard's gradient
        self.layer_names = [f"layer{i + 1}" for i in range(len(self.hidden))] + ["output"]
        self.layer_slices = [slice(L.start, L.end) for L in self._layers]
        self._vcache: dict[int, tuple[np.ndarray, list[_Views]]] = {}
        self._train_ws: dict[int, _Work] = {}
        self._eval_ws: dict[int, _Work] = {}
        self.last_output: np.ndarray | None = None

    def __repr__(self) -> str:
        return (f"MLP({self.n_in}, {self.hidden}, {self.n_out}, {self.activation!r}, "
                f"{self.output!r}, batchnorm={self.batchnorm}, dtype={self.dtype.name!r}, "
                f"mse_form={self.mse_form!r})")

    # -- parameters ------------------------------------------------------
    @staticmethod
    def n_params_for(n_in: int, hidden: tuple[int, ...], n_out: int, batchnorm: bool = False) -> int:
        """``sum (fan_in + 1) fan_out`` plus ``2 h`` per batch-norm layer."""
        sizes = [n_in, *hidden, n_out]
        n = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        return n + (2 * sum(hidden) if batchnorm else 0)

    def _check_flat(self, flat: np.ndarray, name: str) -> None:
        if not isinstance(flat, np.ndarray) or flat.shape != (self.n_params,):
            shape = getattr(flat, "shape", type(flat).__name__)
            raise ValueError(f"{name}: shape {shape} is not allowed; allowed: ({self.n_params},)")
        if flat.dtype != self.dtype:
            raise ValueError(f"{name}: dtype {flat.dtype} is not allowed; allowed: {self.dtype}")
        if not flat.flags.c_contiguous:
            raise ValueError(f"{name}: a non-contiguous array is not allowed; allowed: a contiguous vector")

    def _views(self, flat: np.ndarray, name: str = "params") -> list[_Views]:
        # Views are made once per vector; holding the vector keeps id() unique.
        hit = self._vcache.get(id(flat))
        if hit is not None and hit[0] is flat:
            return hit[1]
        self._check_flat(flat, name)
        views = [_Views(flat, L) for L in self._layers]
        if len(self._vcache) >= 8:
            self._vcache.pop(next(iter(self._vcache)))
        self._vcache[id(flat)] = (flat, views)
        return views

    def views(self, flat: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Per layer ``W`` (fan_in, fan_out), ``b`` and, with batch norm,
        ``gamma`` and ``beta``: views into ``flat`` (no copies)."""
        out = []
        for L, v in zip(self._layers, self._views(flat, "flat"), strict=True):
            d = {"W": v.W, "b": v.Wb[L.fan_in]}
            if L.bn:
                d["gamma"], d["beta"] = v.gamma, v.beta
            out.append(d)
        return out

    def init_params(self, rng: np.random.Generator, initializer: str = "he_uniform",
                    **init_params: Any) -> np.ndarray:
        """A new flat vector: weights from ``initializer``, biases 0, gamma 1, beta 0.

        Layers are drawn in order, each weight matrix with shape (fan_in, fan_out).
        """
        spec = INITIALIZERS.get_spec(initializer, "initializer")
        hp = spec.resolve(init_params, "init_params")
        flat = np.zeros(self.n_params, dtype=self.dtype)
        for L, v in zip(self._layers, self._views(flat, "flat"), strict=True):
            W = spec.factory(rng, L.fan_in, L.fan_out, (L.fan_in, L.fan_out), self.dtype, **hp)
            v.W[...] = W
            if L.bn:
                v.gamma[:] = 1.0
        return flat

    def init_state(self) -> dict[str, np.ndarray]:
        """Batch-norm running statistics (``bn1.mean`` 0, ``bn1.var`` 1, ...); {} without BN."""
        state: dict[str, np.ndarray] = {}
        if self.batchnorm:
            for i, w in enumerate(self.hidden):
                state[f"bn{i + 1}.mean"] = np.zeros(w, dtype=self.dtype)
                state[f"bn{i + 1}.var"] = np.ones(w, dtype=self.dtype)
        return state

    # -- work buffers ----------------------------------------------------
    def _work(self, n: int, train: bool) -> _Work:
        cache = self._train_ws if train else self._eval_ws
        ws = cache.get(n)
        if ws is None:
            if len(cache) >= _MAX_WORKSPACES:
                cache.pop(next(iter(cache)))
            ws = _Work(n, self._sizes, self.output == "identity", self.batchnorm, self.dtype, train)
            cache[n] = ws
        return ws

    def release(self, n: int) -> None:
        """Drop the evaluation buffers for ``n`` samples (a split evaluated only once)."""
        self._eval_ws.pop(n, None)

    def _check_X(self, X: np.ndarray) -> int:
        if X.ndim != 2 or X.shape[1] != self.n_in or X.shape[0] < 1:
            raise ValueError(f"X: shape {X.shape} is not allowed; allowed: (n >= 1, {self.n_in})")
        return X.shape[0]

    # -- training ----------------------------------------------------------
    def loss_grad(self, params: np.ndarray, X: np.ndarray, Y: np.ndarray, grad: np.ndarray,
                  state: Mapping[str, np.ndarray] | None = None) -> float:
        """Training-mode forward and backward pass on one batch.

        ``X`` is (n, n_in) and ``Y`` (n, n_out) (the encoded targets). Writes
        ``dL/dparams`` into ``grad`` (same layout as ``params``) and returns
        the mean loss. Batch norm uses the batch statistics and, when
        ``state`` is given, updates its running statistics in place.
        """
        P = self._views(params, "params")
        G = self._views(grad, "grad")
        n = X.shape[0]
        ws = self._train_ws.get(n) or self._work(self._check_X(X), True)
        cut = self.split_at(n)
        if not cut:
            loss = self._train_pass(P, G, ws.whole, X, Y, n, ws, state)
        else:
            if self._grad2 is None or self._grad2.dtype != grad.dtype:
                self._grad2 = np.empty_like(grad)
            first, second = ws.split(cut)
            G2 = self._views(self._grad2, "grad")
            losses = [0.0, 0.0]

            def shard(i: int, part: _Part, G: list[_Views]) -> None:
                losses[i] = self._train_pass(P, G, part, X, Y, n, ws, None)

            shards.both(lambda: shard(0, first, G), lambda: shard(1, second, G2),
                        self.threads > 1)
            grad += self._grad2  # fixed order: the first shard's gradient plus the second's
            loss = losses[0] + losses[1]
        self.last_output = ws.out
        return loss

    def split_at(self, n: int) -> int:
        """Where a batch of ``n`` rows is split into two shards (engine.nn.shards), or 0.

        A batch-norm layer's statistics are over the whole batch, so such a
        network is never split."""
        return 0 if self.batchnorm else shards.cut(n, self._macs)

    def _train_pass(self, P: list[_Views], G: list[_Views], ws: _Part, X: np.ndarray,
                    Y: np.ndarray, n: int, whole: _Work, state) -> float:
        """Forward and backward over ``ws``'s columns (a shard, or the whole batch of ``n``)."""
        dot = ws.dot
        np.copyto(ws.x, X[ws.rows].T)
        np.copyto(ws.Y, Y[ws.rows].T)
        fwd, bn, nh = self._fwd, self.batchnorm, self._nh
        for i in range(nh):
            z = ws.z[i]
            dot(P[i].WbT, ws.inp[i], out=z)
            fwd(z, ws.h[i])
            if bn:  # never split: ws is the whole batch
                self._bn_train(i, P[i], whole, state)
        dot(P[nh].WbT, ws.inp[nh], out=ws.zo)
        loss = self._train(ws.zo, ws.Y, ws.p, ws.do, n)
        # backward
        d, dT, bwd = ws.do, ws.doT, self._bwd
        for i in range(nh, 0, -1):
            dot(ws.inp[i], dT, out=G[i].Wb)
            dprev = ws.d[i - 1]
            dot(P[i].W, d, out=dprev)
            if bn:
                self._bn_backward(i - 1, P[i - 1], G[i - 1], whole, dprev)
            bwd(ws.z[i - 1], ws.h[i - 1], dprev, ws.z[i - 1])
            d, dT = dprev, dprev.T
        dot(ws.xa, dT, out=G[0].Wb)
        return loss

    def _bn_train(self, i: int, v: _Views, ws: _Work, state) -> None:
        h, y, xhat, invstd = ws.h[i], ws.av[i], ws.xhat[i], ws.invstd[i]
        n = ws.n
        mu = np.add.reduce(h, axis=1, keepdims=True)
        mu *= 1.0 / n
        np.subtract(h, mu, out=xhat)
        np.square(xhat, out=y)  # y is free until the end: scratch for the squares
        var = np.add.reduce(y, axis=1, keepdims=True)
        var *= 1.0 / n
        np.add(var, BN_EPS, out=invstd)
        np.sqrt(invstd, out=invstd)
        np.divide(1.0, invstd, out=invstd)
        xhat *= invstd
        np.multiply(xhat, v.gcol, out=y)
        y += v.bcol
        if state is not None:
            rm, rv = state[f"bn{i + 1}.mean"], state[f"bn{i + 1}.var"]
            rm *= 1.0 - BN_MOMENTUM
            mu *= BN_MOMENTUM
            rm += mu[:, 0]
            if n > 1:  # a single sample has no variance estimate
                rv *= 1.0 - BN_MOMENTUM
                var *= BN_MOMENTUM * n / (n - 1)  # unbiased, as torch
                rv += var[:, 0]

    def _bn_backward(self, i: int, v: _Views, g: _Views, ws: _Work, dy: np.ndarray) -> None:
        """dy (grad wrt the BN output) -> grad wrt its input, in place."""
        xhat, t = ws.xhat[i], ws.av[i]  # the BN output buffer is dead by now
        n = ws.n
        np.add.reduce(dy, axis=1, out=g.beta)
        np.multiply(dy, xhat, out=t)
        np.add.reduce(t, axis=1, out=g.gamma)
        np.multiply(xhat, g.gcol * (1.0 / n), out=t)
        dy -= t
        dy -= g.bcol * (1.0 / n)
        dy *= v.gcol * ws.invstd[i]

    # -- evaluation ----------------------------------------------------------
    def _eval_chunks(self, params: np.ndarray, X: np.ndarray, state) -> Iterator[tuple[slice, np.ndarray]]:
        """Eval-mode forward pass, ``EVAL_ROWS`` rows at a time: yields each chunk's rows
        and its logits, class-major (a work buffer that the next chunk overwrites)."""
        P = self._views(params, "params")
        n = self._check_X(X)
        if self.batchnorm and state is None:
            raise ValueError(
                "state: None is not allowed; allowed: the batch-norm running statistics "
                "(init_state(), updated by loss_grad)"
            )
        for lo in range(0, n, EVAL_ROWS):
            rows = slice(lo, min(n, lo + EVAL_ROWS))
            Xc = X[rows]
            ws = self._work(Xc.shape[0], False)
            cut = self.split_at(ws.n)
            if not cut:
                self._eval_pass(P, ws.whole, Xc, state)
            else:
                first, second = ws.split(cut)
                shards.both(partial(self._eval_pass, P, first, Xc, state),
                            partial(self._eval_pass, P, second, Xc, state), self.threads > 1)
            yield rows, ws.zo

    def _eval_pass(self, P: list[_Views], ws: _Part, X: np.ndarray, state) -> None:
        dot = ws.dot
        np.copyto(ws.x, X[ws.rows].T)
        nh = self._nh
        for i in range(nh):
            z = ws.z[i]  # the layer's output buffer: everything happens in place
            dot(P[i].WbT, ws.inp[i], out=z)
            self._fwd(z, z)
            if self.batchnorm:
                rm, rv = state[f"bn{i + 1}.mean"], state[f"bn{i + 1}.var"]
                scale = P[i].gamma / np.sqrt(rv + BN_EPS)
                shift = P[i].beta - rm * scale
                z *= scale[:, None]
                z += shift[:, None]
        dot(P[nh].WbT, ws.inp[nh], out=ws.zo)

    def predict(self, params: np.ndarray, X: np.ndarray,
                state: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Eval-mode outputs, a new (n, n_out) array: probabilities for
        sigmoid/softmax, values for identity. Batch norm uses the running
        statistics in ``state``."""
        out = np.empty((X.shape[0], self.n_out), dtype=self.dtype)
        for rows, zo in self._eval_chunks(params, X, state):
            self._out_fn(zo, out[rows].T)
        return out

    def logits(self, params: np.ndarray, X: np.ndarray,
               state: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Eval-mode pre-activations of the output layer, a new (n, n_out) array."""
        out = np.empty((X.shape[0], self.n_out), dtype=self.dtype)
        for rows, zo in self._eval_chunks(params, X, state):
            out[rows] = zo.T
        return out

    def loss(self, params: np.ndarray, X: np.ndarray, Y: np.ndarray,
             state: Mapping[str, np.ndarray] | None = None) -> float:
        """Eval-mode mean loss."""
        YT = np.ascontiguousarray(Y.T, dtype=self.dtype)
        return sum(self._value(zo, YT[:, rows]) * self._share(rows, X)
                   for rows, zo in self._eval_chunks(params, X, state))

    def evaluate(self, params: np.ndarray, X: np.ndarray, Y: np.ndarray,
                 state: Mapping[str, np.ndarray] | None = None) -> tuple[float, np.ndarray]:
        """Eval-mode ``(mean loss, outputs)`` from one forward pass."""
        out = np.empty((X.shape[0], self.n_out), dtype=self.dtype)
        loss = self.evaluate_into(params, X, np.ascontiguousarray(Y.T, dtype=self.dtype), out, state)
        return loss, out

    def evaluate_into(self, params: np.ndarray, X: np.ndarray, YT: np.ndarray, out: np.ndarray,
                      state: Mapping[str, np.ndarray] | None = None) -> float:
        """:meth:`evaluate` without allocating, for a split evaluated again and
        again: ``YT`` is the targets class-major, a C-contiguous (n_out, n)
        array; the outputs are written into ``out``, a C-contiguous (n, n_out)
        array. Returns the mean loss; the numbers equal :meth:`evaluate`'s."""
        loss = 0.0
        for rows, zo in self._eval_chunks(params, X, state):
            loss += self._value(zo, YT[:, rows]) * self._share(rows, X)
            self._out_fn(zo, out[rows].T)
        return loss

    @staticmethod
    def _share(rows: slice, X: np.ndarray) -> float:
        """A chunk's weight in the mean over all rows (exactly 1.0 for a single chunk)."""
        return (rows.stop - rows.start) / X.shape[0]
