"""The schedule: warm-up, then repetitions with every contender interleaved per cell.

Per repetition: the matmul roofline, then for each cell (problem × batch ×
optimizer) every contender once, starting at a different contender each time
(rotated by repetition and cell), so slow drift of a shared machine and the
after-effects of the previous contender's thread pool hit everyone alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="about a minute: fewer epochs and 2 repetitions; writes no file unless --out")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 5, quick 2)")
    ap.add_argument("--out", default=None,
                    help="the markdown report (default bench/results.md; quick: none); '-' for none")
    ap.add_argument("--no-app", action="store_true", help="skip bench/app_timings.py")
    ap.add_argument("--only", action="append", choices=["digits", "synthetic"],
                    help="one problem only (repeatable)")
    return ap.parse_args(argv)


def _warmup_cells(cells):
    out = {}
    for c in cells:
        key = (c.problem, c.optimizer)
        batches = sorted({x.batch for x in cells if (x.problem, x.optimizer) == key and x.batch != 1},
                         key=lambda b: b or 10**9)
        for b in {batches[0], batches[-1]} if batches else ():
            out[(c.problem, b, c.optimizer)] = dataclasses.replace(c, batch=b, epochs=1)
    return list(out.values())


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    quick = args.quick
    reps = args.reps or (2 if quick else 5)
    out = args.out if args.out is not None else ("-" if quick else str(HERE / "results.md"))

    # torch first, so its thread setting is in place before anything is timed
    from bench import contenders as C
    from bench import machine, problems, roofline
    from bench.report import Report, aggregate

    C.torch_setup()
    load_before = machine.load_average()
    others = machine.OtherLoad()
    t_start = time.perf_counter()
    cells = problems.cells(quick, tuple(args.only or ()))
    rosters, notes = {}, []
    for name in dict.fromkeys(c.problem for c in cells):
        rosters[name], n = C.roster(problems.PROBLEMS[name])
        notes += n
    n_runs = sum(len(rosters[c.problem]) for c in cells)
    print(f"bench: {len(cells)} cells, {n_runs} runs per repetition, {reps} repetitions"
          f"{' (quick)' if quick else ''}", flush=True)
    for n in notes:
        print(f"  note: {n}", flush=True)

    # -- warm-up: imports, data, first calls of every code path (BLAS, allocator, torch kernels);
    # per problem and optimizer one epoch at the largest and at the smallest batch above 1
    t0 = time.perf_counter()
    for cell in _warmup_cells(cells):
        for c in rosters[cell.problem]:
            c.fn(problems.PROBLEMS[cell.problem], cell, c.dtype)
    roofline.measure(quick=True)
    print(f"  warm-up {time.perf_counter() - t0:.1f} s", flush=True)

    samples: dict = defaultdict(list)
    roofs: list[dict[str, float]] = []
    for rep in range(reps):
        t0 = time.perf_counter()
        roofs.append(roofline.measure(quick))
        for i, cell in enumerate(cells):
            roster = rosters[cell.problem]
            k = (rep + i) % len(roster)
            for c in roster[k:] + roster[:k]:
                samples[(cell, c.key)].append(c.fn(problems.PROBLEMS[cell.problem], cell, c.dtype))
        print(f"  repetition {rep + 1}/{reps}: {time.perf_counter() - t0:.1f} s "
              f"(load {machine.load_average()})", flush=True)

    # compare-many: eight optimizers stacked against one run, interleaved within its own loop
    if not args.only:
        from bench import stacked as S

        t0 = time.perf_counter()
        stacked_res = S.measure(reps, quick)
        print(f"  compare-many: {time.perf_counter() - t0:.1f} s", flush=True)
    else:
        stacked_res = {}

    roof = {k: statistics.median(r[k] for r in roofs) for k in roofs[0]}
    stats = aggregate(samples)
    load_after = machine.load_average()
    other_cores = others.cores()
    cores = os.cpu_count() or 1
    if other_cores > 0.1 * cores:
        notes.insert(0, f"⚠ the machine was busy: other processes (and hypervisor steal) used "
                        f"{other_cores:.2f} of the {cores} cores on average during the run. "
                        "Multi-threaded BLAS and OpenMP suffer most, so these figures are "
                        "unreliable; re-run on a quiet machine.")
    for (cell, key), s in stats.items():
        if s.statuses != {"ok"}:
            notes.append(f"{cell.label} {C.BY_KEY[key].label}: {', '.join(sorted(s.statuses))}")
    rep_obj = Report(cells, rosters, stats, roof, notes, stacked_res)
    print(rep_obj.console(), flush=True)

    wall = time.perf_counter() - t_start
    meta = {"quick": quick, "reps": reps, "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "wall_s": wall, "load_before": load_before, "load_after": load_after,
            "other_cores": other_cores}
    md = rep_obj.markdown(machine.describe(), meta)
    if out != "-":
        Path(out).write_text(md)
        print(f"\nwrote {out}", flush=True)
    print(f"bench: {wall:.0f} s", flush=True)

    if not args.only:  # sweeps: the LR-sweep stack and a sweep on 1 and 2 workers and on Dask
        cmd = [sys.executable, "-m", "bench.sweep", "--reps", str(reps)] + (["--quick"] if quick else [])
        print("\nbench.sweep:", flush=True)
        rc = subprocess.call(cmd + (["--results", out] if out != "-" else []), cwd=HERE.parent,
                             env={**os.environ})
        if rc != 0:
            print(f"bench.sweep failed (exit {rc})", file=sys.stderr)
            return rc

    if not args.no_app:
        cmd = [sys.executable, "-m", "bench.app_timings"]
        if out != "-":
            cmd += ["--results", out]
        print("\nbench.app_timings:", flush=True)
        rc = subprocess.call(cmd, cwd=HERE.parent, env={**os.environ})
        if rc != 0:
            print(f"bench.app_timings failed (exit {rc})", file=sys.stderr)
            return rc
    return 0
