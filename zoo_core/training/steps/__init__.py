"""The train and test steps of :class:`~zoo_core.training.multinet.MultiNetworkModel`,
one module per backend, side by side, as Keras keeps its own trainers.

Each module offers the same three functions:

- ``train_step(model, ...)``: every phase of ``model.train_phases()`` in
  order; each update differentiates the phase's loss for the weights of the
  networks it names only, then applies each network's own optimizer;
- ``test_step(model, ...)``: ``model.test_terms`` on held-out data, no update;
- ``input_gradient(fn, x)``: ``d sum(fn(x)) / dx``, itself differentiable.

The signatures follow each backend's Keras trainer: JAX's steps take and
return the training state; TensorFlow's and PyTorch's update variables in
place. What the three share (which variables a phase updates, checking a
phase's losses) is here, with no backend import.
"""

from __future__ import annotations

import importlib
from typing import Optional

BACKENDS = ("tensorflow", "jax", "torch")


def for_backend(name: Optional[str] = None):
    """The step module for ``name`` (default: the backend Keras runs on)."""
    if name is None:
        import keras

        name = keras.backend.backend()
    if name not in BACKENDS:
        raise RuntimeError(f"zoo has no multi-network train step for the '{name}' backend")
    return importlib.import_module(f"{__name__}.{name}")


def owned_variables(model, phase) -> dict:
    """``{network: [variables]}`` that ``phase`` updates: each named network's
    trainable variables, a variable shared with an earlier network of the
    phase left to that one (so no variable is updated twice in one update)."""
    networks = model.networks()
    seen, owned = set(), {}
    for name in phase.update:
        if name not in networks:
            raise ValueError(f"a phase updates '{name}', which is not one of the model's networks "
                             f"({', '.join(networks)})")
        owned[name] = []
        for variable in networks[name].trainable_variables:
            if id(variable) not in seen:
                seen.add(id(variable))
                owned[name].append(variable)
    return owned


def per_network(losses, phase) -> Optional[list]:
    """The losses of a phase's networks in ``phase.update`` order, or None
    when the phase's loss is one scalar for all of them."""
    if not isinstance(losses, dict):
        return None
    if set(losses) != set(phase.update):
        raise ValueError(f"a phase that updates {list(phase.update)} returned losses for {sorted(losses)}; "
                         f"return one scalar, or one loss per updated network")
    return [losses[name] for name in phase.update]


def each_update(model, batch):
    """``(phase, its part of the batch)`` for every update of one training step, in order."""
    from ..phases import split_batch

    for phase in model.train_phases():
        parts = split_batch(batch, phase.split)
        for i in range(phase.repeat):
            yield phase, parts[i % phase.split]

