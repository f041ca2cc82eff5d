"""Models that train several networks, each with its own optimizer: the
public way in (cheap to import: Keras loads on first use of the API).

Write such a model once, with ``keras.ops`` and no backend code::

    from zoo_core.multinet import MultiNetworkModel, Phase, input_gradient

and zoo trains it on TensorFlow, JAX and PyTorch (see docs/plugins.md,
"Models with several networks"). The API lives in
:mod:`zoo_core.training.multinet`, the per-backend steps in
:mod:`zoo_core.training.steps`:

- :class:`MultiNetworkModel`: the base class (``networks()``, ``train_phases()``);
- :class:`Phase`: one kind of update: networks, loss, repeats, sub-batches;
- :class:`NetworkOptimizers`: one optimizer per network, as Keras' one optimizer;
- :func:`input_gradient`: a differentiable input gradient (WGAN-GP, R1);
- :func:`phase_gradients`: one update's gradients, nothing applied (for tests);
- :func:`split_batch`, :func:`batch_size`: helpers for phases;
- :func:`replica_share`: for a model with a ``compute_loss`` of its own, the
  loss its gradients come from in a data-parallel run (``--distribute``).

The other names here are the helpers of zoo 0.1, for plugins that still
write a train step per backend. ``clone_optimizer``, ``tensorflow_on_cpu``
and ``refuse_mixed_float16`` stay; ``step_module`` and ``run_stateless`` are
deprecated (the core's steps replace them) and will go in zoo 1.0.

Every name is looked up on first use, so importing this module imports
neither Keras nor the trainer; it imports nothing of zoo's at all, and
nothing in zoo imports it (it sits above the trainer it exposes).
"""

from __future__ import annotations

import importlib

#: public name -> the module under zoo_core that defines it
_WHERE = {
    "MultiNetworkModel": "training.multinet",
    "NetworkOptimizers": "training.multinet",
    "input_gradient": "training.multinet",
    "phase_gradients": "training.multinet",
    "Phase": "training.phases",
    "split_batch": "training.phases",
    "batch_size": "training.phases",
    "replica_share": "training.replicas",
    "clone_optimizer": "training.optimizers",
    "tensorflow_on_cpu": "training.precision",
    "refuse_mixed_float16": "training.precision",
    "step_module": "training.legacy",
    "run_stateless": "training.legacy",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"zoo_core.{where}"), name)


def __dir__():
    return sorted([*globals(), *_WHERE])
