"""Compare-many: eight optimizers trained as one stack, against the same runs one by one.

Two problems, float64, through the app's path (``engine.train`` and
``engine.train_many``, validation and history on):

* ``digits`` b=32: MLP 64-128-10 on 1,437 samples, 10 epochs (the target cell);
* ``moons`` b=16: MLP 2-16-16-1 on 600 samples, 20 epochs (a classroom-sized
  net, where per-call overhead rather than arithmetic sets the pace).

Per repetition, interleaved with a rotated start: one SGD-momentum run, the
eight runs one by one, and the eight stacked. Also timed: the stacked
gradient pass alone (``StackedMLP.loss_grad`` for the eight, one epoch of
batches), the floor that no amount of loop or optimizer work can go under.

``python -m bench.stacked`` prints the table.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

EIGHT = [
    ("sgd", {"lr": 0.01, "momentum": 0.9}), ("adam", {}), ("adamw", {}), ("rmsprop", {"lr": 1e-3}),
    ("adagrad", {"lr": 0.01}), ("nadam", {}), ("radam", {}), ("adamax", {}),
]
PROBLEMS = {
    "digits b=32": dict(dataset="digits", hidden=(128,), batch_size=32, epochs=10,
                        val_fraction=0.1, test_fraction=0.1),
    "moons b=16": dict(dataset="moons", dataset_params={"n_samples": 1000}, hidden=(16, 16),
                       batch_size=16, epochs=20),
}


def _configs(base: dict, epochs: int | None = None):
    from engine import RunConfig

    kw = dict(base, epochs=epochs or base["epochs"])
    return [RunConfig(optimizer=o, optimizer_params=p, **kw) for o, p in EIGHT]


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _pass_time(base: dict) -> float:
    """One epoch of the eight runs' stacked gradient pass, nothing else."""
    from engine import data
    from engine.nn import MLP
    from engine.nn.stacked import StackedMLP
    from engine.train import _blas_threads

    cfg = _configs(base)[0]
    ds = data.load(cfg.dataset, cfg.dataset_params, cfg.val_fraction, cfg.test_fraction, cfg.seed, cfg.dtype)
    net = MLP(ds.n_features, cfg.hidden, ds.n_outputs, cfg.activation, ds.output)
    stack = StackedMLP(net, len(EIGHT))
    params = np.stack([net.init_params(np.random.default_rng(k)) for k in range(len(EIGHT))])
    grad = np.empty_like(params)
    X, Y, b = ds.X_train, ds.Y_train, cfg.batch_size
    with _blas_threads(cfg):
        t0 = time.perf_counter()
        for lo in range(0, X.shape[0], b):
            stack.loss_grad(params, X[lo:lo + b], Y[lo:lo + b], grad)
        return time.perf_counter() - t0


def measure(reps: int, quick: bool = False) -> dict[str, dict[str, float]]:
    """Median seconds per epoch of: one run, eight one by one, eight stacked, the stacked pass."""
    from engine import train, train_many

    out = {}
    for name, base in PROBLEMS.items():
        epochs = max(2, base["epochs"] // 4) if quick else base["epochs"]
        configs = _configs(base, epochs)
        train_many(_configs(base, 1))  # warm-up: data, work buffers
        for c in _configs(base, 1):
            train(c)
        jobs = {
            "one": lambda cs=configs: train(cs[0]),
            "one_by_one": lambda cs=configs: [train(c) for c in cs],
            "stacked": lambda cs=configs: train_many(cs),
        }
        samples: dict[str, list[float]] = {k: [] for k in jobs}
        passes = []
        names = list(jobs)
        for rep in range(reps):
            for k in names[rep % 3:] + names[:rep % 3]:
                samples[k].append(_timed(jobs[k]) / epochs)
            passes.append(_pass_time(base))
        res = {k: statistics.median(v) for k, v in samples.items()}
        res["pass"] = statistics.median(passes)
        out[name] = res
    return out


def target(res: dict[str, dict[str, float]]) -> tuple[str, str]:
    """The stretch target's (verdict, figures) from the digits cell."""
    r = res.get("digits b=32")
    if not r:
        return "not measured", "–"
    ratio = r["stacked"] / r["one"]
    floor = r["pass"] / r["one"]
    figs = (f"{ratio:.2f}× one SGD-momentum run ({1e3 * r['stacked']:.1f} vs {1e3 * r['one']:.2f} ms per "
            f"epoch); the eight runs' stacked gradient pass alone is {floor:.2f}×; one by one "
            f"{r['one_by_one'] / r['one']:.2f}×; results bit-identical to single runs "
            "(tests/engine/test_stacked.py)")
    return ("**met**" if ratio <= 3.0 else "**not met**"), figs


def table(res: dict[str, dict[str, float]]) -> str:
    rows = ["| problem | one SGD-momentum run | eight one by one | eight stacked "
            "| stacked gradient pass alone | stacked ÷ one run | one by one ÷ stacked |",
            "|---|---|---|---|---|---|---|"]
    for name, r in res.items():
        rows.append(f"| {name} | {1e3 * r['one']:.2f} ms | {1e3 * r['one_by_one']:.1f} ms | "
                    f"{1e3 * r['stacked']:.1f} ms | {1e3 * r['pass']:.1f} ms | "
                    f"{r['stacked'] / r['one']:.2f}× | {r['one_by_one'] / r['stacked']:.2f}× |")
    return "\n".join(rows)


def markdown(res: dict[str, dict[str, float]]) -> str:
    return "\n".join([
        "Eight optimizers (" + ", ".join(o for o, _ in EIGHT) + ") sharing one batch stream, float64, "
        "time per epoch (median over repetitions), through `engine.train` / `engine.train_many` with "
        "validation and history on. The stacked gradient pass is `StackedMLP.loss_grad` for the eight "
        "runs over one epoch's batches and nothing else.", "", table(res)])


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bench.stacked", description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    print(table(measure(a.reps, a.quick)))
