"""The JAX train step: stateless, as Keras' JAX trainer requires.

``fit`` hands each step the state ``(trainable, non_trainable, optimizer,
metrics)`` as lists of arrays aligned with ``model.trainable_variables``,
``model.non_trainable_variables``, ``model.optimizer.variables`` (the
generator's optimizer's, then the discriminator's) and
``model.metrics_variables``, and wants the new state back. The shared
objectives run inside a ``keras.StatelessScope`` that maps every model
variable to its value in the state; whatever they assign there (batch-norm
moving statistics, seed-generator state) is read back as the new
non-trainable state.
"""

from __future__ import annotations

import jax
import keras

from zoo_core.multinet import run_stateless as _run


def input_gradient(fn, x):
    return jax.grad(fn)(x)


def _record(model, metrics, all_terms):
    mapping = list(zip(model.metrics_variables, metrics))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        for terms in all_terms:
            model.record(terms)
        logs = model.logs()
    return logs, [scope.get_current_value(v) for v in model.metrics_variables]


class _Network:
    """One network's slice of the model's trainable values."""

    def __init__(self, model, network):
        position = {id(v): i for i, v in enumerate(model.trainable_variables)}
        self.index = [position[id(v)] for v in network.trainable_variables]

    def take(self, trainable):
        return [trainable[i] for i in self.index]

    def put(self, trainable, values):
        trainable = list(trainable)
        for i, value in zip(self.index, values):
            trainable[i] = value
        return trainable


def _update(model, network, optimizer, opt_values, trainable, non_trainable, objective):
    """One optimizer step of ``network`` on ``objective()``; returns the new
    (trainable, non_trainable, optimizer values, logged terms)."""

    def loss_fn(own, non_trainable):
        (loss, terms), non_trainable = _run(model, network.put(trainable, own), non_trainable, objective)
        return loss, (terms, non_trainable)

    own = network.take(trainable)
    (_, (terms, non_trainable)), grads = jax.value_and_grad(loss_fn, has_aux=True)(own, non_trainable)
    own, opt_values = optimizer.stateless_apply(opt_values, grads, own)
    return network.put(trainable, own), non_trainable, opt_values, terms


def train_step(model, state, data):
    trainable, non_trainable, opt_values, metrics = state
    g_opt, d_opt = model.optimizer.split(opt_values)
    g_net = _Network(model, model.generator)
    d_net = _Network(model, model.discriminator)
    real, labels = model.prepare(data)
    all_terms = []

    for real_part, labels_part in model.critic_batches(real, labels):
        size = real_part.shape[0]
        fake, non_trainable = _run(model, trainable, non_trainable,
                                   lambda: model.fake_images(size, labels_part))
        trainable, non_trainable, d_opt, terms = _update(
            model, d_net, model.optimizer.discriminator, d_opt, trainable, non_trainable,
            lambda: model.discriminator_objective(real_part, fake, labels_part, input_gradient))
        all_terms.append(terms)

    # The generator's batch is one critic sub-batch, with its labels.
    trainable, non_trainable, g_opt, terms = _update(
        model, g_net, model.optimizer.generator, g_opt, trainable, non_trainable,
        lambda: model.generator_objective(size, labels_part))
    all_terms.append(terms)

    logs, metrics = _record(model, metrics, all_terms)
    return logs, (trainable, non_trainable, g_opt + d_opt, metrics)


def test_step(model, state, data):
    trainable, non_trainable, metrics = state
    real, labels = model.prepare(data)
    terms, non_trainable = _run(model, trainable, non_trainable,
                                lambda: model.evaluation_terms(real, labels, input_gradient))
    logs, metrics = _record(model, metrics, [terms])
    return logs, (trainable, non_trainable, metrics)
