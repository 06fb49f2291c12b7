"""Optimizer Lab's training engine: pure NumPy + scikit-learn.

    from engine import RunConfig, train
    result = train(RunConfig(dataset="digits", optimizer="adam", epochs=5))
    result.history[["epoch", "val_loss", "val_acc"]]

``engine.optim.create(name, **hp)`` builds any registered optimizer,
``engine.minimize(surface, optimizer, x0, steps, **hp)`` traces one on a test
surface, and ``python -m engine`` is the command line.
"""

from importlib import import_module
from typing import Any

ENGINE_VERSION = "0.1.0"

# Public names, imported on first use so that ``import engine.optim`` stays
# light and submodules can import ENGINE_VERSION without a cycle.
_EXPORTS = {
    "RunConfig": "engine.config",
    "RunResult": "engine.train",
    "train": "engine.train",
    "decision_surface": "engine.train",
    "save_run": "engine.checkpoint",
    "load_run": "engine.checkpoint",
    "resume": "engine.checkpoint",
}

__all__ = ["ENGINE_VERSION", "minimize", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'engine' has no attribute {name!r}")


# Imported eagerly: the submodule engine.minimize would otherwise shadow the
# function of the same name once anything imports the module directly.
from engine.minimize import minimize  # noqa: E402
