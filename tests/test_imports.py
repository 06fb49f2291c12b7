"""Imports flow one way: pages → ui → engine, with no cycle inside ui/ or engine/.

The graph is read from the source (every import statement, at the top of a
module or inside a function), so a lazy import that closes a cycle counts.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "ui")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            out[module_name(path)] = path
    return out


def imports(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports (a name imported from a package may be a module)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name in known:
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods) | {p for p in PACKAGES}
    return {name: imports(path, known) - {name} for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_inside_ui_or_engine():
    g = graph()
    # a package's __init__ re-exports its modules (engine.optim registers every optimizer):
    # a module importing its own package's names is not a cycle of modules
    inits = {module_name(p) for p in modules().values() if p.name == "__init__.py"}
    g = {k: {m for m in v if m not in inits} for k, v in g.items() if k not in inits}
    assert cycles(g) == []


def test_imports_flow_one_way():
    g = graph()
    for name, deps in g.items():
        if name.startswith("engine"):
            assert not any(d.startswith("ui") for d in deps), f"{name} imports the UI"
    for path in (ROOT / "engine").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] == "streamlit" for n in names), f"{path} imports streamlit"
    for path in (ROOT / "ui").rglob("*.py"):
        assert "app_pages" not in path.read_text(encoding="utf-8").replace('"app_pages/', ""), path


@pytest.mark.parametrize("name", sorted(n for n in modules() if n.startswith("engine")))
def test_every_engine_module_imports_alone_without_streamlit(name):
    code = f"import sys, {name}; assert 'streamlit' not in sys.modules, {name!r}"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
