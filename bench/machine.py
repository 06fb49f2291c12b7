"""What the benchmark ran on: CPU, cores, BLAS and thread pools, versions, load."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path


def _cpuinfo() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        if ":" in line:
            k, v = (s.strip() for s in line.split(":", 1))
            info.setdefault(k, v)
    return info


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


class OtherLoad:
    """CPU time used by everything but this process (and its children) between start and stop:
    all busy time in /proc/stat (steal included) minus our own rusage, in cores on average."""

    def __init__(self) -> None:
        self._t0 = self._snap()

    @staticmethod
    def _snap() -> tuple[float, float, float] | None:
        import resource
        import time

        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        hz = os.sysconf("SC_CLK_TCK")
        user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        busy = (user + nice + system + irq + softirq + steal) / hz
        own = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                    resource.getrusage(resource.RUSAGE_CHILDREN)))
        return busy, own, time.perf_counter()

    def cores(self) -> float:
        """Average cores busy with other work since construction (nan if unknown)."""
        t1 = self._snap()
        if self._t0 is None or t1 is None or t1[2] <= self._t0[2]:
            return float("nan")
        others = (t1[0] - self._t0[0]) - (t1[1] - self._t0[1])
        return max(others, 0.0) / (t1[2] - self._t0[2])


def describe() -> dict[str, object]:
    """A flat description for results.md."""
    cpu = _cpuinfo()
    flags = set(cpu.get("flags", "").split())
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16") if f in flags]
    out: dict[str, object] = {
        "cpu": cpu.get("model name", platform.processor() or "unknown"),
        "cpu family/model": f"{cpu.get('cpu family', '?')}/{cpu.get('model', '?')}",
        "simd": " ".join(simd) or "n/a",
        "cores (os.cpu_count)": os.cpu_count(),
        "usable cores (sched_getaffinity)": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity") else "n/a",
        "hypervisor": "yes" if "hypervisor" in flags else "no",
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "numpy": _version("numpy"),
        "scikit-learn": _version("scikit-learn"),
        "torch": _version("torch"),
        "pandas": _version("pandas"),
    }
    try:
        from threadpoolctl import threadpool_info

        pools = []
        for p in threadpool_info():
            name = Path(p.get("filepath", "")).name
            owner = "numpy" if "numpy" in p.get("filepath", "") else (
                "scipy" if "scipy" in p.get("filepath", "") else (
                    "torch" if "torch" in p.get("filepath", "") else (
                        "scikit-learn" if "scikit_learn" in p.get("filepath", "") else "?")))
            arch = f", {p['architecture']}" if p.get("architecture") else ""
            ver = f" {p['version']}" if p.get("version") else ""
            pools.append(f"{p['internal_api']}{ver} ({owner}: {name}{arch}), "
                         f"{p['num_threads']} threads")
        out["thread pools (threadpoolctl)"] = "; ".join(pools)
    except Exception as e:  # noqa: BLE001 - description only
        out["thread pools (threadpoolctl)"] = f"unavailable ({e})"
    try:
        import numpy as np

        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        out["numpy BLAS (np.show_config)"] = (
            f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
            + (f", {blas.get('openblas configuration', '')}" if blas.get("openblas configuration") else "")
        )
        simd_cfg = cfg.get("SIMD Extensions", {})
        if simd_cfg.get("found"):
            out["numpy SIMD"] = " ".join(simd_cfg["found"])
    except Exception as e:  # noqa: BLE001
        out["numpy BLAS (np.show_config)"] = f"unavailable ({e})"
    try:
        import torch

        out["torch threads"] = f"{torch.get_num_threads()} (ATen parallel backend: {_torch_parallel(torch)})"
    except Exception:  # noqa: BLE001
        pass
    return out


def _torch_parallel(torch) -> str:
    info = torch.__config__.parallel_info()
    for line in info.splitlines():
        if line.startswith("ATen parallel backend"):
            return line.split(":", 1)[1].strip()
    return "?"
