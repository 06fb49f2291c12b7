"""pyinstrument profiles of ``engine.train`` (digits, Adam, MLP 64-128-10).

``python -m bench.hotspots [--batch 1 32] [--optimizer adam] [--tree] [--top 25]``

For each batch size: one warm-up run, then a profiled run; prints the time
per update and a flat list of the functions with the most *self* time
(``--tree`` adds pyinstrument's call tree). Per-update figures divide by the
number of updates, so they read directly as µs per update.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.problems import DIGITS, OPT_PARAMS


def config(batch: int, optimizer: str, epochs: int, dtype: str = "float64"):
    from engine import RunConfig

    full = batch == 0
    return RunConfig(
        dataset="digits", hidden=DIGITS.hidden, optimizer=optimizer, optimizer_params=OPT_PARAMS[optimizer],
        mode="batch" if full else "minibatch", batch_size=DIGITS.n_train if full else batch,
        epochs=epochs, val_fraction=DIGITS.val_fraction, test_fraction=DIGITS.test_fraction, dtype=dtype,
    )


def _flat(session, updates: int, top: int) -> list[tuple[float, float, str]]:
    """(self µs per update, share of the total, 'function  file:line'), most first."""
    totals: dict[str, float] = {}
    root = session.root_frame()

    def walk(frame):
        # "[self]" pseudo-frames carry their parent's self time, which total_self_time already has
        if not frame.identifier.startswith("[self]"):
            key = f"{frame.function}  {_short(frame.file_path)}:{frame.line_no}"
            totals[key] = totals.get(key, 0.0) + frame.total_self_time
        for child in frame.children:
            walk(child)

    walk(root)
    whole = root.time or 1.0
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [(t / updates * 1e6, t / whole, k) for k, t in ranked]


def _short(path: str | None) -> str:
    if not path:
        return "?"
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def profile(batch: int, optimizer: str, epochs: int, top: int, tree: bool, dtype: str) -> str:
    from pyinstrument import Profiler

    from engine import train

    cfg = config(batch, optimizer, epochs, dtype)
    train(config(batch, optimizer, 1, dtype))  # warm-up: data load, imports
    prof = Profiler(interval=0.0002)
    t0 = time.perf_counter()
    prof.start()
    r = train(cfg)
    prof.stop()
    wall = time.perf_counter() - t0
    updates = int(r.history["updates"].iloc[-1])
    lines = [f"== digits b={batch or 'full'} {optimizer} {dtype}: {epochs} epochs, {updates} updates, "
             f"{wall:.2f} s profiled ({wall / updates * 1e6:.1f} µs per update incl. profiler overhead; "
             f"engine timings: {r.timings['train_s'] / updates * 1e6:.1f} µs per update training, "
             f"{r.timings['eval_s'] / epochs * 1e3:.2f} ms per epoch validation)",
             f"{'self µs/update':>15} {'share':>6}  function  file:line"]
    for us, share, name in _flat(prof.last_session, updates, top):
        lines.append(f"{us:15.2f} {100 * share:5.1f}%  {name}")
    if tree:
        lines += ["", prof.output_text(unicode=True, color=False, show_all=False)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.hotspots", description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 32], help="batch sizes (0 = full batch)")
    ap.add_argument("--optimizer", default="adam", choices=sorted(OPT_PARAMS))
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--tree", action="store_true", help="also print the call tree")
    args = ap.parse_args(argv)
    for b in args.batch:
        epochs = 3 if b == 1 else (30 if b < 128 else 200)
        print(profile(b, args.optimizer, epochs, args.top, args.tree, args.dtype), flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
