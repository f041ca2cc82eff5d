"""One train step per backend, side by side.

Three networks with three optimizers mean Keras' own ``train_step`` cannot
be used. Every step makes one forward pass through
:meth:`zoo_vaegan.base.BaseVAEGAN.adversarial_pass`, then differentiates each
network's own loss with respect to that network's weights only, and applies
all three updates from the same pass (Larsen et al. 2016, Algorithm 1):
gradients are taken before any weight moves. Every module here offers:

- ``network_gradients(model, ...)``: each network's gradient of its own loss,
  from one forward pass, nothing updated;
- ``train_step(model, ...)``: those gradients, applied by each network's optimizer;
- ``test_step(model, ...)``: the same terms on held-out data, no update;
- ``input_gradient(fn, x)``: ``d sum(fn(x)) / dx``, itself differentiable
  (for a gradient penalty).

The signatures follow each backend's trainer: JAX's steps take and return
the training state; TensorFlow's and PyTorch's update variables in place.
"""

from __future__ import annotations

from zoo_core.multinet import step_module


def for_backend(name: str | None = None):
    """The step module for ``name`` (default: the backend Keras runs on)."""
    return step_module(__name__, "zoo-vaegan", name)
