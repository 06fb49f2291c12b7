"""Fair comparison: tune every optimizer with the same budget, then re-run each winner over seeds.

The protocol of Schmidt, Schneider & Hennig, "Descending through a Crowded
Valley" (ICML 2021): every optimizer gets the same number of trials drawn
from the same search space (random search on a log scale for the learning
rate), the best trial of each is re-run over several seeds, and the
comparison reports the mean, the spread and every seed's value. MLCommons
AlgoPerf's "time to a target" is one of the criteria.

* **Space**: hyperparameter name -> (low, high). The learning rate is
  searched log-uniformly by default; any other registered hyperparameter is
  drawn on its spec's scale (``Hyper.log``: log-uniform, else uniform; whole
  numbers for ``int`` hypers). An optimizer searches the names it has.
* **Search**: ``"random"`` draws ``trials`` points with scikit-learn's
  ``ParameterSampler`` (``scipy.stats.loguniform`` / ``uniform`` /
  ``randint``), seeded by ``random_state``, so every optimizer with the same
  space sees the same draws; ``"grid"`` takes ``trials`` values per searched
  hyperparameter (log-spaced on log scales) and every combination
  (``ParameterGrid``).
* **Score** (see :data:`SCORES`): final or best validation loss, final or
  best validation metric (accuracy, or R² for regression), or updates / wall
  time until the validation metric first reaches ``target``. A diverged
  trial is kept in the table and scored worst; a trial that never reaches
  the target scores worst too.
* **Seeds**: each optimizer's best trial (ties: the earlier trial) is re-run
  with ``seeds`` new seeds (the base seed + 1, + 2, …), distinct from each
  other and from the tuning seed, so the reported mean is not the lucky draw
  the tuning picked.

All training goes through an :class:`engine.runs.Orchestrator`: trials are
de-duplicated, read from and written to its store as each finishes, and runs
that share a batch stream train stacked (one vectorised optimizer step for a
learning-rate sweep). A cancelled sweep keeps every trial that finished in
the store; asking again trains only the rest. The same inputs always give
the same trials and the same answer, whichever executor trains them.

From a page::

    from engine import RunConfig
    from engine.runs import Orchestrator
    from engine.sweep import sweep

    result = sweep(
        RunConfig(dataset="digits", epochs=10), ["sgd", "adam", "rmsprop"],
        space={"lr": (1e-4, 1.0)}, trials=8, seeds=3, search="random", score="val_loss",
        orchestrator=orch,                       # the app's shared orchestrator
        progress=lambda p: bar.progress(p["fraction"], p["text"]),
        should_stop=lambda: st.session_state.get("cancel", False),
    )
    result.trials        # DataFrame: one row per trial and per seed re-run
    result.best          # {optimizer: {"optimizer_params", "score_mean", "score_std", "seeds", "scores"}}
    result.leaderboard() # DataFrame, best first
    result.results       # run key -> RunResult (curves: best[name]["keys"] are the seed re-runs)
    result.to_dict()     # JSON-ready (the CLI's --out)

``progress(p)`` receives ``fraction`` (0-1 over the whole sweep), ``done``,
``total``, ``phase`` (``"tune"`` or ``"seeds"``), ``text`` and, when a run
has just finished, ``trial`` (its table row).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine import optim
from engine.config import RunConfig
from engine.train import RunResult

# name -> (help, lower is better)
SCORES: dict[str, tuple[str, bool]] = {
    "val_loss": ("validation loss after the last epoch", True),
    "best_val_loss": ("lowest validation loss of the run", True),
    "val_metric": ("validation accuracy (R² for regression) after the last epoch", False),
    "best_val_metric": ("highest validation accuracy (R² for regression) of the run", False),
    "updates_to_target": ("updates until the validation metric first reaches the target", True),
    "time_to_target": ("training seconds until the validation metric first reaches the target", True),
}
SEARCHES = ("random", "grid")
DEFAULT_SPACE = {"lr": (1e-4, 1.0)}

SweepProgress = Callable[[dict[str, Any]], Any]


def score_run(result: RunResult | None, score: str, target: float | None = None) -> float:
    """A run's score under ``score`` (see :data:`SCORES`), in its natural units.

    A diverged run scores worst (+inf where lower is better, -inf where higher
    is); a run that never reached ``target`` scores +inf; a run that was
    stopped or never trained scores nan.
    """
    lower = _check_score(score, target)
    if result is None or result.status == "interrupted":
        return math.nan
    worst = math.inf if lower else -math.inf
    if result.status == "diverged":
        return worst
    h = result.history
    metric = f"val_{result.metric_name}"
    if score in ("val_loss", "best_val_loss"):
        values = h["val_loss"].to_numpy(dtype=float)
        value = values[-1] if score == "val_loss" else np.nanmin(values)
    elif score in ("val_metric", "best_val_metric"):
        values = h[metric].to_numpy(dtype=float)
        value = values[-1] if score == "val_metric" else np.nanmax(values)
    else:
        reached = h[h[metric] >= target]
        if reached.empty:
            return math.inf
        value = reached["updates" if score == "updates_to_target" else "time_s"].iloc[0]
    value = float(value)
    return value if math.isfinite(value) else worst


def _check_score(score: str, target: float | None) -> bool:
    if score not in SCORES:
        raise ValueError(f"score: {score!r} is not allowed; allowed: {', '.join(SCORES)}")
    if score.endswith("_to_target") and (target is None or not math.isfinite(target)):
        raise ValueError(f"target: {target!r} is not allowed with score {score!r}; allowed: the "
                         "validation metric to reach (accuracy, or R² for regression), a finite number")
    return SCORES[score][1]


# --------------------------------------------------------------------------
# the trials


def _space_for(name: str, space: Mapping[str, tuple[float, float]]) -> dict[str, tuple[Any, float, float]]:
    """The searched hyperparameters of optimizer ``name``: hyper -> (spec, low, high)."""
    spec = optim.REGISTRY.get_spec(name, "optimizers")
    out = {}
    for hname, bounds in space.items():
        if hname not in spec.defaults():
            continue
        h = spec.hyper(hname)
        where = f"space.{hname} ({name})"
        if h.kind not in ("float", "int"):
            raise ValueError(f"{where}: a {h.kind} hyperparameter is not allowed; allowed: numbers only")
        if not isinstance(bounds, list | tuple) or len(bounds) != 2:
            raise ValueError(f"{where}: {bounds!r} is not allowed; allowed: a pair (low, high)")
        lo, hi = (h.validate(b, where) for b in bounds)
        if not lo < hi:
            raise ValueError(f"{where}: ({lo!r}, {hi!r}) is not allowed; allowed: low < high")
        if h.log and lo <= 0:
            raise ValueError(f"{where}: low {lo!r} is not allowed on a log scale; allowed: low > 0")
        out[hname] = (h, lo, hi)
    if not out:
        raise ValueError(f"optimizers: {name!r} has none of the searched hyperparameters "
                         f"({', '.join(space)}); allowed: optimizers with at least one of them")
    return out


def draw_trials(name: str, space: Mapping[str, tuple[float, float]], trials: int, search: str,
                random_state: int) -> list[dict[str, Any]]:
    """The hyperparameter sets of ``name``'s trials (the same for the same inputs)."""
    from scipy import stats
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    dims = _space_for(name, space)
    if search == "random":
        dists = {}
        for hname, (h, lo, hi) in dims.items():
            if h.kind == "int":
                dists[hname] = stats.randint(int(lo), int(hi) + 1)
            elif h.log:
                dists[hname] = stats.loguniform(lo, hi)
            else:
                dists[hname] = stats.uniform(lo, hi - lo)
        points = list(ParameterSampler(dists, n_iter=trials, random_state=random_state))
    else:
        grid = {}
        for hname, (h, lo, hi) in dims.items():
            values = np.geomspace(lo, hi, trials) if h.log else np.linspace(lo, hi, trials)
            grid[hname] = (sorted({int(round(v)) for v in values}) if h.kind == "int"
                           else [float(v) for v in values])
        points = list(ParameterGrid(grid))
    return [{k: (int(v) if dims[k][0].kind == "int" else float(v)) for k, v in sorted(p.items())}
            for p in points]


