"""The PyTorch steps: ``torch.autograd.grad`` of each phase's loss for its
networks' own weights, then each network's optimizer under ``no_grad``."""

from __future__ import annotations

import torch

from ..phases import split_batch
from . import each_update, owned_variables, per_network


def input_gradient(fn, x):
    # Enabled even under Keras' no_grad test loop; create_graph keeps the
    # result differentiable for a gradient penalty.
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
    return grad


def _detached(terms):
    return {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in terms.items()}


def _gradients(model, phase, part):
    """``(owned variables, their gradients, detached terms)`` for one update; nothing applied."""
    owned = owned_variables(model, phase)
    losses, terms = phase.loss(part, training=True)
    routed = per_network(losses, phase)
    # allow_unused: a weight the loss never reaches gets None, which the optimizer skips.
    if routed is None:
        flat = [v.value for variables in owned.values() for v in variables]
        all_grads, grads, start = list(torch.autograd.grad(losses, flat, allow_unused=True)), {}, 0
        for name, variables in owned.items():
            grads[name] = all_grads[start:start + len(variables)]
            start += len(variables)
    else:
        # One graph for every network's loss: keep it until the last one.
        # Every gradient is taken before any weight changes in place.
        grads = {name: [] for name in owned}
        pending = [(name, loss) for name, loss in zip(owned, routed) if owned[name]]
        for k, (name, loss) in enumerate(pending):
            grads[name] = list(torch.autograd.grad(loss, [v.value for v in owned[name]],
                                                   retain_graph=k < len(pending) - 1, allow_unused=True))
    return owned, grads, _detached(terms)


def _prepared(phase, part):
    if phase.prepare is None:
        return part
    with torch.no_grad():
        return phase.prepare(part, training=True)


def phase_gradients(model, phase, batch):
    """Each updated network's gradients for one update of ``phase`` on ``batch``; nothing applied."""
    _, grads, _ = _gradients(model, phase, _prepared(phase, split_batch(batch, phase.split)[0]))
    return grads


def _update(model, phase, part):
    owned, grads, terms = _gradients(model, phase, part)
    with torch.no_grad():
        for name, variables in owned.items():
            if variables:
                getattr(model.optimizer, name).apply(grads[name], variables)
    return terms


def train_step(model, data):
    for phase, part in each_update(model, model.prepare_batch(data)):
        model.record(_update(model, phase, _prepared(phase, part)))
    return model.logs()


def test_step(model, data):
    model.record(_detached(model.test_terms(model.prepare_batch(data))))
    return model.logs()
