"""Measured matmul GFLOP/s: the ceiling a full-batch epoch can approach.

Two shapes, numpy's BLAS with its default threads (2 FLOPs per multiply-add):
``square``, ``(1024 × 1024) @ (1024 × 1024)``, and ``layer``, the synthetic
problem's hidden-layer product in the engine's feature-major layout,
``(256 × 256) @ (256 × 16000)``. Each figure is the best of a few calls within
one repetition; the report takes the median over repetitions, and the
roofline of a dtype is the larger of its two shapes.
"""

from __future__ import annotations

import time

import numpy as np

SHAPES = {
    "square": (1024, 1024, 1024),  # (m, k, n)
    "layer": (256, 256, 16000),
}

_buffers: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _arrays(shape: tuple[int, int, int], dtype: str):
    key = (shape, dtype)
    if key not in _buffers:
        m, k, n = shape
        rng = np.random.default_rng(0)
        _buffers[key] = (rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype),
                         np.empty((m, n), dtype=dtype))
    return _buffers[key]


def gflops(kind: str, dtype: str, calls: int = 5) -> float:
    """Best-of-``calls`` GFLOP/s of one matmul shape."""
    m, k, n = SHAPES[kind]
    A, B, C = _arrays(SHAPES[kind], dtype)
    np.matmul(A, B, out=C)  # warm
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        np.matmul(A, B, out=C)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * m * k * n / best / 1e9


def measure(quick: bool = False) -> dict[str, float]:
    out = {}
    for kind in SHAPES:
        for dtype in ("float64", "float32"):
            out[f"{kind}_{dtype}"] = gflops(kind, dtype, calls=3 if quick else 5)
    return out
