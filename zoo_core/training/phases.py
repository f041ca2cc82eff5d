"""What one training step of a :class:`~zoo_core.training.multinet.MultiNetworkModel`
does: its :class:`Phase` objects, and the batch helpers the phases and the
per-backend steps (:mod:`zoo_core.training.steps`) share. Below both of them:
it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import keras

from keras import ops


# === Phases ===


@dataclass(frozen=True)
class Phase:
    """One kind of update in a training step.

    Args:
        update: the network(s) this phase updates: a name from
            :meth:`MultiNetworkModel.networks`, or several.
        loss: ``loss(batch, training) -> (losses, terms)``. ``losses`` is one
            scalar that every network in ``update`` minimises, or a dict
            ``{network: scalar}`` giving each network its own loss, all from
            one forward pass (each network's gradient then comes from its own
            loss only: a term that is not in a network's loss never reaches
            its weights, whatever the graph). ``terms`` is a dict of scalars
            to log (the epoch means of those named in
            :meth:`MultiNetworkModel.logged_terms`).
        repeat: updates in a row (a critic's ``n_critic``). Every update sees
            the weights the previous one left.
        split: cut the batch into this many consecutive sub-batches of
            ``max(batch // split, 1)`` examples (wrapping round for a batch
            smaller than ``split``); update ``i`` uses sub-batch ``i % split``.
        prepare: ``prepare(batch, training) -> batch``, run before each
            update *without* gradients (e.g. a generator's fakes for a
            critic update); its result is what ``loss`` receives.

    Within one phase, a variable shared by two of its networks is updated
    once, by the optimizer of the first network in ``update`` that holds it.
    Every weight of an updated network should reach the phase's loss: one
    that does not gets no gradient on TensorFlow and PyTorch (the optimizer
    skips it) but a zero gradient on JAX (Adam's momentum still moves it).
    """

    update: Any
    loss: Callable
    repeat: int = 1
    split: int = 1
    prepare: Optional[Callable] = None

    def __post_init__(self):
        update = (self.update,) if isinstance(self.update, str) else tuple(self.update)
        if not update or not all(isinstance(n, str) for n in update) or len(set(update)) != len(update):
            raise ValueError(f"Phase.update must name one or more distinct networks, got {self.update!r}")
        object.__setattr__(self, "update", update)
        for key in ("repeat", "split"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Phase.{key} must be a positive int, got {value!r}")


def batch_size(batch):
    """The number of examples in a batch (the first array's first dimension)."""
    leaves = [x for x in keras.tree.flatten(batch) if x is not None]
    if not leaves:
        raise ValueError("the batch holds no arrays")
    size = leaves[0].shape[0]
    return size if isinstance(size, int) else ops.shape(leaves[0])[0]


def split_batch(batch, parts: int) -> list:
    """``batch`` (an array, or a tuple/dict of arrays with ``None`` allowed) as
    ``parts`` consecutive sub-batches of ``max(size // parts, 1)`` examples;
    a batch smaller than ``parts`` wraps round rather than giving an empty one."""
    if parts == 1:
        return [batch]
    total = batch_size(batch)
    size = max(total // parts, 1) if isinstance(total, int) else ops.maximum(total // parts, 1)
    out = []
    for i in range(parts):
        index = (ops.arange(size) + i * size) % total
        out.append(keras.tree.map_structure(lambda x: None if x is None else ops.take(x, index, axis=0), batch))
    return out
