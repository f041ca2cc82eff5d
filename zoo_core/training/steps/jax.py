"""The JAX steps: stateless, as Keras' JAX trainer requires.

``fit`` hands each step the state ``(trainable, non_trainable, optimizer,
metrics)`` as lists of arrays aligned with ``model.trainable_variables``,
``model.non_trainable_variables``, ``model.optimizer.variables`` (each
network's optimizer's, in network order) and ``model.metrics_variables``,
and wants the new state back. The model's code runs inside a
``keras.StatelessScope`` that maps every variable to its value in the state;
whatever it assigns there (batch-norm statistics, seed-generator state) is
read back as the new non-trainable state. ``jax.vjp`` of a phase's losses
gives each network the gradient of its own loss from one forward pass.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import keras

from ..phases import split_batch
from . import each_update, owned_variables, per_network


def input_gradient(fn, x):
    return jax.grad(fn)(x)


def run_stateless(model, trainable, non_trainable, fn: Callable):
    """``fn()`` with the model's variables set to the given values; returns
    its result and the non-trainable values it leaves behind."""
    mapping = list(zip(model.trainable_variables, trainable))
    mapping += list(zip(model.non_trainable_variables, non_trainable))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        out = fn()
    return out, [scope.get_current_value(v) for v in model.non_trainable_variables]


def _record(model, metrics, all_terms):
    mapping = list(zip(model.metrics_variables, metrics))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        for terms in all_terms:
            model.record(terms)
        logs = model.logs()
    return logs, [scope.get_current_value(v) for v in model.metrics_variables]


def _gradients(model, phase, index, part, trainable, non_trainable):
    """``(gradients by network, terms, new non-trainable values)`` for one
    update of ``phase``'s networks at the given values; nothing applied."""
    names = list(index)

    def losses_of(*own):
        values = list(trainable)
        for name, weights in zip(names, own):
            for i, w in zip(index[name], weights):
                values[i] = w
        (losses, terms), new_non_trainable = run_stateless(
            model, values, non_trainable, lambda: phase.loss(part, training=True))
        routed = per_network(losses, phase)
        return (tuple(routed) if routed is not None else (losses,)), (terms, new_non_trainable)

    own = [[trainable[i] for i in index[name]] for name in names]
    losses, pullback, (terms, non_trainable) = jax.vjp(losses_of, *own, has_aux=True)
    if len(losses) == 1:
        grads = pullback((jnp.ones_like(losses[0]),))
    else:
        grads = []
        for k in range(len(names)):
            # A cotangent that selects network k's loss; keep network k's part.
            one_hot = tuple(jnp.ones_like(l) if j == k else jnp.zeros_like(l) for j, l in enumerate(losses))
            grads.append(pullback(one_hot)[k])
    return dict(zip(names, grads)), terms, non_trainable


def _index(model, phase):
    """``{network: positions in the trainable values}`` of what ``phase``
    updates, and of each such network's whole variable list (what its
    optimizer was built with: a variable shared with an earlier network of
    the phase is in the second, not the first)."""
    position = {id(v): i for i, v in enumerate(model.trainable_variables)}
    networks = model.networks()
    owned = {name: [position[id(v)] for v in variables] for name, variables in owned_variables(model, phase).items()}
    full = {name: [position[id(v)] for v in networks[name].trainable_variables] for name in owned}
    return owned, full


def _prepared(model, phase, part, trainable, non_trainable):
    if phase.prepare is None:
        return part, non_trainable
    # Outside the differentiated function: no gradient flows through it.
    return run_stateless(model, trainable, non_trainable, lambda: phase.prepare(part, training=True))


def phase_gradients(model, phase, batch):
    """Each updated network's gradients for one update of ``phase`` on
    ``batch``, at the model's current values; nothing applied or assigned."""
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    part, non_trainable = _prepared(model, phase, split_batch(batch, phase.split)[0], trainable, non_trainable)
    grads, _, _ = _gradients(model, phase, _index(model, phase)[0], part, trainable, non_trainable)
    return grads


def _update(model, phase, index, part, trainable, non_trainable, opt_values):
    """One update of ``phase``'s networks; returns the new (trainable,
    non_trainable, optimizer values by network, logged terms)."""
    owned, full = index
    grads, terms, non_trainable = _gradients(model, phase, owned, part, trainable, non_trainable)
    trainable = list(trainable)
    for name, g in grads.items():
        if not owned[name]:
            continue
        # The optimizer takes its whole variable list; a None gradient (a
        # variable another network of this phase updates) leaves one as it is.
        by_position = dict(zip(owned[name], g))
        weights = [trainable[i] for i in full[name]]
        weights, opt_values[name] = getattr(model.optimizer, name).stateless_apply(
            opt_values[name], [by_position.get(i) for i in full[name]], weights)
        for i, w in zip(full[name], weights):
            trainable[i] = w
    return trainable, non_trainable, opt_values, terms


def train_step(model, state, data):
    trainable, non_trainable, opt_values, metrics = state
    opt_values = model.optimizer.split(opt_values)
    batch, non_trainable = run_stateless(model, trainable, non_trainable, lambda: model.prepare_batch(data))
    all_terms, indexes = [], {}
    for phase, part in each_update(model, batch):
        index = indexes.setdefault(id(phase), _index(model, phase))
        part, non_trainable = _prepared(model, phase, part, trainable, non_trainable)
        trainable, non_trainable, opt_values, terms = _update(
            model, phase, index, part, trainable, non_trainable, opt_values)
        all_terms.append(terms)
    logs, metrics = _record(model, metrics, all_terms)
    opt_values = [v for name in model.optimizer.network_names for v in opt_values[name]]
    return logs, (trainable, non_trainable, opt_values, metrics)


def test_step(model, state, data):
    trainable, non_trainable, metrics = state
    terms, non_trainable = run_stateless(model, trainable, non_trainable,
                                         lambda: model.test_terms(model.prepare_batch(data)))
    logs, metrics = _record(model, metrics, [terms])
    return logs, (trainable, non_trainable, metrics)
