"""engine.train against its own core loop, per benchmark cell: the overhead of the app's path.

``python -m bench.overhead [--reps 5] [--dtype float64 float32] [--only digits] [--threads]``

Per repetition every cell runs ``engine.train`` (validation, history, diagnostics, final test
evaluation: the whole call) and the bare core loop (``MLP.loss_grad`` + ``Optimizer.step``, see
``bench.contenders.engine_core``) once each, in alternating order, after one warm-up of each.
The overhead is ``train ÷ core loop − 1`` of the medians over repetitions, and of the minima (the
figure least disturbed by other processes on a shared machine); ``--cpu`` times this process's CPU
seconds instead of wall time, which other processes disturb far less. ``--threads`` instead times the
core loop with a large batch's two shards on 1 and on 2 threads (``engine.nn.shards``; the same
numbers either way), interleaved the same way, to see where the second thread pays.
Prints a markdown section; no file is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time

from bench import contenders as C
from bench import machine, problems

CPU = False  # --cpu: this process's CPU time instead of wall time


def _time(fn, problem, cell, dtype) -> float:
    if not CPU:
        return fn(problem, cell, dtype).epoch_s
    t0 = time.process_time()
    fn(problem, cell, dtype)
    return (time.process_time() - t0) / cell.epochs


def _rows(cells, dtypes, reps: int, pair) -> dict:
    """{(cell, dtype): ([a epoch s per rep], [b epoch s per rep])} for the two timers in ``pair``."""
    a_fn, b_fn = pair
    out: dict = {}
    for cell in cells:  # warm-up: imports, data, first calls, allocator
        p = problems.PROBLEMS[cell.problem]
        for dtype in dtypes:
            one = type(cell)(cell.problem, cell.batch, cell.optimizer, 1)
            a_fn(p, one, dtype), b_fn(p, one, dtype)
    for rep in range(reps):
        for i, cell in enumerate(cells):
            p = problems.PROBLEMS[cell.problem]
            for dtype in dtypes:
                a, b = out.setdefault((cell, dtype), ([], []))
                if (rep + i) % 2:
                    b.append(_time(b_fn, p, cell, dtype))
                    a.append(_time(a_fn, p, cell, dtype))
                else:
                    a.append(_time(a_fn, p, cell, dtype))
                    b.append(_time(b_fn, p, cell, dtype))
        print(f"  repetition {rep + 1}/{reps} done", file=sys.stderr, flush=True)
    return out


def _core_with_threads(threads: int):
    def fn(problem, cell, dtype):
        return C.engine_core(problem, cell, dtype, threads)
    return fn


def _pct(x: float) -> str:
    return f"{100 * x:+.0f} %"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dtype", nargs="+", default=["float64", "float32"], choices=["float64", "float32"])
    ap.add_argument("--only", action="append", choices=["digits", "synthetic"])
    ap.add_argument("--threads", action="store_true",
                    help="core loop with the shards on 1 vs 2 threads instead")
    ap.add_argument("--cpu", action="store_true",
                    help="time this process's CPU seconds, not wall time (steadier on a busy machine; "
                         "CPU time adds up both threads of a split batch)")
    args = ap.parse_args(argv)
    global CPU
    CPU = args.cpu
    cells = problems.cells(False, tuple(args.only or ()))
    load_before, others, t0 = machine.load_average(), machine.OtherLoad(), time.perf_counter()
    if args.threads:
        pair = (_core_with_threads(1), _core_with_threads(2))
        header = ["cell", "dtype", "1 thread ms (median · min)", "2 threads ms (median · min)",
                  "2 threads ÷ 1 (medians)", "2 threads ÷ 1 (minima)"]
    else:
        pair = (C.engine_train, C.engine_core)
        header = ["cell", "dtype", "train() ms/epoch (median · min)", "core loop ms/epoch (median · min)",
                  "overhead (medians)", "overhead (minima)"]
    res = _rows(cells, args.dtype, args.reps, pair)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (cell, dtype), (a, b) in res.items():
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = (lambda x, y: f"{x / y:.2f}×") if args.threads else (lambda x, y: _pct(x / y - 1))
        dt_label = dtype.replace("float", "f")
        lines.append(f"| {cell.label} | {dt_label} | {1e3 * ma:.3g} · {1e3 * min(a):.3g} | "
                     f"{1e3 * mb:.3g} · {1e3 * min(b):.3g} | {ratio(ma, mb)} | {ratio(min(a), min(b))} |")
    print(f"\n{dt.datetime.now():%Y-%m-%d %H:%M}, {args.reps} repetitions, {time.perf_counter() - t0:.0f} s; "
          f"load average before {load_before}, after {machine.load_average()}; other processes used "
          f"{others.cores():.2f} cores on average (/proc/stat minus this process).\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
