"""The JAX train step: stateless, as Keras' JAX trainer requires.

``fit`` hands each step the state ``(trainable, non_trainable, optimizer,
metrics)`` as lists of arrays aligned with ``model.trainable_variables``,
``model.non_trainable_variables``, ``model.optimizer.variables`` (the
encoder's optimizer's, the decoder's, the discriminator's) and
``model.metrics_variables``, and wants the new state back. The forward pass
runs inside a ``keras.StatelessScope`` mapping every model variable to its
value in the state; ``jax.vjp`` of the three networks' losses then gives each
network's gradient of its own loss from that one pass, and whatever the pass
assigned (batch-norm statistics, the seed generator) is the new
non-trainable state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import keras

from zoo_core.multinet import run_stateless as _run

from ..optimizers import NETWORKS


def input_gradient(fn, x):
    return jax.grad(fn)(x)


def _record(model, metrics, terms):
    mapping = list(zip(model.metrics_variables, metrics))
    with keras.StatelessScope(state_mapping=mapping) as scope:
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


def network_gradients(model, trainable, non_trainable, data):
    """``({network: gradients}, terms, new non-trainable values)``; nothing updated."""
    real = model.prepare(data)
    parts = [_Network(model, net) for net in model.networks().values()]

    def losses_of(*own):
        values = trainable
        for part, weights in zip(parts, own):
            values = part.put(values, weights)
        (losses, terms), new_non_trainable = _run(model, values, non_trainable,
                                                  lambda: model.adversarial_pass(real, input_gradient))
        return tuple(losses[name] for name in NETWORKS), (terms, new_non_trainable)

    losses, pullback, (terms, non_trainable) = jax.vjp(losses_of, *[p.take(trainable) for p in parts], has_aux=True)
    grads = {}
    for i, name in enumerate(NETWORKS):
        # Pull back a cotangent that selects network i's loss; keep only
        # network i's weights' part: its gradient of its own loss.
        one_hot = tuple(jnp.ones_like(l) if j == i else jnp.zeros_like(l) for j, l in enumerate(losses))
        grads[name] = pullback(one_hot)[i]
    return grads, terms, non_trainable


def train_step(model, state, data):
    trainable, non_trainable, opt_values, metrics = state
    grads, terms, non_trainable = network_gradients(model, trainable, non_trainable, data)
    new_opt_values = []
    for name, net, optimizer, values in zip(NETWORKS, model.networks().values(), model.optimizer.optimizers,
                                            model.optimizer.split(opt_values)):
        part = _Network(model, net)
        weights, values = optimizer.stateless_apply(values, grads[name], part.take(trainable))
        trainable = part.put(trainable, weights)
        new_opt_values += values
    logs, metrics = _record(model, metrics, terms)
    return logs, (trainable, non_trainable, new_opt_values, metrics)


def test_step(model, state, data):
    trainable, non_trainable, metrics = state
    real = model.prepare(data)
    (_, terms), non_trainable = _run(model, trainable, non_trainable,
                                     lambda: model.adversarial_pass(real, input_gradient, training=False))
    logs, metrics = _record(model, metrics, terms)
    return logs, (trainable, non_trainable, metrics)
