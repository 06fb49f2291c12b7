"""One history row: every x-axis, the losses, the metrics and the diagnostics.

A row carries ``epoch`` (fractional for rows inside an epoch), ``updates``,
``samples_seen`` and ``time_s`` so any of them can be a chart's x-axis, then
``lr``, ``train_loss``, ``val_loss``, ``train_acc`` (classification),
``val_acc`` or ``val_r2``, and the diagnostics:

* ``update_ratio`` = ‖θ_t − θ_{t−1}‖ / ‖θ_{t−1}‖ for the last update (about
  1e-3 is healthy);
* ``grad_norm_<layer>``: the L2 norm of each layer's slice of the last
  gradient (after clipping: the one the step used);
* ``state_norm_<name>``: the L2 norm of each optimizer state array.

Each is computed from arrays the update already holds (the gradient, the
parameters and their copy before the last step), into a scratch buffer made
once per run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.nn import MLP
from engine.optim.base import Optimizer


class History:
    """The rows of one run, and what it takes to add one (see the module docstring)."""

    def __init__(self, net: MLP, opt: Optimizer, params: np.ndarray, metric_col: str, classify: bool,
                 rows: list[dict[str, Any]] | None = None) -> None:
        self.net, self.opt, self.metric_col, self.classify = net, opt, metric_col, classify
        self.rows: list[dict[str, Any]] = rows if rows is not None else []
        self.prev = np.empty_like(params)  # θ before the last update of the period
        self._diff = np.empty_like(params)

    def update_ratio(self, params: np.ndarray) -> float:
        prev, diff = self.prev, self._diff
        denom = math.sqrt(float(np.dot(prev, prev)))
        np.subtract(params, prev, out=diff)
        return math.sqrt(float(np.dot(diff, diff))) / denom if denom > 0 else math.nan

    def diagnostics(self, grad: np.ndarray, opt_state: dict[str, Any]) -> dict[str, float]:
        d: dict[str, float] = {}
        for name, sl in zip(self.net.layer_names, self.net.layer_slices, strict=True):
            gs = grad[sl]
            d[f"grad_norm_{name}"] = math.sqrt(float(np.dot(gs, gs)))
        for k, v in self.opt.state_norms(opt_state).items():
            d[f"state_norm_{k}"] = v
        return d

    def add(self, *, epoch: float, updates: int, samples_seen: int, time_s: float, train_loss: float,
            train_acc: float | None, val_loss: float, val_metric: float, ratio: float,
            grad: np.ndarray, opt_state: dict[str, Any]) -> dict[str, Any]:
        row = {
            "epoch": epoch,
            "updates": updates,
            "samples_seen": samples_seen,
            "time_s": time_s,
            "lr": self.opt.lr,
            "train_loss": train_loss,
            "val_loss": val_loss,
        }
        if self.classify:
            row["train_acc"] = train_acc
        row[self.metric_col] = val_metric
        row["update_ratio"] = ratio
        row.update(self.diagnostics(grad, opt_state))
        self.rows.append(row)
        return row
