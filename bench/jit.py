"""JIT try: the engine with and without the fused numba kernels, against scikit-learn.

``python -m bench.jit`` (``--results bench/results.md`` writes the "JIT try" section).

* **Cells**: digits b=1 and b=32, SGD-momentum and Adam, float64 (the targets of
  the adoption rule in ``engine.kernels``).
* **Contenders**, interleaved per cell with a rotated start in every repetition:
  ``engine.train`` with the NumPy path, the same with the kernels
  (``engine.kernels.set_enabled``), the bare core loop both ways, and scikit-learn's
  ``MLPClassifier`` (all as in ``bench.contenders``). Medians over repetitions.
* **First-use compile cost**: fresh interpreters with ``NUMBA_CACHE_DIR`` set to a
  new empty folder: importing numba and the kernels, then compiling every kernel
  the engine can call, for float64 and then float32; then the same again in a new
  interpreter over the filled cache (what a restarted server pays).
* **Load**: load averages before and after, and the CPU other processes used
  during the timings (``bench.machine.OtherLoad``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import contenders as C
from bench import machine
from bench.problems import DIGITS, EPOCHS, Cell

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- jit:begin -->", "<!-- jit:end -->"
CELLS = [Cell("digits", b, opt, EPOCHS[("digits", b)]) for b in (1, 32) for opt in ("sgd", "adam")]
GOAL = 4.0  # engine f64 ÷ scikit-learn f64 on every cell


def _engine(on: bool, core: bool):
    def run(cell: Cell) -> C.Timing:
        from engine import kernels

        kernels.set_enabled(on)
        try:
            fn = C.engine_core if core else C.engine_train
            return fn(DIGITS, cell, "float64")
        finally:
            kernels.set_enabled(None)
    return run


CONTENDERS = {
    "engine NumPy": _engine(False, False),
    "engine JIT": _engine(True, False),
    "core NumPy": _engine(False, True),
    "core JIT": _engine(True, True),
    "scikit-learn": lambda cell: C.sklearn_mlp(DIGITS, cell),
}


def timings(reps: int) -> dict[tuple[str, str], float]:
    """Median seconds per epoch per (cell label, contender)."""
    names = list(CONTENDERS)
    for cell in CELLS:  # warm-up: data, work buffers, compiled kernels
        short = Cell(cell.problem, cell.batch, cell.optimizer, 1)
        for name in names:
            CONTENDERS[name](short)
    samples: dict[tuple[str, str], list[float]] = {}
    for r in range(reps):
        for ci, cell in enumerate(CELLS):
            k = (r + ci) % len(names)
            for name in names[k:] + names[:k]:
                t = CONTENDERS[name](cell)
                samples.setdefault((cell.label, name), []).append(t.epoch_s)
        print(f"  repetition {r + 1}/{reps} (load {machine.load_average()})", flush=True)
    return {key: statistics.median(v) for key, v in samples.items()}


_COMPILE = r"""
import json, sys, time
import numpy as np
import engine  # the engine itself is not part of the JIT's cost
from engine import kernels, optim
from engine.nn import MLP
out = {}
t0, c0 = time.perf_counter(), time.process_time()
kernels.set_enabled(True)
assert kernels.enabled(), "the kernels did not load"
out["import"] = time.perf_counter() - t0
out["import_cpu"] = time.process_time() - c0
for dtype in ("float64", "float32"):
    t0, c0 = time.perf_counter(), time.process_time()
    rng = np.random.default_rng(0)
    for act, output in (("relu", "softmax"), ("leaky_relu", "sigmoid"), ("tanh", "softmax"),
                        ("sigmoid", "softmax"), ("elu", "softmax")):
        net = MLP(3, (4,), 2 if output == "softmax" else 1, act, output, dtype=dtype)
        p = net.init_params(rng)
        g = np.empty_like(p)
        X = rng.standard_normal((5, 3)).astype(dtype)
        Y = np.eye(net.n_out, dtype=dtype)[rng.integers(0, net.n_out, 5)]
        net.loss_grad(p, X, Y, g)
    for name, hp in (("sgd", {"momentum": 0.9}), ("adam", {})):
        opt = optim.create(name, **hp)
        opt.step(p, g, opt.init(p))
    out[dtype] = time.perf_counter() - t0
    out[dtype + "_cpu"] = time.process_time() - c0
