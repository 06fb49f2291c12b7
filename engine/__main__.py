"""Command line: ``python -m engine {train,compare,optimizers,datasets,warm-lessons}``.

    python -m engine train --config cfg.json [--out run.npz]
    python -m engine compare --config cfg.json --optimizers sgd adam rmsprop [--seeds 3] [--csv out.csv]
    python -m engine sweep --config cfg.json --optimizers sgd adam --lr 1e-4 1 --out sweep.json
    python -m engine optimizers
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine import optim
from engine.spec import Registry


def _fmt_default(v) -> str:
    return f"{v:g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)


def _print_registry(reg: Registry) -> None:
    for name, spec in reg.items():
        print(f"{name:<15} {spec.help}")
        for h in spec.hypers:
            print(f"    {h.name:<26} default {_fmt_default(h.default):<12} {h.allowed()}")


def cmd_train(args: argparse.Namespace) -> int:
    from engine import RunConfig, save_run, train

    try:
        cfg_dict = json.loads(Path(args.config).read_text())
        config = RunConfig.from_dict(cfg_dict)
    except (OSError, json.JSONDecodeError) as e:
        print(f"error: --config: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    metric = None

    def progress(p: dict) -> None:
        nonlocal metric
        metric = "val_acc" if "val_acc" in p else "val_r2"
        print(f"epoch {p['epoch']:>4}/{p['epochs']}  updates {p['updates']:>7}  "
              f"train_loss {p['train_loss']:.5f}  val_loss {p['val_loss']:.5f}  "
              f"{metric} {p[metric]:.4f}  {p['time_s']:.2f}s", flush=True)

    result = train(config, progress)
    s = result.summary()
    print(f"{result.status}: {result.stop_reason}")
    best = s["best_val_loss"]
    print((f"best val_loss {best:.5g} at epoch {s['best_epoch']:g}; " if best is not None
           else "no finite val_loss; ")
          + ", ".join(f"{k} {v:.5g}" for k, v in result.test_metrics.items())
          + f"; {result.timings['total_s']:.2f}s; key {result.key}")
    if args.out:
        save_run(result, args.out)
        print(f"saved to {args.out}")
    return 1 if result.status == "diverged" else 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Every optimizer (with its defaults) on one config, trained stacked; a leaderboard."""
    import pandas as pd

    from engine import RunConfig, train_many

    try:
        base = json.loads(Path(args.config).read_text()) if args.config else {}
        if not isinstance(base, dict):
            raise ValueError("--config: expected a JSON object of RunConfig fields")
        if args.seeds < 1:
            raise ValueError(f"--seeds: {args.seeds} is not allowed; allowed: a whole number >= 1")
        base.pop("optimizer_params", None)  # each optimizer runs with its own defaults
        seed0 = int(base.pop("seed", 0))
        configs = [RunConfig.from_dict({**base, "optimizer": name, "seed": seed0 + s})
                   for name in args.optimizers for s in range(args.seeds)]
    except (OSError, json.JSONDecodeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"training {len(configs)} runs ({len(args.optimizers)} optimizers x {args.seeds} seeds), "
          "stacked where they share batches…", flush=True)
    results = train_many(configs)
    rows = []
    for r in results:
        s = r.summary()
        rows.append({
            "optimizer": r.config.optimizer, "seed": r.config.seed, "status": r.status,
            "best_val_loss": s["best_val_loss"], "final_val_loss": s["final_val_loss"],
            f"final_val_{r.metric_name}": s["final_val_metric"],
            **{k: v for k, v in r.test_metrics.items()}, "train_s": r.timings["train_s"],
        })
    table = pd.DataFrame(rows)
    board = (table.groupby("optimizer", sort=False)
             .agg(runs=("seed", "size"), diverged=("status", lambda x: int((x == "diverged").sum())),
                  **{c: (c, "mean") for c in table.columns
                     if c not in ("optimizer", "seed", "status") and table[c].dtype.kind == "f"})
             .sort_values("best_val_loss", na_position="last"))
    print(board.to_string(float_format=lambda v: f"{v:.4g}"))
    if args.csv:
        table.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0


def cmd_optimizers(args: argparse.Namespace) -> int:
    _print_registry(optim.REGISTRY)
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from engine import data

    _print_registry(data.REGISTRY)
    return 0


def cmd_warm_lessons(args: argparse.Namespace) -> int:
    from engine import lessons

    return lessons.warm_cli(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Optimizer Lab engine")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train one run from a JSON config")
    p.add_argument("--config", required=True, help="JSON file with RunConfig fields")
    p.add_argument("--out", help="write the run to this .npz file")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("compare", help="several optimizers on one config, trained stacked; a leaderboard")
    p.add_argument("--config", help="JSON file with RunConfig fields (the optimizer's are ignored)")
    p.add_argument("--optimizers", nargs="+", required=True, choices=list(optim.REGISTRY),
                   metavar="NAME", help="registered optimizer names (python -m engine optimizers)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per optimizer: config seed, +1, …")
    p.add_argument("--csv", help="write one row per run to this CSV file")
    p.set_defaults(func=cmd_compare)
    sub.add_parser("optimizers", help="list optimizers and their defaults").set_defaults(func=cmd_optimizers)
    sub.add_parser("datasets", help="list datasets and their settings").set_defaults(func=cmd_datasets)
    p = sub.add_parser("warm-lessons", help="pre-compute every lesson into the run store")
    p.add_argument("--jobs", type=int, default=1, help="parallel workers (joblib)")
    p.set_defaults(func=cmd_warm_lessons)
    from engine import cli_sweep

    cli_sweep.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # piped into head/less that closed early: not an error
        sys.stderr.close()
        sys.exit(0)
