"""Per-run scalars of a vectorised optimizer step over a stack of runs.

A stacked step updates K runs' parameter rows, a (K, n) array, with one
NumPy call per operation. A hyperparameter that differs between the runs
(the learning rate of a sweep) becomes a (K, 1) column in the parameters'
dtype; one that is the same for every run stays a Python float. Both give
each row exactly the arithmetic of a single run's step: NumPy casts a
Python float to the array's dtype before it operates, as the column already
is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def column(values: Sequence[float], dtype: np.dtype) -> float | np.ndarray:
    """One scalar per run: a Python float when they are all equal, else a (K, 1) column."""
    first = values[0]
    if all(v == first for v in values):
        return first
    return np.asarray(values, dtype=np.float64).astype(dtype)[:, None]
