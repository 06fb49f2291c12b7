"""Command line: ``python -m engine {train,optimizers,datasets,warm-lessons}``.

    python -m engine train --config cfg.json [--out run.npz]
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
    sub.add_parser("optimizers", help="list optimizers and their defaults").set_defaults(func=cmd_optimizers)
    sub.add_parser("datasets", help="list datasets and their settings").set_defaults(func=cmd_datasets)
    p = sub.add_parser("warm-lessons", help="pre-compute every lesson into the run store")
    p.add_argument("--jobs", type=int, default=1, help="parallel workers (joblib)")
    p.set_defaults(func=cmd_warm_lessons)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # piped into head/less that closed early: not an error
        sys.stderr.close()
        sys.exit(0)
