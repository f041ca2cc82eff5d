"""Optimizer helpers for models with several networks (no Keras on import)."""

from __future__ import annotations

from typing import Optional


def clone_optimizer(optimizer, learning_rate: Optional[float] = None):
    """A fresh optimizer like ``optimizer`` (no state), optionally with another learning rate."""
    config = optimizer.get_config()
    if learning_rate is not None:
        config["learning_rate"] = float(learning_rate)
    return optimizer.__class__.from_config(config)
