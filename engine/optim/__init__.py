"""Optimizers: ``create(name, **hparams)`` and the ``REGISTRY`` of specs.

Every optimizer follows torch.optim 2.13's names, defaults, update order and
eps placement; textbook variants are registered under their own names.
"""

from engine.optim import sgd  # noqa: F401  (registers sgd, gd, momentum, nesterov)
from engine.optim.base import REGISTRY, Optimizer, create, register

__all__ = ["REGISTRY", "Optimizer", "create", "register"]
