"""A run's wall-time clock: training only.

``time_s`` in the history and ``train_s`` count the updates alone: the
validation rows are timed apart (``eval_s``), and a run trained in lock-step
with others (:mod:`engine.stacked`) does not count the time it waits on their
work, only its own loop and optimizer work plus its ``share`` of each stacked
pass, so the clocks of stacked runs still compare their costs.
"""

from __future__ import annotations

import math
import time

import numpy as np


class RunClock:
    """Starts at ``time_s`` seconds already trained (a resumed run)."""

    def __init__(self, time_s: float = 0.0) -> None:
        self.start = time.perf_counter() - time_s
        self.eval_s = 0.0
        self.waited = 0.0
        self.epoch_times: list[float] = []
        self._epoch = (0.0, 0.0)

    def training(self) -> float:
        """Seconds of training so far."""
        return time.perf_counter() - self.start - self.eval_s - self.waited

    def begin_epoch(self) -> None:
        self._epoch = (time.perf_counter(), self.waited)

    def end_epoch(self) -> None:
        t0, waited0 = self._epoch
        self.epoch_times.append(time.perf_counter() - t0 - (self.waited - waited0))

    def add_eval(self, t0: float) -> None:
        """An evaluation that began at ``perf_counter()`` time ``t0`` has ended."""
        self.eval_s += time.perf_counter() - t0

    def add_wait(self, t0: float, share: float) -> None:
        """Suspended since ``t0`` while a stacked pass ran, ``share`` of it this run's own."""
        self.waited += time.perf_counter() - t0 - share

    def timings(self, train_s: float, updates: int, samples: int, updates_per_epoch: int,
                initial_eval_s: float) -> dict[str, float]:
        return {
            "total_s": time.perf_counter() - self.start - self.waited + initial_eval_s,
            "train_s": train_s,
            "eval_s": self.eval_s + initial_eval_s,
            "per_epoch_s": float(np.median(self.epoch_times)) if self.epoch_times else math.nan,
            "updates_per_s": updates / train_s if train_s > 0 else math.nan,
            "samples_per_s": samples / train_s if train_s > 0 else math.nan,
            "updates_per_epoch": float(updates_per_epoch),
        }
