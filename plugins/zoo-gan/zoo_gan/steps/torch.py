"""The PyTorch train step: ``torch.autograd.grad`` for each network's own weights."""

from __future__ import annotations

import torch


def input_gradient(fn, x):
    # Enabled even under Keras' no_grad test loop; create_graph keeps the
    # result differentiable for the gradient penalty.
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
    return grad


def _detached(terms):
    return {k: v.detach() for k, v in terms.items()}


def _update(optimizer, loss, variables):
    # allow_unused: a weight the loss never reaches gets None, which the optimizer skips.
    grads = torch.autograd.grad(loss, [v.value for v in variables], allow_unused=True)
    with torch.no_grad():
        optimizer.apply(list(grads), variables)


def train_step(model, data):
    real, labels = model.prepare(data)
    d_vars = model.discriminator.trainable_variables
    g_vars = model.generator.trainable_variables

    for real_part, labels_part in model.critic_batches(real, labels):
        with torch.no_grad():
            fake = model.fake_images(real_part.shape[0], labels_part)
        loss, terms = model.discriminator_objective(real_part, fake, labels_part, input_gradient)
        _update(model.optimizer.discriminator, loss, d_vars)
        model.record(_detached(terms))

    # The generator's batch is one critic sub-batch, with its labels.
    loss, terms = model.generator_objective(real_part.shape[0], labels_part)
    _update(model.optimizer.generator, loss, g_vars)
    model.record(_detached(terms))
    return model.logs()


def test_step(model, data):
    real, labels = model.prepare(data)
    model.record(_detached(model.evaluation_terms(real, labels, input_gradient)))
    return model.logs()
