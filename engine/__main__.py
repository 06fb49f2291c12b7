"""Command line: ``python -m engine {train,compare,optimizers,datasets,warm-lessons}``.

    python -m engine train --config cfg.json [--out run.npz] [--no-limits]
    python -m engine train --resume run.npz --epochs 40 [--out longer.npz]
    python -m engine compare --config cfg.json --optimizers sgd adam rmsprop [--seeds 3] [--csv out.csv]
    python -m engine sweep --config cfg.json --optimizers sgd adam --lr 1e-4 1 --out sweep.json
    python -m engine optimizers
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from engine import optim
from engine.spec import Registry


def _fmt_default(v) -> str:
    return f"{v:g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)


def _print_registry(reg: Registry) -> None:
    for name, spec in reg.items():
        print(f"{name:<15} {spec.help}")
        for h in spec.hypers:
            print(f"    {h.name:<26} default {_fmt_default(h.default):<12} {h.allowed()}")


MAX_SEEDS = 100  # compare --seeds: a leaderboard, not a sweep


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a config; allowed: finite numbers")


def _read_json(path: str, flag: str = "--config") -> dict[str, Any]:
    """A config file's JSON object, or ValueError naming what is wrong with it."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{flag}: cannot read {path!r} ({e.__class__.__name__}: "
                         f"{getattr(e, 'strerror', None) or e})") from None
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as e:
        raise ValueError(f"{flag}: {path!r} is not valid JSON ({e.msg} at line {e.lineno})") from None
    except RecursionError:
        raise ValueError(f"{flag}: {path!r} is nested too deeply; allowed: a JSON object of "
                         "RunConfig fields") from None
    except ValueError as e:
        raise ValueError(f"{flag}: {e}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{flag}: {type(value).__name__ if value is not None else 'null'} is not "
                         "allowed; allowed: a JSON object of RunConfig fields")
    return value


def _typed(fields: dict[str, Any]) -> dict[str, Any]:
    """Refuse loosely typed top-level fields (``"epochs": true``, ``"optimizer": ["adam"]``,
    ``"schedule_params": [1, 2]``) by the type each RunConfig field is declared with.

    Whole floats become ints for int fields; booleans are never numbers; non-finite numbers are
    refused. Values inside ``*_params`` are checked by their entry's spec.
    """
    from engine import RunConfig

    declared = {f.name: str(f.type) for f in dataclasses.fields(RunConfig)}
    out = dict(fields)
    for name, value in fields.items():
        kind = declared.get(name)
        shown = json.dumps(value)[:60] if not isinstance(value, str) else repr(value[:60])
        if kind == "str" and not isinstance(value, str):
            raise ValueError(f"{name}: {shown} is not allowed; allowed: a name (a string)")
        if kind == "bool" and not isinstance(value, bool):
            raise ValueError(f"{name}: {shown} is not allowed; allowed: true or false")
        if kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name}: {shown} is not allowed; allowed: a finite number")
            if kind == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(f"{name}: {shown} is not allowed; allowed: a whole number")
                out[name] = int(value)
        if kind and kind.startswith("Mapping") and not isinstance(value, dict):
            raise ValueError(f"{name}: {shown} is not allowed; allowed: a JSON object of hyperparameters")
        if kind and kind.startswith("tuple"):
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(w, int) and not isinstance(w, bool) for w in items):
                raise ValueError(f"{name}: {shown} is not allowed; allowed: a list of whole numbers")
    return out


def _config(fields: dict[str, Any]):
    from engine import RunConfig

    try:
        return RunConfig.from_dict(_typed(fields))
    except (TypeError, KeyError) as e:  # a shape the config's own checks do not expect
        raise ValueError(f"config: not allowed ({type(e).__name__}: {str(e)[:120]})") from None


def _check_output(path: str | None, flag: str) -> None:
    """An output file must be creatable: its folder exists and is writable, and it is not a folder."""
    if not path:
        return
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{flag}: {path!r} is a folder; allowed: a file path")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"{flag}: the folder {str(parent)!r} does not exist; allowed: a file in an "
                         "existing folder")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ValueError(f"{flag}: {path!r} is not writable")


def _check_limits(configs, args: argparse.Namespace) -> None:
    if args.no_limits:
        return
    from engine import limits

    lim = limits.Limits.from_env()
    for c in configs:
        try:
            limits.check(c, lim)
        except ValueError as e:
            raise ValueError(f"{e}; --no-limits lifts the limits") from None


def _report(result, args: argparse.Namespace) -> int:
    s = result.summary()
    print(f"{result.status}: {result.stop_reason}")
    best = s["best_val_loss"]
    print((f"best val_loss {best:.5g} at epoch {s['best_epoch']:g}; " if best is not None
           else "no finite val_loss; ")
          + ", ".join(f"{k} {v:.5g}" for k, v in result.test_metrics.items())
          + f"; {result.timings['total_s']:.2f}s; key {result.key}")
    if args.out:
        from engine import save_run

        try:
            save_run(result, args.out)
        except OSError as e:
            print(f"error: --out: cannot write {args.out!r} ({e.strerror or e})", file=sys.stderr)
            return 2
        print(f"saved to {args.out}")
    return 1 if result.status == "diverged" else 0


