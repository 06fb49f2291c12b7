"""``python -m engine sweep``: tune every optimizer with an equal budget, re-run the winners over seeds.

    python -m engine sweep --config base.json --optimizers sgd adam rmsprop --lr 1e-4 1 \\
        [--param momentum 0 0.99] [--trials 8] [--seeds 3] [--search random|grid] \\
        [--score val_loss|best_val_loss|val_metric|best_val_metric|updates_to_target|time_to_target] \\
        [--target 0.9] [--random-state 0] [--jobs N] [--scheduler ADDRESS] --out sweep.json [--csv trials.csv]

One progress line per finished run. ``--out`` is the sweep as JSON
(:meth:`engine.sweep.SweepResult.to_dict`: ``"trials"`` and ``"best"``),
``--csv`` the trial table. Runs are read from and written to the run store,
so an interrupted sweep continues where it stopped. Training happens in
``--jobs`` worker processes (default: ``OPTLAB_JOBS``, else one per core;
1 trains in this process) or on the Dask cluster at ``--scheduler``
(default: ``OPTLAB_DASK_SCHEDULER``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import sys
from pathlib import Path

from engine import optim
from engine.sweep import SCORES, SEARCHES


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="tune optimizers with an equal budget; re-run the winners over seeds",
                       description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="JSON file with RunConfig fields (the base run)")
    p.add_argument("--optimizers", nargs="+", required=True, choices=list(optim.REGISTRY), metavar="NAME",
                   help="registered optimizer names (python -m engine optimizers)")
    p.add_argument("--lr", nargs=2, type=float, default=(1e-4, 1.0), metavar=("LOW", "HIGH"),
                   help="learning-rate range, searched log-uniformly (default 1e-4 1)")
    p.add_argument("--param", nargs=3, action="append", default=[], metavar=("NAME", "LOW", "HIGH"),
                   help="another hyperparameter to search, on its spec's scale (repeatable)")
    p.add_argument("--trials", type=int, default=8,
                   help="trials per optimizer (grid: values per hyperparameter)")
    p.add_argument("--seeds", type=int, default=3, help="seed re-runs of each optimizer's best trial")
    p.add_argument("--search", choices=SEARCHES, default="random")
    p.add_argument("--score", choices=list(SCORES), default="val_loss",
                   help="; ".join(f"{k}: {v[0]}" for k, v in SCORES.items()))
    p.add_argument("--target", type=float, help="the validation metric to reach (the *_to_target scores)")
    p.add_argument("--random-state", type=int, default=0, help="seed of the random search")
    p.add_argument("--jobs", type=int, help="worker processes (1: train in this process)")
    p.add_argument("--scheduler", help="a Dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--out", required=True, help="write the sweep to this JSON file")
    p.add_argument("--csv", help="write the trial table to this CSV file")
    p.set_defaults(func=cmd_sweep)


def _writable(path: str, flag: str) -> str | None:
    """Why ``path`` cannot be written, or None (checked before any training)."""
    p = Path(path)
    if p.is_dir():
        return f"{flag}: {path} is a folder; allowed: a file path"
    if not p.parent.is_dir():
        return f"{flag}: the folder {p.parent} does not exist"
    if not os.access(p.parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        return f"{flag}: {path} cannot be written"
    return None


def _executor(args):
    from engine import executors

    if args.scheduler:
        return executors.DaskExecutor(args.scheduler)
    if args.jobs is not None:
        if args.jobs < 0:
            raise ValueError(f"--jobs: {args.jobs} is not allowed; allowed: a whole number >= 0")
        return executors.InlineExecutor() if args.jobs <= 1 else executors.ProcessExecutor(args.jobs)
    return executors.from_environment()


def cmd_sweep(args: argparse.Namespace) -> int:
    from engine import RunConfig
    from engine.runs import Orchestrator
    from engine.store import RunStore
    from engine.sweep import sweep

    try:
        for path, flag in ((args.out, "--out"), (args.csv, "--csv")):
            problem = path and _writable(path, flag)
            if problem:
                raise ValueError(problem)
        raw = json.loads(Path(args.config).read_text())
        if not isinstance(raw, dict):
            raise ValueError("--config: expected a JSON object of RunConfig fields")
        raw.pop("optimizer_params", None)  # each optimizer starts from its own defaults
        base = RunConfig.from_dict(raw)
        space = {"lr": tuple(args.lr)}
        for name, lo, hi in args.param:
            try:
                space[name] = (float(lo), float(hi))
            except ValueError:
                raise ValueError(f"--param {name}: {lo!r} {hi!r} is not allowed; "
                                 "allowed: two numbers") from None
    except (OSError, json.JSONDecodeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        store = RunStore()
    except (OSError, sqlite3.Error) as e:
        print(f"warning: the run store cannot be opened ({e}); runs are kept in memory only", file=sys.stderr)
        store = None
    try:
        executor = _executor(args)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    orch = Orchestrator(store, executor)

    def progress(p: dict) -> None:
        row = p.get("trial")
        if row is None:
            return
        score = row["score"]
        shown = f"{score:.5g}" if isinstance(score, float) and math.isfinite(score) else str(score)
        params = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in row["optimizer_params"].items())
        print(f"[{p['done']:>4}/{p['total']}] {p['phase']:<5} {row['optimizer']:<10} {params:<24} "
              f"seed {row['seed']:<4} {row['status']:<13} {args.score} {shown}", flush=True)

    try:
        result = sweep(base, args.optimizers, space=space, trials=args.trials, seeds=args.seeds,
                       search=args.search, score=args.score, target=args.target,
                       random_state=args.random_state, orchestrator=orch, progress=progress)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        executor.close()
    board = result.leaderboard()
    if not board.empty:
        print(board.to_string(float_format=lambda v: f"{v:.4g}"))
    Path(args.out).write_text(json.dumps(result.to_dict(), indent=1, default=str))
    print(f"wrote {args.out}")
    if args.csv:
        table = result.trials.drop(columns=["optimizer_params"])
        table.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    if orch.store_error:
        print(f"warning: {orch.store_error}", file=sys.stderr)
    return 0
