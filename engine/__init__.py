"""Optimizer Lab's training engine: pure NumPy + scikit-learn.

    from engine import RunConfig, train
    result = train(RunConfig(dataset="digits", optimizer="adam", epochs=5))
    result.history[["epoch", "val_loss", "val_acc"]]

``engine.train_many(configs)`` trains runs that share a batch stream as one
stacked computation (bit-identical to training them one by one),
``engine.optim.create(name, **hp)`` builds any registered optimizer,
``engine.minimize(surface, optimizer, x0, steps, **hp)`` traces one on a test
surface, and ``python -m engine`` is the command line.
"""

# Imported eagerly and in this order: the submodules engine.train and
# engine.minimize would otherwise shadow the functions of the same name.
from engine.version import ENGINE_VERSION  # noqa: E402
from engine.config import RunConfig  # noqa: E402
from engine.train import RunResult, decision_surface, train  # noqa: E402
from engine.checkpoint import load_run, resume, save_run  # noqa: E402
from engine.minimize import minimize  # noqa: E402
from engine.stacked import train_many  # noqa: E402

__all__ = [
    "ENGINE_VERSION", "RunConfig", "RunResult", "decision_surface", "load_run", "minimize",
    "resume", "save_run", "train", "train_many",
]