# --------------------------------------------------------------------------
# the result


@dataclass
class SweepResult:
    """Every trial and seed re-run, and each optimizer's tuned result."""

    trials: pd.DataFrame
    best: dict[str, dict[str, Any]]
    score: str
    lower_is_better: bool
    target: float | None = None
    cancelled: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    results: dict[str, RunResult] = field(default_factory=dict, repr=False)  # run key -> result

    def leaderboard(self) -> pd.DataFrame:
        """One row per optimizer, the best mean score first."""
        rows = [{"optimizer": name, "score_mean": b["score_mean"], "score_std": b["score_std"],
                 "runs": len(b["scores"]), "diverged": b["diverged"],
                 **{f"best_{k}": v for k, v in b["optimizer_params"].items() if k in b["searched"]}}
                for name, b in self.best.items()]
        board = pd.DataFrame(rows)
        if board.empty:
            return board
        return board.sort_values("score_mean", ascending=self.lower_is_better, kind="stable",
                                 na_position="last").reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: scores that are not finite (diverged, never reached) become null."""
        trials = []
        for row in self.trials.to_dict("records"):
            trials.append({k: _json_num(row[k]) for k in
                           ("optimizer", "phase", "trial", "optimizer_params", "seed", "status", "score",
                            "key")})
        best = {name: {**b, "score_mean": _json_num(b["score_mean"]), "score_std": _json_num(b["score_std"]),
                       "trial_score": _json_num(b["trial_score"]),
                       "scores": [_json_num(s) for s in b["scores"]]}
                for name, b in self.best.items()}
        return {"score": self.score, "lower_is_better": self.lower_is_better, "target": self.target,
                "cancelled": self.cancelled, "settings": self.settings, "trials": trials, "best": best}


def _json_num(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


# --------------------------------------------------------------------------
# the sweep


def sweep(
    base: RunConfig,
    optimizers: Sequence[str],
    *,
    space: Mapping[str, tuple[float, float]] | None = None,
    trials: int = 8,
    seeds: int = 3,
    search: str = "random",
    score: str = "val_loss",
    target: float | None = None,
    random_state: int = 0,
    orchestrator: Any = None,
    progress: SweepProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SweepResult:
    """Tune every optimizer with ``trials`` trials, re-run each best with ``seeds`` new seeds.

    ``base`` fixes everything but the optimizer (its ``optimizer_params`` are
    ignored: each optimizer starts from its defaults). See the module
    docstring for the space, the search, the scores and the callbacks.
    """
    from engine.runs import Orchestrator

    if not isinstance(base, RunConfig):
        raise ValueError(f"base: expected a RunConfig, got {type(base).__name__}")
    optimizers = list(dict.fromkeys(optimizers))
    if not optimizers:
        raise ValueError("optimizers: an empty list is not allowed; allowed: registered optimizer names")
    for name in optimizers:
        optim.REGISTRY.get_spec(name, "optimizers")
    for name, v, hi in (("trials", trials, 1000), ("seeds", seeds, 100)):
        if isinstance(v, bool) or not isinstance(v, int) or not (0 if name == "seeds" else 1) <= v <= hi:
            low = 0 if name == "seeds" else 1
            raise ValueError(f"{name}: {v!r} is not allowed; allowed: a whole number in [{low}, {hi}]")
    if search not in SEARCHES:
        raise ValueError(f"search: {search!r} is not allowed; allowed: {', '.join(SEARCHES)}")
    lower = _check_score(score, target)
    space = dict(DEFAULT_SPACE if space is None else space)
    orchestrator = orchestrator if orchestrator is not None else Orchestrator(None)

    # -- the trials: the same count for every optimizer -------------------------
    points = {name: draw_trials(name, space, trials, search, random_state) for name in optimizers}
    sizes = {len(p) for p in points.values()}
    if len(sizes) > 1:
        raise ValueError("space: a grid over hyperparameters that only some optimizers have gives "
                         "unequal budgets; allowed: a grid over hyperparameters every optimizer has, "
                         "or random search")
    tune = [(name, i, p, base.replace(optimizer=name, optimizer_params=p, seed=base.seed))
            for name in optimizers for i, p in enumerate(points[name])]
    n_total = len(tune) + len(optimizers) * seeds
    state = {"done": 0}
    results: dict[str, RunResult] = {}

    def run(items: list[tuple], phase: str) -> list[RunResult | None]:
        configs = [c for *_, c in items]
        labels = [f"sweep {phase}: {name} {_fmt_params(p)}" for name, _, p, _ in items]
        fractions: dict[str, float] = {}
        n_configs = len({c.key() for c in configs})
        offset = state["done"]

        def report(key: str | None, row: dict[str, Any] | None = None) -> None:
            if progress is None:
                return
            done = offset + len([k for k, f in fractions.items() if f >= 1.0])
            running = sum(f for f in fractions.values() if f < 1.0)
            frac = min(1.0, (offset + sum(fractions.values())) / max(n_total, 1))
            text = f"{phase}: {done - offset}/{n_configs} runs finished"
            progress({"phase": phase, "done": done, "total": n_total, "fraction": frac, "running": running,
                      "text": text, "trial": row})

        def on_epoch(key: str, p: dict[str, Any]) -> None:
            fractions[key] = min(float(p.get("fraction", 0.0)), 0.999)
            report(key)

        def on_result(r: RunResult) -> None:
            results[r.key] = r
            fractions[r.key] = 1.0
            c = r.config
            report(r.key, {"optimizer": c.optimizer, "phase": phase, "seed": c.seed, "status": r.status,
                           "score": score_run(r, score, target), "key": r.key,
                           "optimizer_params": _searched(c.optimizer_params, space)})

        out = orchestrator.run(configs, labels=labels, progress=on_epoch, should_stop=should_stop,
                               on_result=on_result)
        state["done"] = offset + len(configs)
        return out

    rows: list[dict[str, Any]] = []

    def add_rows(items, found, phase) -> bool:
        complete = True
        for (name, i, p, c), r in zip(items, found, strict=True):
            status = "cancelled" if r is None else r.status
            complete &= status != "cancelled" and status != "interrupted"
            rows.append({"optimizer": name, "phase": phase, "trial": i, "seed": c.seed, **p,
                         "optimizer_params": p, "status": status, "score": score_run(r, score, target),
                         "diverged_at": None if r is None else r.diverged_at,
                         "key": c.key()})
        return complete

    complete = add_rows(tune, run(tune, "tune"), "tune")
    best: dict[str, dict[str, Any]] = {}
    if complete:
        winners = {}
        for name in optimizers:
            mine = [r for r in rows if r["optimizer"] == name]
            winners[name] = min(mine, key=lambda r: (_rank(r["score"], lower), r["trial"]))
        again = [(name, w["trial"], w["optimizer_params"],
                  base.replace(optimizer=name, optimizer_params=w["optimizer_params"],
                               seed=(base.seed + 1 + s) % 2**32))
                 for name, w in winners.items() for s in range(seeds)]
        if again:
            complete = add_rows(again, run(again, "seeds"), "seeds")
        if complete:
            for name, w in winners.items():
                runs = [r for r in rows if r["optimizer"] == name and r["phase"] == "seeds"] or [w]
                scores = [float(r["score"]) for r in runs]
                finite = all(math.isfinite(s) for s in scores)
                best[name] = {
                    "optimizer_params": {**optim.REGISTRY[name].defaults(), **w["optimizer_params"]},
                    "searched": sorted(w["optimizer_params"]),
                    "trial": w["trial"], "trial_score": float(w["score"]),
                    "score_mean": float(np.mean(scores)) if finite else _worst(lower, scores),
                    "score_std": float(np.std(scores, ddof=1)) if finite and len(scores) > 1 else
                    (0.0 if finite else math.nan),
                    "seeds": [int(r["seed"]) for r in runs], "scores": scores,
                    "diverged": sum(r["status"] == "diverged" for r in runs),
                    "keys": [r["key"] for r in runs],
                }
    table = pd.DataFrame(rows)
    fixed = {k: v for k, v in base.to_dict().items() if k not in ("optimizer", "optimizer_params")}
    settings = {"base": fixed, "optimizers": optimizers,
                "space": {k: list(v) for k, v in space.items()},
                "trials": trials, "seeds": seeds, "search": search, "random_state": random_state}
    return SweepResult(trials=table, best=best, score=score, lower_is_better=lower, target=target,
                       cancelled=not complete, settings=settings, results=results)


def _rank(score: float, lower: bool) -> float:
    """Sort key, lower is better; nan (never finished) after everything."""
    if math.isnan(score):
        return math.inf
    return score if lower else -score


def _worst(lower: bool, scores: list[float]) -> float:
    """The mean of scores that include a diverged run: the worst possible."""
    if any(math.isnan(s) for s in scores):
        return math.nan
    return math.inf if lower else -math.inf


def _searched(params: Mapping[str, Any], space: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k in space}


def _fmt_params(p: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items())
