"""One train step per backend, side by side.

Two optimizers mean Keras' own ``train_step`` cannot be used: each backend
differentiates the shared objectives of :class:`zoo_gan.base.GAN` its own
way (``tf.GradientTape``, ``jax.value_and_grad``, ``torch.autograd``).
Every module here offers the same three functions:

- ``train_step(model, ...)``: ``n_critic`` discriminator updates on
  consecutive sub-batches, then one generator update;
- ``test_step(model, ...)``: the same losses on held-out data, no update;
- ``input_gradient(fn, x)``: ``d sum(fn(x)) / dx``, itself differentiable
  (for the gradient penalty).

The signatures follow each backend's trainer: JAX's steps take and return
the training state; TensorFlow's and PyTorch's update variables in place.
"""

from __future__ import annotations

from zoo_core.multinet import step_module


def for_backend(name: str | None = None):
    """The step module for ``name`` (default: the backend Keras runs on)."""
    return step_module(__name__, "zoo-gan", name)
