"""Which training rows each update sees.

Three streams, chosen by the sampling and the batch size ``b`` of ``n``
training samples, ``ceil(n / b)`` updates per epoch:

* shuffle, ``b < n``: every epoch draws one permutation of the row *indices*
  and gathers the split in that order once, so each batch is a contiguous
  slice and every sample is seen exactly once per epoch (the last batch may
  be smaller);
* shuffle, ``b == n``: the full batch, the split itself, no copy and no draw;
* replacement: every batch is drawn on its own (one index for ``b = 1``,
  ``b`` distinct indices otherwise), as the seed-000 notebook does.

The generator stream of one seed is the same for every run that shares it,
which is what lets :mod:`engine.stacked` train such runs in lock-step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np


class Batches:
    """The batch stream of one run over ``(X, Y, y)`` (features, encoded
    targets, labels) with batch size ``b`` and generator ``rng``.

    ``epoch(limit)`` yields at most ``limit`` batches ``(Xb, Yb)``; a batch
    is drawn only when it is asked for, so a run that stops early leaves the
    generator where a resumed run expects it. ``labels`` then holds the
    labels of the epoch's rows in the order they were seen (for the training
    accuracy). Batches are views into buffers the next batch may overwrite.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, y: np.ndarray, b: int, sampling: str,
                 rng: np.random.Generator) -> None:
        self.X, self.Y, self.y, self.rng = X, Y, y, rng
        self.n = n = X.shape[0]
        self.b = b = min(b, n)
        self.per_epoch = math.ceil(n / b)
        self.kind = ("replacement" if sampling != "shuffle" else "full" if b == n else "shuffle")
        if self.kind == "replacement":
            self._xb = np.empty((b, X.shape[1]), dtype=X.dtype)
            self._yb = np.empty((b, Y.shape[1]), dtype=Y.dtype)
            self._labels = np.empty(self.per_epoch * b, dtype=y.dtype)
        self.labels: np.ndarray = y

    def epoch(self, limit: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The next epoch's batches, at most ``limit`` of them."""
        count = min(limit, self.per_epoch)
        if self.kind == "shuffle":
            return self._shuffled(count)
        if self.kind == "full":
            return self._whole(count)
        return self._drawn(count)

    def _whole(self, count: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        self.labels = self.y
        for _ in range(count):
            yield self.X, self.Y  # the whole split: no copy

    def _shuffled(self, count: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        b = self.b
        order = self.rng.permutation(self.n)
        # np.take into a new array gathers rows faster than fancy indexing or np.take(..., out=)
        Xp, Yp = np.take(self.X, order, axis=0), np.take(self.Y, order, axis=0)
        self.labels = np.take(self.y, order)
        for lo in range(0, count * b, b):
            yield Xp[lo:lo + b], Yp[lo:lo + b]

    def _drawn(self, count: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        b, n, rng = self.b, self.n, self.rng
        xb, yb, labels = self._xb, self._yb, self._labels
        self.labels = labels
        for lo in range(0, count * b, b):
            idx = rng.integers(0, n, size=1) if b == 1 else rng.choice(n, size=b, replace=False)
            np.take(self.X, idx, axis=0, out=xb)
            np.take(self.Y, idx, axis=0, out=yb)
            np.take(self.y, idx, axis=0, out=labels[lo:lo + b])
            yield xb, yb
