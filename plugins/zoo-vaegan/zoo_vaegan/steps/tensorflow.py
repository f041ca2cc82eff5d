"""The TensorFlow train step: one persistent ``tf.GradientTape`` over the
forward pass, one ``gradient`` call per network."""

from __future__ import annotations

import tensorflow as tf

from ..optimizers import NETWORKS


def input_gradient(fn, x):
    # Opened inside the outer tape, so the outer tape can differentiate this
    # gradient again (the gradient penalty's double backprop).
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x)


def network_gradients(model, data):
    """``({network: gradients aligned with its trainable_variables}, terms)``."""
    real = model.prepare(data)
    with tf.GradientTape(persistent=True) as tape:
        losses, terms = model.adversarial_pass(real, input_gradient)
    nets = model.networks()
    grads = {name: tape.gradient(losses[name], nets[name].trainable_variables) for name in NETWORKS}
    del tape
    return grads, terms


def train_step(model, data):
    grads, terms = network_gradients(model, data)
    nets = model.networks()
    for name, optimizer in zip(NETWORKS, model.optimizer.optimizers):
        optimizer.apply(grads[name], nets[name].trainable_variables)
    model.record(terms)
    return model.logs()


def test_step(model, data):
    _, terms = model.adversarial_pass(model.prepare(data), input_gradient, training=False)
    model.record(terms)
    return model.logs()