out["cache"] = kernels.cache_dir()
print(json.dumps(out))
"""


def compile_cost() -> dict[str, dict]:
    """First use on an empty cache, then on the filled cache, each in a new interpreter."""
    res = {}
    with tempfile.TemporaryDirectory(prefix="optlab-numba-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(HERE.parent)}
        for label in ("cold", "cached"):
            r = subprocess.run([sys.executable, "-c", _COMPILE], env=env, cwd=HERE.parent,
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                raise RuntimeError(r.stderr[-2000:])
            res[label] = json.loads(r.stdout.strip().splitlines()[-1])
    return res


def _x(a: float, b: float) -> str:
    return f"{a / b:.2f}×"


def markdown(t: dict, comp: dict, meta: dict) -> str:
    rows = ["| cell | scikit-learn | engine NumPy | engine JIT | core NumPy | core JIT "
            "| NumPy vs sklearn | **JIT vs sklearn** | JIT ÷ NumPy speed-up |",
            "|---|---|---|---|---|---|---|---|---|"]
    met = True
    for cell in CELLS:
        v = {n: t[(cell.label, n)] for n in CONTENDERS}
        sk = v["scikit-learn"]
        met &= sk / v["engine JIT"] >= GOAL
        ms = " | ".join(f"{1e3 * v[n]:.3g} ms" for n in
                        ("scikit-learn", "engine NumPy", "engine JIT", "core NumPy", "core JIT"))
        rows.append(f"| {cell.label} | {ms} | {_x(sk, v['engine NumPy'])} | **{_x(sk, v['engine JIT'])}** "
                    f"| {_x(v['engine NumPy'], v['engine JIT'])} |")
    cold, warm = comp["cold"], comp["cached"]
    parts = ("import", "float64", "float32")
    first = sum(cold[k] for k in parts)
    first_cpu = sum(cold[k + "_cpu"] for k in parts)
    f64_cpu = cold["import_cpu"] + cold["float64_cpu"]
    again = sum(warm[k] for k in parts)
    compiled = first_cpu <= 3.0
    ratios = ", ".join(
        f"{c.label.removeprefix('digits ')} {_x(t[(c.label, 'scikit-learn')], t[(c.label, 'engine JIT')])}"
        for c in CELLS)
    verdict = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731
    criteria = [
        "| criterion | verdict | figures |", "|---|---|---|",
        f"| digits b=1 and b=32, SGD-momentum and Adam: engine f64 with the kernels ≥ {GOAL:g}× "
        f"scikit-learn | {verdict(met)} | {ratios} |",
        "| bit-identical to the NumPy path | **met** | tests/engine/test_jit.py: every kernel over "
        "several steps, random shapes, float32 and float64, compared byte for byte; whole "
        "`engine.train` runs with the kernels on and off |",
        f"| first-use compile ≤ 3 s in total | {verdict(compiled)} | {first_cpu:.2f} CPU-s "
        f"({first:.2f} s wall on this machine): import {cold['import_cpu']:.2f}, every float64 "
        f"kernel {cold['float64_cpu']:.2f}, every float32 kernel {cold['float32_cpu']:.2f} CPU-s; "
        f"import and float64 alone {f64_cpu:.2f} CPU-s |",
        f"| cached across restarts | **met** | a new interpreter over the filled cache: {again:.2f} s "
        "wall, nearly all of it importing numba |",
        "| a missing or failing numba falls back to NumPy with one log line | **met** | "
        "tests/engine/test_jit.py (import blocked; compile failing) |",
    ]
    adopt = met and compiled
    lines = [
        f"Measured by `python -m bench.jit` on {meta['date']}: {meta['reps']} repetitions after a "
        "warm-up, the five contenders interleaved per cell with a rotated start, medians. "
        f"Load average before {meta['load_before']}, after {meta['load_after']}; other processes "
        f"used {meta['other_cores']:.2f} of the {os.cpu_count()} cores on average during the "
        "timings (/proc/stat minus this process).",
        "",
        "Time per epoch, float64, `engine.train` (validation and history on) and its bare core loop, "
        "with the NumPy path and with the fused numba kernels (`OPTLAB_JIT=1`):",
        "",
        "\n".join(rows),
        "",
        "First use: a fresh interpreter with `NUMBA_CACHE_DIR` set to an empty folder imports numba "
        "and the kernels, then compiles every kernel the engine can call, float64 then float32 "
        "(CPU seconds are the load-independent figure; wall seconds include waiting for the shared "
        "cores). After a restart a new interpreter loads them from the cache. Without "
        "`NUMBA_CACHE_DIR` the cache is `engine/__pycache__` when writable, else numba's user-wide "
        "cache (`~/.cache/numba`); with neither writable the kernels compile in each process "
        "(tests/engine/test_jit.py).",
        "",
        "\n".join(criteria),
        "",
        "Decision: " + ("**the kernels are the default**." if adopt else
                        "**NumPy stays the default**; the kernels are opt-in with `OPTLAB_JIT=1` "
                        "and numba is a development requirement only."),
    ]
    return "\n".join(lines)


def write(path: Path, section: str, date: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"{BEGIN}\n{section}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = f"{head}{block}{tail}"
    else:
        text = text.rstrip() + f"\n\n## JIT try ({date})\n\n{block}\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.jit", description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--results", default=None, help="update this results.md's JIT section")
    args = ap.parse_args(argv)
    meta = {"date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "reps": args.reps,
            "load_before": machine.load_average()}
    print("compile cost ...", flush=True)
    comp = compile_cost()
    print(json.dumps(comp), flush=True)
    others = machine.OtherLoad()
    t0 = time.perf_counter()
    t = timings(args.reps)
    meta.update(load_after=machine.load_average(), other_cores=others.cores())
    print(f"timings: {time.perf_counter() - t0:.0f} s", flush=True)
    md = markdown(t, comp, meta)
    print(md)
    if args.results:
        write(Path(args.results), md, meta["date"][:10])
        print(f"\nwrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
