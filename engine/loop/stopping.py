"""Early stopping as explicit state (Keras' ``EarlyStopping``, scikit-learn's
``_update_no_improvement_count`` and ``_best_coefs``).

After every epoch the monitored score (the validation loss, or minus the
validation metric, so lower is always better) either improves on the best by
more than ``min_delta``, which records the epoch and, with
``restore_best``, a copy of the parameters, or counts one more bad epoch.
With early stopping on, ``patience`` bad epochs in a row stop the run; its
best parameters are then put back. The best score is tracked even with early
stopping off, since the run's summary reports it.

:class:`StopPoll` is the other way a run ends early: a stop asked for from
outside (a superseded page, a closed tab, a cancelled sweep), seen within a
fraction of a second even in the middle of a long epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class EarlyStopping:
    """``monitor`` is ``"val_loss"`` or ``"val_metric"``; ``enabled`` turns the
    stop on; ``best_params`` (a copy, or None) is kept only when it can be
    restored. ``best_score``, ``best_epoch`` and ``bad_epochs`` are the state
    a checkpoint carries."""

    monitor: str = "val_loss"
    min_delta: float = 0.0
    patience: int = 10
    enabled: bool = False
    best_score: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    best_params: np.ndarray | None = None

    def score(self, val_loss: float, val_metric: float) -> float:
        """The monitored quantity, lower is better."""
        return val_loss if self.monitor == "val_loss" else -val_metric

    def update(self, score: float, epoch: int, params: np.ndarray) -> bool:
        """Record epoch ``epoch``'s score; True when the run should stop now."""
        if score < self.best_score - self.min_delta:
            self.best_score, self.best_epoch, self.bad_epochs = score, epoch, 0
            if self.best_params is not None:
                np.copyto(self.best_params, params)
            return False
        self.bad_epochs += 1
        return self.enabled and self.bad_epochs >= self.patience

    def reason(self) -> str:
        return (
            f"{self.monitor} did not improve by more than {self.min_delta:g} for "
            f"{self.patience} epochs; the best was at epoch {self.best_epoch}"
            + (" and its parameters were restored." if self.best_params is not None else ".")
        )

    def restore(self, params: np.ndarray) -> None:
        """Put the best parameters back into ``params`` (if they were kept)."""
        if self.best_params is not None:
            np.copyto(params, self.best_params)


class StopPoll:
    """Asks ``should_stop()`` inside an epoch, at most every ``interval`` seconds of wall time.

    A stop asked for between epochs is seen at the end of the current one; a
    long epoch (one-sample updates on a wide network) would keep a superseded
    run going for minutes. Each update calls the poll, which reads the clock
    only (``perf_counter``, tens of nanoseconds) until ``interval`` has passed,
    so the predicate itself (a shared-memory flag, a cluster event, a page's
    stop request) runs a few times a second whatever the update costs.
    """

    __slots__ = ("should_stop", "interval", "next_at")

    def __init__(self, should_stop, interval: float = 0.2) -> None:
        self.should_stop, self.interval = should_stop, interval
        self.next_at = time.perf_counter() + interval

    def __call__(self) -> bool:
        now = time.perf_counter()
        if now < self.next_at:
            return False
        self.next_at = now + self.interval
        return bool(self.should_stop())
