"""The PyTorch train step: one forward pass, then ``torch.autograd.grad``
of each network's loss for that network's own weights."""

from __future__ import annotations

import torch

from ..optimizers import NETWORKS


def input_gradient(fn, x):
    # Enabled even under Keras' no_grad test loop; create_graph keeps the
    # result differentiable for the gradient penalty.
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
    return grad


def network_gradients(model, data):
    """``({network: gradients aligned with its trainable_variables}, terms)``."""
    real = model.prepare(data)
    losses, terms = model.adversarial_pass(real, input_gradient)
    nets = model.networks()
    grads = {}
    for i, name in enumerate(NETWORKS):
        # The graph is shared by all three losses: keep it until the last one.
        # allow_unused: a weight the loss never reaches gets None, which the optimizer skips.
        grads[name] = list(torch.autograd.grad(losses[name], [v.value for v in nets[name].trainable_variables],
                                               retain_graph=i < len(NETWORKS) - 1, allow_unused=True))
    return grads, {k: v.detach() for k, v in terms.items()}


def train_step(model, data):
    # Every gradient is taken before any weight changes in place (autograd
    # would refuse a graph whose inputs were modified).
    grads, terms = network_gradients(model, data)
    nets = model.networks()
    with torch.no_grad():
        for name, optimizer in zip(NETWORKS, model.optimizer.optimizers):
            optimizer.apply(grads[name], nets[name].trainable_variables)
    model.record(terms)
    return model.logs()


def test_step(model, data):
    _, terms = model.adversarial_pass(model.prepare(data), input_gradient, training=False)
    model.record({k: v.detach() for k, v in terms.items()})
    return model.logs()
