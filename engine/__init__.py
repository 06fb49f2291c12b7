"""Optimizer Lab's training engine: pure NumPy + scikit-learn."""

ENGINE_VERSION = "0.1.0"
