"""Neural-network pieces: activations, initializers, losses and the MLP.

See :mod:`engine.nn.mlp` for the flat parameter layout and the training step.
"""

from engine.nn.activations import ACTIVATIONS
from engine.nn.initializers import INITIALIZERS
from engine.nn.losses import LOSSES, OUTPUT_LOSS, TASK_OUTPUT, loss_for_output
from engine.nn.mlp import BN_EPS, BN_MOMENTUM, MLP

__all__ = [
    "ACTIVATIONS", "BN_EPS", "BN_MOMENTUM", "INITIALIZERS", "LOSSES", "MLP",
    "OUTPUT_LOSS", "TASK_OUTPUT", "loss_for_output",
]
