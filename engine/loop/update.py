"""One update's bookkeeping around the optimizer step.

* :func:`clip`: clip the gradient by value, then by global norm (torch's
  ``clip_grad_value_`` and ``clip_grad_norm_``), in place;
* :class:`EpochTally`: the epoch's running training loss and accuracy, taken
  from the loss and outputs the gradient pass already computed;
* :func:`divergence`: the one divergence check. A non-finite training loss,
  parameter vector or validation loss ends the run with status ``diverged``
  and this stop reason.
"""

from __future__ import annotations

import math

import numpy as np


def clip(g: np.ndarray, clip_value: float, clip_norm: float) -> None:
    """``g ← clamp(g, -clip_value, clip_value)``, then ``g ← g · clip_norm / ‖g‖``
    if ``‖g‖ > clip_norm`` (each step off at 0)."""
    if clip_value > 0:
        np.clip(g, -clip_value, clip_value, out=g)
    if clip_norm > 0:
        norm = math.sqrt(float(np.dot(g, g)))
        if norm > clip_norm:
            g *= clip_norm / norm


def divergence(quantity: str, value: float | np.ndarray, update: int) -> str | None:
    """The stop reason if ``value`` (a loss, or the parameter vector) is not
    finite after ``update`` updates; None while it is."""
    if isinstance(value, np.ndarray):
        if np.all(np.isfinite(value)):
            return None
        value = "non-finite"
    elif math.isfinite(value):
        return None
    return (f"The {quantity} became {value} at update {update}; "
            "lower the learning rate or clip the gradients.")


class EpochTally:
    """Mean training loss and accuracy over the batches of the epoch so far.

    ``add`` takes each batch's mean loss and outputs (predicted labels are
    kept, one ``argmax`` per batch); ``accuracy`` compares them with the
    labels of the rows seen, once per history row. Room for ``capacity``
    samples (one epoch).
    """

    def __init__(self, capacity: int, classify: bool, binary: bool) -> None:
        self.classify, self.binary = classify, binary
        self.pred = np.empty(capacity if classify else 0, dtype=np.int64)
        self.loss_sum, self.seen = 0.0, 0

    def reset(self) -> None:
        self.loss_sum, self.seen = 0.0, 0

    def add(self, loss: float, out: np.ndarray, m: int) -> None:
        seen = self.seen
        self.loss_sum += loss * m
        if self.classify:
            if self.binary:
                np.greater_equal(out[:, 0], 0.5, out=self.pred[seen:seen + m])
            else:
                out.argmax(axis=1, out=self.pred[seen:seen + m])
        self.seen = seen + m

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.seen, 1)

    def accuracy(self, labels: np.ndarray) -> float | None:
        """The fraction of the epoch's samples so far whose prediction was right."""
        seen = self.seen
        if not self.classify or seen == 0:
            return None
        return float(np.count_nonzero(self.pred[:seen] == labels[:seen])) / seen
