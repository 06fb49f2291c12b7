"""Loss and metric of the parameters on one split, in eval mode.

The metric is the accuracy for classification (a sigmoid output counts as
class 1 from 0.5) and R² for regression (scikit-learn's ``r2_score``, on the
standardised targets: R² does not change under that scaling). A split is
evaluated once per history row, so its class-major targets and the output and
prediction buffers are made once per run.
"""

from __future__ import annotations

import math

import numpy as np

from engine.nn import MLP


class SplitEvaluator:
    """``evaluator(params, state) -> (mean loss, metric)`` on ``(X, Y, y)``
    (features, encoded targets, labels) for a ``task``."""

    def __init__(self, net: MLP, X: np.ndarray, Y: np.ndarray, y: np.ndarray, task: str) -> None:
        self.net, self.X, self.task = net, X, task
        self.regression = task == "regression"
        self.target = Y if self.regression else y
        n, k = Y.shape
        self.YT = np.ascontiguousarray(Y.T, dtype=net.dtype)
        self.out = np.empty((n, k), dtype=net.dtype)
        if not self.regression:
            self.pred = np.empty(n, dtype=np.int64)
            self.hit = np.empty(n, dtype=bool)

    def __call__(self, params: np.ndarray, state) -> tuple[float, float]:
        loss = self.net.evaluate_into(params, self.X, self.YT, self.out, state)
        return float(loss), self.metric(self.out)

    def metric(self, out: np.ndarray) -> float:
        if self.regression:
            from sklearn.metrics import r2_score

            if not np.all(np.isfinite(out)):
                return math.nan
            return float(r2_score(self.target, out.reshape(self.target.shape)))
        if out.shape[1] == 1:
            np.greater_equal(out[:, 0], 0.5, out=self.hit)
            self.pred[:] = self.hit
        else:
            out.argmax(axis=1, out=self.pred)
        np.equal(self.pred, self.target, out=self.hit)
        return np.count_nonzero(self.hit) / self.hit.shape[0]
