"""The set-up itself: requirements match the imports, the engine stays free of Streamlit,
and the two commands (`make run`, `make test`) and CI are wired as the README says."""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["engine", "ui", "app_pages", "streamlit_app.py", "bench", "tests"]
SKIP_DIRS = {".venv", "__pycache__", "test-artifacts", "data"}

# Listed but never imported: each one's reason, and where it is used (file, text found there).
NOT_IMPORTED = {
    "pytest-xdist": ("runs the suite on two workers (pytest -n)", "Makefile", "-n 2"),
    "pytest-timeout": ("ends a hung test (the pytest `timeout` setting)", "pyproject.toml", "timeout ="),
    "ruff": ("the linter `make test` runs", "Makefile", "ruff check"),
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_files() -> list[Path]:
    return sorted(ROOT.glob("requirements*.txt")) + sorted(ROOT.glob("bench/requirements*.txt"))


def parse_requirements(path: Path) -> dict[str, str]:
    """Distribution name -> its line, following ``-r`` includes."""
    out: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            out.update(parse_requirements(path.parent / line.split(None, 1)[1]))
            continue
        if line.startswith("-"):
            continue
        m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        assert m, f"{path.name}: cannot read {raw!r}"
        out[canonical(m.group(0))] = line
    return out


@cache
def listed() -> dict[str, str]:
    out: dict[str, str] = {}
    for f in requirement_files():
        out.update(parse_requirements(f))
    return out


def python_files() -> list[Path]:
    files = []
    for name in SOURCES:
        p = ROOT / name
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files += [f for f in p.rglob("*.py") if not SKIP_DIRS & set(f.relative_to(ROOT).parts)]
    return sorted(files)


def local_names(files: list[Path]) -> set[str]:
    """Modules of the project itself: top-level folders and files, and the helper modules that
    tests import by bare name (pytest puts each test folder on sys.path)."""
    names = {Path(s).stem for s in SOURCES}
    names.update(f.stem for f in files if f.relative_to(ROOT).parts[0] == "tests")
    return names


@cache
def imports() -> dict[str, list[str]]:
    """Top-level module name -> the places that import it (absolute imports only)."""
    found: dict[str, list[str]] = {}
    for f in python_files():
        tree = ast.parse(f.read_text(), filename=str(f))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for n in names:
                found.setdefault(n.split(".")[0], []).append(f"{f.relative_to(ROOT)}:{node.lineno}")
    return found


def third_party() -> dict[str, list[str]]:
    local = local_names(python_files())
    return {name: where for name, where in imports().items()
            if name not in sys.stdlib_module_names and name != "__future__" and name not in local}


def test_every_third_party_import_is_listed():
    dists = md.packages_distributions()
    problems = []
    for name, where in sorted(third_party().items()):
        provided_by = {canonical(d) for d in dists.get(name, [])}
        if not provided_by:
            problems.append(f"{name} (imported at {where[0]}) is not installed by any requirements file")
        elif not provided_by & listed().keys():
            problems.append(f"{name} (imported at {where[0]}) comes from {sorted(provided_by)}, "
                            "which no requirements file lists")
    assert not problems, "\n".join(problems)


def test_every_listed_package_is_used():
    by_dist: dict[str, set[str]] = {}
    for module, ds in md.packages_distributions().items():
        for d in ds:
            by_dist.setdefault(canonical(d), set()).add(module)
    used = set(third_party())
    problems = []
    for dist in listed():
        if by_dist.get(dist, set()) & used:
            continue
        if dist in NOT_IMPORTED:
            _, file, text = NOT_IMPORTED[dist]
            if text not in (ROOT / file).read_text():
                problems.append(f"{dist}: allowed as used in {file}, but {text!r} is not there")
            continue
        problems.append(f"{dist} is listed but nothing imports it (remove it, or justify it in NOT_IMPORTED)")
    stale = set(NOT_IMPORTED) - listed().keys()
    problems += [f"NOT_IMPORTED names {d}, which no requirements file lists" for d in sorted(stale)]
    assert not problems, "\n".join(problems)


def test_requirements_are_pinned():
    app = parse_requirements(ROOT / "requirements.txt")
    assert app.get("streamlit") == "streamlit==1.67.0"
    dev = parse_requirements(ROOT / "requirements-dev.txt")
    assert dev.get("torch") == "torch==2.13.0", "an exact pin keeps pip on the local CPU wheel"
    assert set(app) <= set(dev), "requirements-dev.txt must include requirements.txt (-r)"
    for line in listed().values():
        assert "==" in line or "<" in line, f"{line!r}: give an upper bound so a new major cannot break"


def test_engine_never_imports_streamlit():
    offenders = [w for name, places in imports().items() if name == "streamlit"
                 for w in places if w.startswith("engine")]
    assert not offenders, offenders
    # nor through another module: import every engine module in a fresh interpreter
    code = (
        "import importlib, pkgutil, sys, engine\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] == 'streamlit')\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_two_commands_and_ci():
    make = (ROOT / "Makefile").read_text()
    for target in ("run:", "test:", "lint:", "clean:"):
        assert re.search(rf"^{target}", make, re.M), f"Makefile has no {target} target"
    readme = (ROOT / "README.md").read_text()
    head = readme[:800]
    assert "make run" in head and "make test" in head, "the README opens with the two commands"
    ci = ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK), ".ci/run must be executable"
    text = ci.read_text()
    assert "set -euo pipefail" in text and "make test" in text


def test_streamlit_config():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] <= 5
    assert cfg["server"]["runOnSave"] is False
    assert cfg["browser"]["gatherUsageStats"] is False


def test_pytest_and_ruff_settings():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ini = py["tool"]["pytest"]["ini_options"]
    assert ini["testpaths"] == ["tests"]
    assert {m.split(":")[0] for m in ini["markers"]} >= {"browser", "slow"}
    ruff = py["tool"]["ruff"]
    assert ruff["line-length"] == 110 and ruff["target-version"] == "py311"
    assert set(ruff["lint"]["select"]) >= {"E", "F", "W", "I", "B", "UP"}


def test_tests_use_a_private_data_folder():
    data = os.environ.get("OPTLAB_DATA_DIR", "")
    assert data and not Path(data).resolve().is_relative_to(ROOT), data
