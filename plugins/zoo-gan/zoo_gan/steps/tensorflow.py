"""The TensorFlow train step: one ``tf.GradientTape`` per update."""

from __future__ import annotations

import tensorflow as tf
from keras import ops


def input_gradient(fn, x):
    # Opened inside the outer tape, so the outer tape can differentiate this
    # gradient again (the gradient penalty's double backprop).
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x)


def train_step(model, data):
    real, labels = model.prepare(data)
    generator, discriminator = model.optimizer.generator, model.optimizer.discriminator
    d_vars = model.discriminator.trainable_variables
    g_vars = model.generator.trainable_variables

    for real_part, labels_part in model.critic_batches(real, labels):
        fake = model.fake_images(ops.shape(real_part)[0], labels_part)
        with tf.GradientTape() as tape:
            loss, terms = model.discriminator_objective(real_part, fake, labels_part, input_gradient)
        discriminator.apply(tape.gradient(loss, d_vars), d_vars)
        model.record(terms)

    # The generator's batch is one critic sub-batch, with its labels.
    with tf.GradientTape() as tape:
        loss, terms = model.generator_objective(ops.shape(real_part)[0], labels_part)
    generator.apply(tape.gradient(loss, g_vars), g_vars)
    model.record(terms)
    return model.logs()


def test_step(model, data):
    real, labels = model.prepare(data)
    model.record(model.evaluation_terms(real, labels, input_gradient))
    return model.logs()
