"""L-BFGS with an optional strong-Wolfe line search, as torch.optim.LBFGS.

One ``step(params, grad, state, closure)`` is one torch ``LBFGS.step(closure)``:
``closure(x) -> (loss, grad)`` evaluates the objective at the vector ``x``;
``grad`` is not used (the step starts with its own evaluation, as torch's
does). The step returns the loss of that first evaluation.

::

    evaluate f, g at θ ; stop if max|g| ≤ tolerance_grad
    repeat up to max_iter times:
        first iteration ever:  d ← −g ; history empty ; H_diag ← 1
        otherwise:             y ← g − g_prev ; s ← t·d
                               if yᵀs > 1e-10: push (y, s, 1/yᵀs), dropping the
                                   oldest beyond history_size ; H_diag ← yᵀs / yᵀy
                               d ← −H·g  (two-loop recursion, H₀ = H_diag·I)
        t ← min(1, 1/‖g‖₁)·lr on the first iteration ever, else lr
        stop if gᵀd > −tolerance_change
        no line search:  θ ← θ + t·d ; re-evaluate unless this is the last iteration
        strong_wolfe:    t, f, g from the line search (c₁ = 1e-4, c₂ = 0.9, cubic
                         interpolation, its own tolerance 1e-9), θ ← θ + t·d
        stop on: max_iter, max_eval evaluations, max|g| ≤ tolerance_grad,
                 max|t·d| ≤ tolerance_change, |f − f_prev| < tolerance_change

The state is flat: the history is two ``history_size × n`` arrays used as a
ring (``hist_start``, ``hist_len``), with ``ro``, ``d``, ``t``, ``H_diag``,
``prev_flat_grad``, ``prev_loss``, ``n_iter`` and ``func_evals``. Defaults:
lr 1, max_iter 20, max_eval 0 (torch's None: max_iter·5//4), tolerance_grad
1e-7, tolerance_change 1e-9, history_size 100, line_search_fn None.

References: Nocedal (1980); Liu & Nocedal (1989); Nocedal & Wright,
*Numerical Optimization*, Alg. 7.4 and 3.5-3.6; torch.optim.LBFGS (a port of
minFunc / torch7's lbfgs.lua and lswolfe.lua).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.optim.base import Optimizer, register
from engine.optim.hypers import lr as lr_hyper
from engine.spec import Hyper, Spec


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = d2_square**0.5
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """torch's ``_strong_wolfe`` on floats and arrays: returns (f, g, t, evaluations).

    ``obj_func(t)`` returns the loss and a fresh gradient array at θ + t·d.
    """
    d_norm = float(np.max(np.abs(d)))
    f_new, g_new = obj_func(t)
    ls_func_evals = 1
    gtd_new = float(g_new.dot(d))

    # bracket an interval containing a point satisfying the Wolfe criteria
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list[float] = []
    bracket_f: list[float] = []
    bracket_g: list[np.ndarray] = []
    bracket_gtd: list[float] = []
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # interpolate (extrapolation bounds [t + 0.01(t - t_prev), 10t])
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = obj_func(t)
        ls_func_evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1

    if ls_iter == max_ls:  # reached the evaluation budget
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket until a point satisfies the criteria
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        # near a bracket end twice in a row (or at/outside it): move 10% inside
        hi_b, lo_b = max(bracket), min(bracket)
        eps = 0.1 * (hi_b - lo_b)
        if min(hi_b - t, t - lo_b) < eps:
            if insuf_progress or t >= hi_b or t <= lo_b:
                t = hi_b - eps if abs(t - hi_b) < abs(t - lo_b) else lo_b + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(t)
        ls_func_evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # Armijo fails or no lower than the lowest point: new high end
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the old low end becomes the high end
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS(Optimizer):
    name = "lbfgs"

    def __init__(self, **hp: Any) -> None:
        if hp.get("line_search_fn") not in (None, "strong_wolfe"):
            raise ValueError(
                f"optimizer_params.line_search_fn: {hp['line_search_fn']!r} is not allowed; "
                "allowed: one of None, 'strong_wolfe'"
            )
        super().__init__(**hp)

    def init(self, params: np.ndarray) -> dict[str, Any]:
        h, n = self.hp["history_size"], params.size
        return {
            "func_evals": 0, "n_iter": 0,
            "d": np.zeros_like(params), "t": 0.0,
            "old_dirs": np.zeros((h, n), dtype=params.dtype),
            "old_stps": np.zeros((h, n), dtype=params.dtype),
            "ro": np.zeros(h, dtype=params.dtype),
            "hist_start": 0, "hist_len": 0, "H_diag": 1.0,
            "prev_flat_grad": np.zeros_like(params), "prev_loss": 0.0,
        }

    def _evaluate(self, closure: Callable, x: np.ndarray) -> tuple[float, np.ndarray]:
        loss, g = closure(x)
        # a fresh copy: the caller may reuse its gradient buffer
        return float(loss), np.array(g, dtype=x.dtype, copy=True).reshape(x.shape)

    def _direction(self, flat_grad: np.ndarray, state: dict[str, Any]) -> None:
        """Update the history with (y, s) and set ``state["d"] = −H·g``."""
        d, t = state["d"], state["t"]
        h = self.hp["history_size"]
        dirs, stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        y = np.subtract(flat_grad, state["prev_flat_grad"], out=self.buffer("y", d))
        s = np.multiply(d, t, out=self.buffer("s", d))
        ys = float(y.dot(s))
        if ys > 1e-10:
            start, size = state["hist_start"], state["hist_len"]
            if size == h:  # drop the oldest pair
                slot = start
                state["hist_start"] = (start + 1) % h
            else:
                slot = (start + size) % h
                state["hist_len"] = size + 1
            dirs[slot] = y
            stps[slot] = s
            ro[slot] = 1.0 / ys
            state["H_diag"] = ys / float(y.dot(y))
        start, size = state["hist_start"], state["hist_len"]
        order = [(start + i) % h for i in range(size)]
        al = self.buffer("al", ro).astype(np.float64, copy=False)
        q = np.negative(flat_grad, out=self.buffer("q", d))
        tmp = self.buffer("tmp", d)
        for j in reversed(order):
            al[j] = float(stps[j].dot(q)) * float(ro[j])
            np.multiply(dirs[j], -float(al[j]), out=tmp)
            q += tmp
        np.multiply(q, state["H_diag"], out=d)
        for j in order:
            be = float(dirs[j].dot(d)) * float(ro[j])
            np.multiply(stps[j], float(al[j]) - be, out=tmp)
            d += tmp

    def step(self, params, grad, state, closure=None):
        if closure is None:
            raise ValueError("lbfgs: step() needs closure(params) -> (loss, grad)")
        lr = self.lr
        max_iter = self.hp["max_iter"]
        max_eval = self.hp["max_eval"] or max_iter * 5 // 4
        tol_grad, tol_change = self.hp["tolerance_grad"], self.hp["tolerance_change"]
        line_search = self.hp["line_search_fn"]

        loss, flat_grad = self._evaluate(closure, params)
        orig_loss = loss
        current_evals = 1
        state["func_evals"] += 1
        if np.max(np.abs(flat_grad)) <= tol_grad:
            return orig_loss

        d = state["d"]
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # descent direction
            if state["n_iter"] == 1:
                np.negative(flat_grad, out=d)
                state["hist_start"] = state["hist_len"] = 0
                state["H_diag"] = 1.0
            else:
                self._direction(flat_grad, state)
            np.copyto(state["prev_flat_grad"], flat_grad)
            state["prev_loss"] = prev_loss = loss

            # step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.sum(np.abs(flat_grad)))) * lr
            else:
                t = lr
            state["t"] = t
            gtd = float(flat_grad.dot(d))
            if gtd > -tol_change:
                break

            ls_func_evals = 0
            if line_search is not None:
                def obj_func(step: float, x=params, d=d) -> tuple[float, np.ndarray]:
                    trial = np.multiply(d, step, out=self.buffer("trial", x))
                    np.add(trial, x, out=trial)
                    return self._evaluate(closure, trial)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                state["t"] = t
                upd = self.buffer("upd", params)
                np.multiply(d, t, out=upd)
                params += upd
                opt_cond = np.max(np.abs(flat_grad)) <= tol_grad
            else:
                upd = self.buffer("upd", params)
                np.multiply(d, t, out=upd)
                params += upd
                opt_cond = False
                if n_iter != max_iter:
                    # re-evaluate only if another iteration may follow
                    loss, flat_grad = self._evaluate(closure, params)
                    opt_cond = np.max(np.abs(flat_grad)) <= tol_grad
                    ls_func_evals = 1

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # stopping conditions
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            upd = self.buffer("upd", params)
            np.multiply(d, t, out=upd)
            if np.max(np.abs(upd)) <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break
        return orig_loss


register(Spec(
    "lbfgs",
    (
        lr_hyper(1.0, "Step length of each iteration (the line search's first trial)."),
        Hyper("max_iter", 20, 1, 1000, kind="int", help="Maximum iterations per step."),
        Hyper("max_eval", 0, 0, 10000, kind="int",
              help="Maximum function evaluations per step; 0 means max_iter·5//4 (torch's None)."),
        Hyper("tolerance_grad", 1e-7, 0.0, 1.0, log=True,
              help="Stop when max|g| falls to this."),
        Hyper("tolerance_change", 1e-9, 0.0, 1.0, log=True,
              help="Stop when the loss or the step changes by less than this."),
        Hyper("history_size", 100, 1, 1000, kind="int", help="Number of (y, s) pairs kept."),
        Hyper("line_search_fn", None, kind="choice", choices=(None, "strong_wolfe"),
              help="None (fixed step lr) or 'strong_wolfe' (cubic-interpolation line search)."),
    ),
    help="torch.optim.LBFGS: limited-memory quasi-Newton; full batch only, needs a closure.",
    reference="Liu & Nocedal 1989; Nocedal & Wright Alg. 7.4; torch.optim.LBFGS",
    factory=LBFGS,
    label="L-BFGS",
    extra={"full_batch_only": True},
))
