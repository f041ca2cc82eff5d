"""The TensorFlow steps: a ``tf.GradientTape`` per update (persistent when
several networks each take the gradient of their own loss)."""

from __future__ import annotations

import tensorflow as tf

from ..phases import split_batch
from ..replicas import replica_share
from . import each_update, owned_variables, per_network


def input_gradient(fn, x):
    # Opened inside the outer tape, so the outer tape can differentiate this
    # gradient again (a gradient penalty's double backprop).
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x)


def _gradients(model, phase, part):
    """``(owned variables, their gradients, terms)`` for one update; nothing applied."""
    owned = owned_variables(model, phase)
    with tf.GradientTape(persistent=len(owned) > 1) as tape:
        losses, terms = phase.loss(part, training=True)
        losses = replica_share(losses)  # a replica's share of the global batch's gradient
    routed = per_network(losses, phase)
    if routed is None:
        flat = [v for variables in owned.values() for v in variables]
        all_grads, grads, start = tape.gradient(losses, flat), {}, 0
        for name, variables in owned.items():
            grads[name] = all_grads[start:start + len(variables)]
            start += len(variables)
    else:
        # Every gradient from the same forward pass, before any weight moves.
        grads = {name: tape.gradient(loss, owned[name]) for name, loss in zip(owned, routed)}
    del tape
    return owned, grads, terms


def _prepared(phase, part):
    # Outside any tape: no gradient flows through what prepare makes.
    return phase.prepare(part, training=True) if phase.prepare is not None else part


def phase_gradients(model, phase, batch):
    """Each updated network's gradients for one update of ``phase`` on ``batch``; nothing applied."""
    _, grads, _ = _gradients(model, phase, _prepared(phase, split_batch(batch, phase.split)[0]))
    return grads


def _update(model, phase, part):
    owned, grads, terms = _gradients(model, phase, part)
    for name, variables in owned.items():
        if variables:
            getattr(model.optimizer, name).apply(grads[name], variables)
    return terms


def train_step(model, data):
    for phase, part in each_update(model, model.prepare_batch(data)):
        model.record(_update(model, phase, _prepared(phase, part)))
    return model.logs()


def test_step(model, data):
    model.record(model.test_terms(model.prepare_batch(data)))
    return model.logs()
