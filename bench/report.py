"""Medians, ratio tables, the targets and results.md."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from bench import contenders as C
from bench.problems import PROBLEMS, Cell

APP_BEGIN = "<!-- app-timings:begin -->"
APP_END = "<!-- app-timings:end -->"
APP_TARGET = "<!-- app-target -->"


@dataclass
class Stat:
    epoch_s: float
    epoch_train_s: float
    update_us: float
    spread: float  # (max - min) / median of epoch_s over repetitions
    n: int
    statuses: set[str]
    eval_s: float = math.nan


def aggregate(samples: dict[tuple[Cell, str], list[C.Timing]]) -> dict[tuple[Cell, str], Stat]:
    out = {}
    for key, ts in samples.items():
        e = [t.epoch_s for t in ts]
        med = statistics.median(e)
        tr = [t.epoch_train_s for t in ts if not math.isnan(t.epoch_train_s)]
        ev = [t.extra.get("eval_s_per_epoch") for t in ts if "eval_s_per_epoch" in t.extra]
        out[key] = Stat(
            epoch_s=med,
            epoch_train_s=statistics.median(tr) if tr else math.nan,
            update_us=statistics.median(t.update_us for t in ts),
            spread=(max(e) - min(e)) / med if med > 0 else math.nan,
            n=len(ts),
            statuses={t.status for t in ts},
            eval_s=statistics.median(ev) if ev else math.nan,
        )
    return out


def _ms(s: float) -> str:
    if math.isnan(s):
        return "–"
    ms = s * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def _us(u: float) -> str:
    return "–" if math.isnan(u) else (f"{u:.3g}" if u < 1000 else f"{u:,.0f}")


def _x(r: float) -> str:
    return "–" if r is None or math.isnan(r) else f"{r:.2f}×"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


class Report:
    def __init__(self, cells: list[Cell], rosters: dict[str, list[C.Contender]],
                 stats: dict[tuple[Cell, str], Stat], roof: dict[str, float], notes: list[str],
                 stacked: dict[str, dict[str, float]] | None = None):
        self.cells, self.rosters, self.stats, self.roof, self.notes = cells, rosters, stats, roof, notes
        self.stacked = stacked or {}  # bench.stacked.measure

    # -- look-ups ---------------------------------------------------------------
    def t(self, cell: Cell, key: str) -> float:
        s = self.stats.get((cell, key))
        return s.epoch_s if s else math.nan

    def ratio(self, cell: Cell, slow: str, fast: str) -> float:
        """How many times faster ``fast`` is than ``slow`` (time_slow / time_fast)."""
        a, b = self.t(cell, slow), self.t(cell, fast)
        return a / b if b > 0 else math.nan

    def engine_key(self, problem: str, dtype: str = "float64") -> str:
        suffix = "64" if dtype == "float64" else "32"
        keys = {c.key for c in self.rosters[problem]}
        return f"engine{suffix}" if f"engine{suffix}" in keys else f"core{suffix}"

    def peak(self, dtype: str) -> float:
        """The matmul roofline: the best GFLOP/s measured for this dtype."""
        return max(v for k, v in self.roof.items() if k.endswith(dtype))

    def best_torch(self, cell: Cell) -> tuple[float, str]:
        t32, t64 = self.t(cell, "torch32"), self.t(cell, "torch64")
        if math.isnan(t64) or (not math.isnan(t32) and t32 <= t64):
            return t32, "torch32"
        return t64, "torch64"

    # -- tables ---------------------------------------------------------------------
    def timing_table(self, problem: str) -> str:
        roster = self.rosters[problem]
        header = ["batch", "optimizer", "updates/epoch", "f64 FLOP floor"] + [c.label for c in roster]
        rows = []
        for cell in (c for c in self.cells if c.problem == problem):
            p = PROBLEMS[problem]
            floor = p.flops_per_epoch() / (self.peak("float64") * 1e9)
            row = [cell.batch_label if cell.batch else f"full ({p.n_train})", cell.optimizer,
                   str(p.updates_per_epoch(cell)),
                   f"{_ms(floor)} ms · {_us(floor / p.updates_per_epoch(cell) * 1e6)} µs"]
            for c in roster:
                s = self.stats.get((cell, c.key))
                if s is None:
                    row.append("–")
                    continue
                flag = "" if s.statuses == {"ok"} else " ⚠"
                row.append(f"{_ms(s.epoch_s)} ms · {_us(s.update_us)} µs{flag}")
            rows.append(row)
        return _table(header, rows)

    def engine_split_table(self) -> str:
        """engine.train: whole call vs training-only epochs vs the core loop."""
        header = ["cell", "dtype", "train() / epoch ms", "training only ms", "validation+history ms",
                  "core loop ms", "train() ÷ core loop", "overhead (÷ − 1)"]
        rows = []
        for cell in self.cells:
            for suf, dt in (("64", "f64"), ("32", "f32")):
                s = self.stats.get((cell, f"engine{suf}"))
                core = self.stats.get((cell, f"core{suf}"))
                if s is None:
                    continue
                rows.append([cell.label, dt, _ms(s.epoch_s), _ms(s.epoch_train_s), _ms(s.eval_s),
                             _ms(core.epoch_s) if core else "–",
                             _x(s.epoch_s / core.epoch_s) if core else "–",
                             f"{100 * (s.epoch_s / core.epoch_s - 1):+.0f} %" if core else "–"])
        return _table(header, rows)

    def ratio_table(self) -> str:
        header = ["cell", "engine f64 vs scikit-learn", "engine f64 vs PyTorch f32",
                  "engine f64 vs PyTorch f64", "engine f32 vs PyTorch f32", "engine f32 vs f64"]
        rows = []
        for cell in self.cells:
            e64, e32 = self.engine_key(cell.problem, "float64"), self.engine_key(cell.problem, "float32")
            tag = "" if e64.startswith("engine") else " (core loop)"
            rows.append([
                cell.label + tag,
                _x(self.ratio(cell, "sklearn64", e64)),
                _x(self.ratio(cell, "torch32", e64)),
                _x(self.ratio(cell, "torch64", e64)),
                _x(self.ratio(cell, "torch32", e32)),
                _x(self.ratio(cell, e64, e32)),
            ])
        return _table(header, rows)

    def roofline_table(self) -> str:
        r = self.roof
        lines = [_table(["matmul (numpy, default BLAS threads)", "float64 GFLOP/s", "float32 GFLOP/s"], [
            ["1024 × 1024 × 1024", f"{r['square_float64']:.1f}", f"{r['square_float32']:.1f}"],
            ["(256 × 256) @ (256 × 16000) (a synthetic hidden layer)", f"{r['layer_float64']:.1f}",
             f"{r['layer_float32']:.1f}"],
            ["**roofline** (the larger of the two)", f"**{self.peak('float64'):.1f}**",
             f"**{self.peak('float32'):.1f}**"],
        ])]
        header = ["full-batch cell", "GFLOP / epoch"] + [c.label for c in C.CONTENDERS]
        rows = []
        for cell in self.cells:
            if cell.batch != 0:
                continue
            p = PROBLEMS[cell.problem]
            row = [cell.label, f"{p.flops_per_epoch() / 1e9:.3g}"]
            for c in C.CONTENDERS:
                t = self.t(cell, c.key)
                if math.isnan(t):
                    row.append("–")
                    continue
                g = p.flops_per_epoch() / t / 1e9
                peak = self.peak(c.dtype)
                text = f"{g:.1f} GFLOP/s = {100 * g / peak:.0f} %"
                t_train = self.stats[(cell, c.key)].epoch_train_s
                if not math.isnan(t_train):
                    text += f" (training only: {100 * p.flops_per_epoch() / t_train / 1e9 / peak:.0f} %)"
                row.append(text)
            rows.append(row)
        lines.append("")
        lines.append("Achieved GFLOP/s at full batch and the fraction of the same-dtype matmul roofline "
                     "(FLOPs per epoch = 6 · n_train · Σ fan_in · fan_out). For engine.train the first "
                     "figure is the whole call (validation, history and the final test evaluation "
                     "included, their FLOPs not counted); *training only* is its median epoch without "
                     "validation, which is what the roofline target uses:")
        lines.append("")
        lines.append(_table(header, rows))
        return "\n".join(lines)

    # -- targets ------------------------------------------------------------------------
    def targets(self) -> list[tuple[str, str, str]]:
        """(target, verdict, figures)."""
        out = []
        digits = [c for c in self.cells if c.problem == "digits"]
        synth = [c for c in self.cells if c.problem == "synthetic"]

        def verdict(checks: list[tuple[bool | None, str]]) -> tuple[str, str]:
            done = [ok for ok, _ in checks if ok is not None]
            figs = "; ".join(f for _, f in checks)
            if not done:
                return "not measured", figs or "–"
            if all(done):
                return "**met**", figs
            return "**not met**", figs

        def ge(r: float, need: float) -> bool | None:
            return None if math.isnan(r) else r >= need

        # 1. batch 1 and 32
        checks = []
        for cell in digits:
            if cell.batch not in (1, 32):
                continue
            e = self.engine_key("digits")
            r_sk = self.ratio(cell, "sklearn64", e)
            tt, tk = self.best_torch(cell)
            r_t = tt / self.t(cell, e) if self.t(cell, e) > 0 else math.nan
            checks.append((ge(r_sk, 4.0), f"b={cell.batch_label} {cell.optimizer}: {_x(r_sk)} vs sklearn"))
            tname = "PyTorch f32" if tk == "torch32" else "PyTorch f64"
            checks.append((ge(r_t, 5.0), f"{_x(r_t)} vs {tname}"))
        out.append(("digits, batch 1 and 32, SGD-momentum and Adam: engine f64 ≥ 4× faster than "
                    "scikit-learn and ≥ 5× faster than PyTorch (its faster dtype)", *verdict(checks)))
        # 2. full batch
        checks = []
        for cell in digits:
            if cell.batch != 0:
                continue
            r_sk = self.ratio(cell, "sklearn64", self.engine_key("digits"))
            r_t = self.ratio(cell, "torch32", self.engine_key("digits", "float32"))
            checks.append((ge(r_sk, 2.5), f"{cell.optimizer}: f64 {_x(r_sk)} vs sklearn"))
            checks.append((ge(r_t, 1.0), f"f32 {_x(r_t)} vs PyTorch f32"))
        out.append(("digits, full batch: engine f64 ≥ 2.5× faster than scikit-learn; engine f32 at least "
                    "as fast as PyTorch f32", *verdict(checks)))
        # 3. float32 vs float64
        checks = []
        for cell in self.cells:
            if cell.batch != 0 and cell.batch < 32:
                continue
            e64 = self.engine_key(cell.problem, "float64")
            e32 = self.engine_key(cell.problem, "float32")
            r = self.ratio(cell, e64, e32)
            tag = " (core)" if e64.startswith("core") else ""
            checks.append((ge(r, 1.3), f"{cell.problem} b={cell.batch_label} {cell.optimizer}{tag}: {_x(r)}"))
        out.append(("engine f32 ≥ 1.3× faster than f64 at batch ≥ 32", *verdict(checks)))
        # 4. roofline
        checks = []
        for cell in synth:
            if cell.batch != 0:
                continue
            e = self.engine_key("synthetic")
            s = self.stats.get((cell, e))
            if s is None:
                continue
            flops, peak = PROBLEMS["synthetic"].flops_per_epoch(), self.peak("float64")
            if e.startswith("engine"):
                frac = flops / s.epoch_train_s / 1e9 / peak
                whole = flops / s.epoch_s / 1e9 / peak
                checks.append((frac >= 0.55, f"engine.train, training epochs: {100 * frac:.0f} % of "
                                             f"{peak:.1f} GFLOP/s (whole call incl. validation: "
                                             f"{100 * whole:.0f} %)"))
            else:
                frac = flops / s.epoch_s / 1e9 / peak
                checks.append((frac >= 0.55, f"engine core loop (no synthetic dataset yet): "
                                             f"{100 * frac:.0f} % of {peak:.1f} GFLOP/s"))
        out.append(("synthetic, full batch: engine f64 ≥ 55 % of the measured f64 matmul roofline",
                    *verdict(checks)))
        # 5. synthetic b=128 against scikit-learn
        checks = []
        for cell in synth:
            if cell.batch != 128:
                continue
            e = self.engine_key("synthetic")
            r = self.ratio(cell, "sklearn64", e)
            checks.append((ge(r, 1.25), f"{cell.optimizer}: {_x(r)} vs sklearn"))
        out.append(("synthetic, batch 128: engine f64 ≥ 1.25× faster than scikit-learn",
                    *verdict(checks)))
        # 6. engine.train's overhead over its core loop
        checks = []
        for cell in self.cells:
            for suf, dt in (("64", "f64"), ("32", "f32")):
                s, core = self.stats.get((cell, f"engine{suf}")), self.stats.get((cell, f"core{suf}"))
                if s is None or core is None:
                    continue
                over = s.epoch_s / core.epoch_s - 1
                if over > 0.10:
                    checks.append((False, f"{cell.label} {dt} {100 * over:+.0f} %"))
                else:
                    checks.append((True, ""))
        bad = [f for ok, f in checks if ok is False]
        figs = (f"{len(checks) - len(bad)} of {len(checks)} cells within 10 %; over it: "
                + "; ".join(bad)) if checks else "–"
        out.append(("engine.train ≤ 10 % over its core loop (validation and history on) in every cell",
                    verdict(checks)[0], figs))
        # 7. stacked
        from bench import stacked as S

        out.append(("(stretch) eight optimizers at batch 32 stacked ≤ 3× one run", *S.target(self.stacked)))
        out.append(("default Compare page renders from cache in < 0.3 s; its cold time",
                    "see App timings", "measured by bench/app_timings.py " + APP_TARGET))
        return out

    def targets_table(self) -> str:
        return _table(["target", "verdict", "figures"], [list(t) for t in self.targets()])

    # -- the whole document -----------------------------------------------------------------
    def markdown(self, machine: dict, meta: dict) -> str:
        parts = ["# Benchmark results", ""]
        parts.append(f"Generated by `python -m bench{' --quick' if meta.get('quick') else ''}` on "
                     f"{meta['date']}: {meta['reps']} repetitions after a warm-up, contenders interleaved "
                     f"round-robin per repetition (rotated start), medians over repetitions. "
                     f"Wall time {meta['wall_s']:.0f} s; load average before {meta['load_before']}, "
                     f"after {meta['load_after']}; other processes used {meta['other_cores']:.2f} "
                     "cores on average during the run (/proc/stat minus this process).")
        parts += ["", "## Machine", ""]
        parts.append(_table(["", ""], [[k, f"{v}"] for k, v in machine.items()]))
        parts += ["", "## What is timed", ""]
        parts.append(
            "* **Time per epoch** = wall time of the whole training call ÷ epochs, median over repetitions; "
            "**µs per update** = that ÷ updates per epoch.\n"
            "* **engine** = `engine.train(RunConfig(...))`, the app's path: per-epoch validation, history "
            "row with gradient-norm diagnostics, final test evaluation. digits uses "
            "`val_fraction = test_fraction = 0.1` → 1,437 training samples, the same count as the others.\n"
            "* **engine (core loop)** = `MLP.loss_grad` + `optim.create(...).step` on gathered batches, "
            "nothing else.\n"
            "* **scikit-learn** = `MLPClassifier(solver=..., batch_size=b, max_iter=E, tol=0, "
            "n_iter_no_change=10⁹, early_stopping=False, shuffle=True, alpha=0)` (SGD: momentum 0.9, "
            "`nesterovs_momentum=False`); fit time ÷ E.\n"
            "* **PyTorch** = `nn.Sequential(Linear, ReLU, …)`, `torch.optim.SGD(momentum=0.9)` / `Adam`, "
            "`CrossEntropyLoss`, `torch.set_num_threads(2)`, `randperm` + index slicing per batch, no "
            "DataLoader, no per-batch `.item()`.\n"
            "* Data: digits = `load_digits`, standardised, 80 % split (1,437 train); synthetic = "
            "`make_classification(20000, 100 features, 50 informative, 10 classes)`, 80 % split (16,000 "
            "train). MLPs 64-128-10 and 100-256-256-10, ReLU, softmax cross-entropy. SGD lr 0.01 momentum "
            "0.9, Adam lr 1e-3.\n"
            "* Epochs per timed run: " + ", ".join(
                f"{c.problem} b={c.batch_label}: {c.epochs}" for c in self.cells if c.optimizer == "adam"
            ) + ".")
        if self.notes:
            parts += ["", "Notes:", ""] + [f"* {n}" for n in self.notes]
        parts += ["", "## Targets", "", self.targets_table()]
        for problem in dict.fromkeys(c.problem for c in self.cells):
            p = PROBLEMS[problem]
            parts += ["", f"## {problem}: time per epoch (ms) · per update (µs)", "",
                      f"MLP {'-'.join(map(str, p.sizes))}, {p.n_train} training samples. The f64 FLOP "
                      "floor is an epoch's FLOPs at the f64 matmul roofline (no contender can beat it in "
                      "f64). ⚠ = a run did not complete normally.", "", self.timing_table(problem)]
        parts += ["", "## Speed-ups (how many times faster; > 1 means the engine wins)", "",
                  self.ratio_table()]
        parts += ["", "## engine.train: where an epoch goes", "", self.engine_split_table()]
        if self.stacked:
            from bench import stacked as S

            parts += ["", "## Compare-many: eight optimizers stacked", "", S.markdown(self.stacked)]
        parts += ["", "## Roofline", "", self.roofline_table()]
        parts += ["", "## Repetition spread", "",
                  "(max − min) / median of the time per epoch over the repetitions, worst per contender: "
                  + ", ".join(self._worst_spread()) + "."]
        parts += ["", "## App timings", "", APP_BEGIN,
                  "Not measured yet: run `python -m bench.app_timings`.", APP_END, ""]
        return "\n".join(parts)

    def _worst_spread(self) -> list[str]:
        worst: dict[str, float] = {}
        for (_, key), s in self.stats.items():
            worst[key] = max(worst.get(key, 0.0), s.spread)
        return [f"{C.BY_KEY[k].label} {100 * v:.0f} %" for k, v in worst.items()]

    def console(self) -> str:
        parts = []
        for problem in dict.fromkeys(c.problem for c in self.cells):
            parts += [f"\n{problem}: ms per epoch · µs per update", self.timing_table(problem)]
        parts += ["\nSpeed-ups", self.ratio_table(), "\nRoofline", self.roofline_table(),
                  "\nTargets", self.targets_table()]
        return "\n".join(parts)
