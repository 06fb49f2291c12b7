"""The engine's version: a release number plus a fingerprint of its numerics.

Every run key includes :data:`ENGINE_VERSION`, so a stored run is a cache hit
only for the engine that produced it. The fingerprint is a hash of the source
of every engine module that can change a number a run produces (the model,
the optimizers, the data, the training loop, the schedules, the config's
defaults), so editing the math can never serve an old stored run, and no one
has to remember to bump a constant. Modules that only move results around
(the store, the orchestrator, the command line, the lesson catalogue) are left
out: changing them keeps every stored run valid.

Runs stored by another engine stay listable and readable
(:meth:`engine.store.RunStore.list` marks them); they are never returned as a
cache hit, because their keys differ.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

RELEASE = "0.2"

ENGINE_DIR = Path(__file__).resolve().parent

# engine modules that cannot change a run's numbers (paths relative to engine/)
NOT_NUMERIC = frozenset({
    "__init__.py", "__main__.py", "version.py", "paths.py", "store.py", "runs.py",
    "executors.py", "sweep.py", "lessons.py", "limits.py", "checkpoint.py", "cli.py", "cli_sweep.py",
})


def numeric_sources() -> list[Path]:
    """The engine's source files that the fingerprint covers, in a fixed order."""
    return sorted(
        p for p in ENGINE_DIR.rglob("*.py")
        if p.relative_to(ENGINE_DIR).as_posix() not in NOT_NUMERIC and "__pycache__" not in p.parts
    )


def fingerprint() -> str:
    """sha256 over the covered files' paths and bytes (first 12 hex digits)."""
    h = hashlib.sha256()
    for p in numeric_sources():
        h.update(p.relative_to(ENGINE_DIR).as_posix().encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:12]


ENGINE_VERSION = f"{RELEASE}+{fingerprint()}"
