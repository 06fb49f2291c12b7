"""K networks of one architecture, one forward and backward pass on a shared batch.

The K parameter vectors are the rows of one (K, n_params) array, so a layer's
weights for all runs are one strided (K, fan_in + 1, fan_out) view, and every
product of :meth:`MLP.loss_grad` becomes one batched ``np.matmul`` over the
leading run axis; the element-wise activations run once on (K, width, n)
arrays.

The results are bit-identical to K separate ``MLP.loss_grad`` calls: each
slice of a batched product is the same BLAS call, on the same shapes and
strides, as the single network's ``np.dot``; element-wise functions are the
same per element; and the loss's ``train_stacked`` reduces over the same axes
in the same order as the single network's ``train_t``.
``tests/engine/test_stacked.py`` checks this for every activation and output.

Batch norm is not stacked: its running statistics and batch reductions are
per run, and a run with it trains alone.
"""

from __future__ import annotations

import numpy as np

from engine.nn import shards
from engine.nn.losses import loss_for_output
from engine.nn.mlp import MLP


class _Views:
    """Per-layer (K, ...) views of a (K, n_params) array."""

    __slots__ = ("Wb", "WbT", "W")

    def __init__(self, flat: np.ndarray, start: int, wb_end: int, fan_in: int, fan_out: int) -> None:
        self.Wb = flat[:, start:wb_end].reshape(flat.shape[0], fan_in + 1, fan_out)
        self.WbT = self.Wb.transpose(0, 2, 1)
        self.W = self.Wb[:, :fan_in]


class _Work:
    """Class- and feature-major buffers for K runs on batches of n samples."""

    def __init__(self, K: int, n: int, sizes: list[int], out_is_z: bool, dtype: np.dtype) -> None:
        self.xa = np.empty((sizes[0] + 1, n), dtype=dtype)  # [X.T; 1], shared by the runs
        self.xa[sizes[0]] = 1.0
        self.x = self.xa[:sizes[0]]
        self.z, self.a, self.av, self.d = [], [], [], []
        for width in sizes[1:-1]:
            a = np.empty((K, width + 1, n), dtype=dtype)
            a[:, width] = 1.0
            self.z.append(np.empty((K, width, n), dtype=dtype))
            self.a.append(a)
            self.av.append(a[:, :width])
            self.d.append(np.empty((K, width, n), dtype=dtype))
        self.inp = [self.xa, *self.a]
        k = sizes[-1]
        self.zo = np.empty((K, k, n), dtype=dtype)
        self.p = self.zo if out_is_z else np.empty((K, k, n), dtype=dtype)
        self.out = self.p.transpose(0, 2, 1)  # (K, n, k): each run's outputs
        self.Y = np.empty((k, n), dtype=dtype)
        self.do = np.empty((K, k, n), dtype=dtype)
        self.doT = self.do.transpose(0, 2, 1)
        self.n = n
        self.whole = _Part(self, None)
        self.halves: tuple[_Part, _Part] | None = None

    def split(self, cut: int) -> tuple[_Part, _Part]:
        if self.halves is None:
            self.halves = (_Part(self, slice(0, cut)), _Part(self, slice(cut, self.n)))
        return self.halves


class _Part:
    """One shard's columns of a :class:`_Work` (or all of them), as in :mod:`engine.nn.mlp`."""

    def __init__(self, ws: _Work, cols: slice | None) -> None:
        def cut(a):
            return a if cols is None else a[..., cols]

        self.rows = cols if cols is not None else slice(None)
        self.x, self.xa, self.Y = cut(ws.x), cut(ws.xa), cut(ws.Y)
        self.inp = [cut(a) for a in ws.inp]
        self.z, self.av, self.d = ([cut(a) for a in arrs] for arrs in (ws.z, ws.av, ws.d))
        self.zo, self.p, self.do = cut(ws.zo), cut(ws.p), cut(ws.do)
        self.doT = self.do.transpose(0, 2, 1)


