"""Optimizers: ``create(name, **hparams)`` and the ``REGISTRY`` of specs.

Every optimizer follows torch.optim 2.13's names, defaults, update order and
eps placement; textbook variants are registered under their own names.
Importing this package registers every family below.
"""

from engine.optim import (  # noqa: F401, I001  (importing registers; this order is the menu order)
    sgd,
    adagrad,
    rmsprop,
    adadelta,
    adam,
    adamax,
    nadam,
    radam,
    asgd,
    rprop,
    lbfgs,
    book,
    deck,
    gradlr,
    adabound,
    lookahead,
)
from engine.optim.base import (
    REGISTRY,
    Optimizer,
    create,
    register,
    state_from_arrays,
    state_to_arrays,
)

__all__ = ["REGISTRY", "Optimizer", "create", "register", "state_from_arrays", "state_to_arrays"]