def _orchestrator(args: argparse.Namespace):
    """The run orchestrator of a command: ``--store`` reads and fills a run store."""
    from engine.runs import Orchestrator
    from engine.store import RunStore

    store = getattr(args, "store", None)
    return Orchestrator(None if store is None else RunStore(store or None))


def _print_progress(p: dict) -> None:
    """One line per epoch of a run's progress."""
    metric = "val_acc" if "val_acc" in p else "val_r2"
    print(f"epoch {p['epoch']:>4}/{p['epochs']}  updates {p['updates']:>7}  "
          f"train_loss {p['train_loss']:.5f}  val_loss {p['val_loss']:.5f}  "
          f"{metric} {p[metric]:.4f}  {p['time_s']:.2f}s", flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    from engine.checkpoint import load_run, resume

    try:
        _check_output(args.out, "--out")
        if args.resume:
            if args.config:
                raise ValueError("--config: not allowed with --resume (the run carries its config)")
            if args.epochs is None and args.max_updates is None:
                raise ValueError("--resume: give the new budget with --epochs or --max-updates")
            try:
                start = load_run(args.resume)
            except OSError as e:
                raise ValueError(f"--resume: cannot read {args.resume!r} ({e.strerror or e})") from None
            done = int(start.progress.get("epoch", 0))
            if args.epochs is not None and args.epochs <= done:
                raise ValueError(f"--epochs: {args.epochs} is not allowed; allowed: more than the "
                                 f"{done} epochs the run has done")
            changes = {k: v for k, v in (("epochs", args.epochs), ("max_updates", args.max_updates))
                       if v is not None}
            config = start.config.replace(**changes)
        else:
            if not args.config:
                raise ValueError("--config: required (or --resume RUN.npz)")
            fields = _read_json(args.config)
            for flag, name in (("epochs", "epochs"), ("max_updates", "max_updates")):
                if getattr(args, flag) is not None:
                    fields[name] = getattr(args, flag)
            config = _config(fields)
        _check_limits([config], args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.resume:
        try:
            result = resume(start, epochs=args.epochs, max_updates=args.max_updates, callback=_print_progress)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    else:
        result = _orchestrator(args).run([config], progress=lambda key, p: _print_progress(p))[0]
    return _report(result, args)


def cmd_compare(args: argparse.Namespace) -> int:
    """Every optimizer (with its defaults) on one config, trained stacked; a leaderboard."""
    import pandas as pd

    try:
        if not 1 <= args.seeds <= MAX_SEEDS:
            raise ValueError(f"--seeds: {args.seeds} is not allowed; allowed: a whole number in "
                             f"[1, {MAX_SEEDS}]")
        _check_output(args.csv, "--csv")
        base = _typed(_read_json(args.config)) if args.config else {}
        base.pop("optimizer_params", None)  # each optimizer runs with its own defaults
        seed0 = base.pop("seed", 0)
        configs = [_config({**base, "optimizer": name, "seed": seed0 + s})
                   for name in dict.fromkeys(args.optimizers) for s in range(args.seeds)]
        _check_limits(configs, args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"training {len(configs)} runs ({len(args.optimizers)} optimizers x {args.seeds} seeds), "
          "stacked where they share batches…", flush=True)
    results = _orchestrator(args).run(configs)
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
        try:
            table.to_csv(args.csv, index=False)
        except OSError as e:
            print(f"error: --csv: cannot write {args.csv!r} ({e.strerror or e})", file=sys.stderr)
            return 2
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
    p = sub.add_parser("train", help="train one run from a JSON config, or resume a saved run")
    p.add_argument("--config", help="JSON file with RunConfig fields")
    p.add_argument("--resume", metavar="RUN.npz", help="continue this saved run (give --epochs)")
    p.add_argument("--epochs", type=int, help="the budget in epochs (with --resume: the new total)")
    p.add_argument("--max-updates", dest="max_updates", type=int, help="the budget in updates")
    p.add_argument("--out", help="write the run to this .npz file")
    p.add_argument("--no-limits", action="store_true",
                   help="lift the work limits (OPTLAB_MAX_MEMORY_MB, _GFLOP, _UPDATES, _STORED_MB)")
    p.add_argument("--store", nargs="?", const="", metavar="PATH",
                   help="read runs already made from a run store and add the new ones "
                        "(no PATH: the app's store)")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("compare", help="several optimizers on one config, trained stacked; a leaderboard")
    p.add_argument("--config", help="JSON file with RunConfig fields (the optimizer's are ignored)")
    p.add_argument("--optimizers", nargs="+", required=True, choices=list(optim.REGISTRY),
                   metavar="NAME", help="registered optimizer names (python -m engine optimizers)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per optimizer: config seed, +1, …")
    p.add_argument("--csv", help="write one row per run to this CSV file")
    p.add_argument("--no-limits", action="store_true", help="lift the work limits")
    p.add_argument("--store", nargs="?", const="", metavar="PATH",
                   help="read runs already made from a run store and add the new ones "
                        "(no PATH: the app's store)")
    p.set_defaults(func=cmd_compare)
    sub.add_parser("optimizers", help="list optimizers and their defaults").set_defaults(func=cmd_optimizers)
    sub.add_parser("datasets", help="list datasets and their settings").set_defaults(func=cmd_datasets)
    p = sub.add_parser("warm-lessons", help="pre-compute every lesson into the run store")
    p.add_argument("--jobs", type=int, default=1, help="parallel worker processes")
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
