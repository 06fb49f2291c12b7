"""The Train and Compare pages' starting points, and the runs they show on first open.

A page opened for the first time in a session shows its result at once: read
from the run store, which the server fills in the background when it starts
(:func:`ui.cache.warm`), or trained then. The configurations are built the way
the pages' controls build them, so their keys are the ones the pages ask for.
"""

from __future__ import annotations

from engine.config import RunConfig
from ui import sidebar

# moons with a small network, and Adam at lr 0.01 to draw a curved boundary within 30 epochs
TRAIN_START = {
    "dataset": "moons",
    "hidden": (16, 16),
    "epochs": 30,
    "optimizer_params": {"lr": 0.01},
}
COMPARE_START = {"dataset": "digits", "hidden": (64,), "epochs": 20}
COMPARE_ENTRIES = ["sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad"]


def train_config() -> RunConfig:
    """The run the Train page shows when nothing was changed."""
    fields = sidebar.defaults(TRAIN_START)
    optimizer = fields["optimizer"]
    params = {**sidebar.starting_params(optimizer), **TRAIN_START.get("optimizer_params", {})}
    return sidebar.make_config(fields, optimizer_params=params)


def compare_configs() -> list[RunConfig]:
    """The runs the Compare page shows when nothing was changed (one seed each)."""
    fields = sidebar.defaults(COMPARE_START)
    return [
        sidebar.make_config(fields, optimizer=name, optimizer_params=sidebar.starting_params(name))
        for name in COMPARE_ENTRIES
    ]


def page_configs() -> list[RunConfig]:
    """Every run the pages show on first open."""
    return [train_config(), *compare_configs()]