class StackedMLP:
    """``loss_grad`` for K parameter vectors of ``net``'s architecture at once."""

    def __init__(self, net: MLP, K: int) -> None:
        if net.batchnorm:
            raise ValueError("batchnorm: True is not allowed; allowed: False (a batch-norm run trains alone)")
        if not isinstance(K, int) or K < 1:
            raise ValueError(f"K: {K!r} is not allowed; allowed: a whole number >= 1")
        self.net, self.K = net, K
        self._sizes = [net.n_in, *net.hidden, net.n_out]
        self._nh = len(net.hidden)
        self._layers = net._layers
        self._fwd, self._bwd = net._fwd, net._bwd
        self._loss = loss_for_output(net.output, net.mse_form).extra["train_stacked"]
        self._vcache: dict[int, tuple[np.ndarray, list[_Views]]] = {}
        self._ws: dict[int, _Work] = {}
        self._grad2: np.ndarray | None = None  # the second shard's gradients

    def _views(self, flat: np.ndarray, name: str) -> list[_Views]:
        hit = self._vcache.get(id(flat))
        if hit is not None and hit[0] is flat:
            return hit[1]
        want = (self.K, self.net.n_params)
        if not isinstance(flat, np.ndarray) or flat.shape != want or flat.dtype != self.net.dtype:
            shape = getattr(flat, "shape", type(flat).__name__)
            raise ValueError(f"{name}: shape {shape} is not allowed; allowed: {want} {self.net.dtype}")
        if not flat.flags.c_contiguous:
            raise ValueError(f"{name}: a non-contiguous array is not allowed; allowed: a C-contiguous array")
        views = [_Views(flat, L.start, L.wb_end, L.fan_in, L.fan_out) for L in self._layers]
        if len(self._vcache) >= 8:
            self._vcache.pop(next(iter(self._vcache)))
        self._vcache[id(flat)] = (flat, views)
        return views

    def _work(self, n: int) -> _Work:
        ws = self._ws.get(n)
        if ws is None:
            if len(self._ws) >= 4:
                self._ws.pop(next(iter(self._ws)))
            ws = _Work(self.K, n, self._sizes, self.net.output == "identity", self.net.dtype)
            self._ws[n] = ws
        return ws

    def loss_grad(self, params: np.ndarray, X: np.ndarray, Y: np.ndarray,
                  grad: np.ndarray) -> tuple[list[float], np.ndarray]:
        """Forward and backward pass of every row of ``params`` on one batch.

        ``params`` and ``grad`` are (K, n_params); row k of ``grad`` receives
        ``dL/dparams`` of row k. Returns the K mean losses and the outputs, a
        (K, n, n_out) view into a work buffer that the next call overwrites.
        """
        P, G = self._views(params, "params"), self._views(grad, "grad")
        n = self.net._check_X(X)
        ws = self._work(n)
        cut = self.net.split_at(n)  # the single network's split points, so the same sums
        if not cut:
            losses = self._pass(P, G, ws.whole, X, Y, n)
        else:
            if self._grad2 is None or self._grad2.shape != grad.shape:
                self._grad2 = np.empty_like(grad)
            first, second = ws.split(cut)
            G2 = self._views(self._grad2, "grad")
            parts: list[list[float]] = [[], []]

            def shard(i: int, part: _Part, G: list[_Views]) -> None:
                parts[i] = self._pass(P, G, part, X, Y, n)

            shards.both(lambda: shard(0, first, G), lambda: shard(1, second, G2),
                        self.net.threads > 1)
            grad += self._grad2  # the first shard's gradient plus the second's, as one run
            losses = [a + b for a, b in zip(*parts, strict=True)]
        return losses, ws.out

    def _pass(self, P: list[_Views], G: list[_Views], ws: _Part, X: np.ndarray, Y: np.ndarray,
              n: int) -> list[float]:
        np.copyto(ws.x, X[ws.rows].T)
        np.copyto(ws.Y, Y[ws.rows].T)
        fwd, nh = self._fwd, self._nh
        for i in range(nh):
            np.matmul(P[i].WbT, ws.inp[i], out=ws.z[i])
            fwd(ws.z[i], ws.av[i])
        np.matmul(P[nh].WbT, ws.inp[nh], out=ws.zo)
        losses = self._loss(ws.zo, ws.Y, ws.p, ws.do, n)
        d, dT, bwd = ws.do, ws.doT, self._bwd
        # dWb = [a; 1] @ delta.T; for one sample an outer product, whose every
        # element is one product (as in BLAS), without a batched matmul's slow broadcast
        outer = np.matmul if ws.xa.shape[1] > 1 else np.multiply
        for i in range(nh, 0, -1):
            outer(ws.inp[i], dT, out=G[i].Wb)
            dprev = ws.d[i - 1]
            np.matmul(P[i].W, d, out=dprev)
            bwd(ws.z[i - 1], ws.av[i - 1], dprev, ws.z[i - 1])
            d, dT = dprev, dprev.transpose(0, 2, 1)
        outer(ws.xa, dT, out=G[0].Wb)
        return losses
