"""The VAE-GAN's gradient routing (Larsen et al. 2016, Algorithm 1), checked
on whatever backend KERAS_BACKEND selects (CI runs this file on TensorFlow,
JAX and PyTorch):

- the encoder minimises kl_weight * L_prior + L_llike, and nothing of L_GAN
  reaches it, although L_GAN does depend on its weights (through x~);
- the decoder minimises gamma * L_llike - L_GAN (the GAN loss's generator term);
- the discriminator minimises the GAN loss's discriminator term only;
- one train step applies exactly those gradients, each to its own network, and
  no network's update moves another network's weights;
- with a gradient-penalty loss (wasserstein), the penalty trains the
  discriminator alone, with the loss's weight.
"""

from __future__ import annotations

import numpy as np
import pytest

from vaegan_tiny import build, numpy, snapshot, tiny_images

NETWORKS = ("encoder", "decoder", "discriminator")
TERMS = ("kl", "llike", "g_loss", "d_loss")
GAMMA, KL_WEIGHT = 0.5, 0.7


def network_gradients(model, images):
    """Each network's gradient of its own loss, computed by the backend's
    train-step code, as numpy arrays (zeros where a weight is unreached).
    Every model variable (seed state included) is restored afterwards, so the
    next computation or step draws the same noise."""
    import keras

    from zoo_core.multinet import phase_gradients

    saved = snapshot(model.variables)
    x = keras.ops.convert_to_tensor(images)
    (phase,) = model.train_phases()
    grads = phase_gradients(model, phase, model.prepare_batch(x))
    for variable, value in zip(model.variables, saved):
        variable.assign(value)
    nets = model.networks()
    for name in NETWORKS:
        # zip below would silently drop weights a short gradient list misses.
        assert len(grads[name]) == len(nets[name].trainable_variables) > 0, name
    return {name: [np.zeros(v.shape, np.float32) if g is None else numpy(g)
                   for g, v in zip(grads[name], nets[name].trainable_variables)]
            for name in NETWORKS}


def term_gradients(model, images, monkeypatch, terms=TERMS):
    """``{term: {network: gradient of that term alone}}``: the same code with
    every network told to minimise one raw term."""
    from zoo_vaegan import objectives

    out = {}
    for term in terms:
        with monkeypatch.context() as patch:
            patch.setattr(objectives, "network_losses", lambda terms, **_: {n: terms[term] for n in NETWORKS})
            out[term] = network_gradients(model, images)
    return out


def combine(*weighted):
    """Sum of ``(weight, [arrays])`` pairs, array by array."""
    return [sum(w * g[i] for w, g in weighted) for i in range(len(weighted[0][1]))]


def norm(arrays):
    return float(np.sqrt(sum(np.sum(np.square(a)) for a in arrays)))


def assert_same(actual, expected, what):
    assert len(actual) == len(expected) > 0, f"{what}: {len(actual)} gradients for {len(expected)} weights"
    for i, (a, e) in enumerate(zip(actual, expected)):
        # float32 sums in another order: allow round-off relative to the weight's largest gradient.
        atol = max(1e-6, 1e-4 * float(np.max(np.abs(e))))
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=atol, err_msg=f"{what}, weight {i}")


@pytest.fixture
def images():
    return tiny_images(8)


def test_each_network_minimises_exactly_its_own_terms(images, monkeypatch):
    model = build(gamma=GAMMA, kl_weight=KL_WEIGHT)
    raw = term_gradients(model, images, monkeypatch)
    routed = network_gradients(model, images)

    # Which network each term depends on at all: L_prior on the encoder only;
    # L_llike and both GAN terms on all three (reconstructions count as fakes).
    for network in NETWORKS:
        for term in TERMS:
            depends = term != "kl" or network == "encoder"
            assert (norm(raw[term][network]) > 1e-6) == depends, f"d {term} / d {network}"

    # The encoder: L_prior + L_llike, and no GAN gradient, though there is one to leak.
    expected = combine((KL_WEIGHT, raw["kl"]["encoder"]), (1.0, raw["llike"]["encoder"]))
    assert_same(routed["encoder"], expected, "encoder")
    leaked = combine((1.0, expected), (1.0, raw["g_loss"]["encoder"]))
    assert not all(np.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(routed["encoder"], leaked))

    # The decoder: gamma * L_llike - L_GAN (the generator term), nothing of L_prior.
    expected = combine((GAMMA, raw["llike"]["decoder"]), (1.0, raw["g_loss"]["decoder"]))
    assert_same(routed["decoder"], expected, "decoder")

    # The discriminator: the GAN discriminator term alone; L_llike and the
    # generator term depend on its weights but must not steer it.
    assert_same(routed["discriminator"], raw["d_loss"]["discriminator"], "discriminator")
    assert norm(raw["llike"]["discriminator"]) > 1e-6 and norm(raw["g_loss"]["discriminator"]) > 1e-6


def test_without_reconstructions_as_fakes_the_gan_terms_do_not_touch_the_encoder(images, monkeypatch):
    model = build(reconstructions_as_fakes=False)
    raw = term_gradients(model, images, monkeypatch)
    assert norm(raw["d_loss"]["encoder"]) == 0.0 and norm(raw["g_loss"]["encoder"]) == 0.0
    assert norm(raw["d_loss"]["decoder"]) > 1e-6 and norm(raw["llike"]["encoder"]) > 1e-6


def test_one_train_step_applies_each_gradient_to_its_own_network(images):
    """With plain SGD, a step moves every weight by exactly -lr * its network's
    gradient, all three taken from the same forward pass before any update."""
    import keras

    lr = 0.1
    model = build(gamma=GAMMA, kl_weight=KL_WEIGHT, optimizer=keras.optimizers.SGD(lr))
    grads = network_gradients(model, images)
    before = {name: snapshot(net.trainable_variables) for name, net in model.networks().items()}
    state = [model.seed_generator.state] + [v for v in model.non_trainable_variables if "moving" in v.path]
    state_before = snapshot(state)
    model.fit(images, batch_size=len(images), epochs=1, shuffle=False, verbose=0)
    for name, net in model.networks().items():
        moved = [numpy(v) - b for v, b in zip(net.trainable_variables, before[name])]
        assert_same(moved, [-lr * g for g in grads[name]], f"{name}'s update")
    # The JAX step is stateless: the noise seed and batch-norm statistics only
    # change if the step hands them back.
    assert all(not np.array_equal(numpy(v), b) for v, b in zip(state, state_before))


@pytest.mark.parametrize("active", NETWORKS)
def test_no_network_update_moves_another_networks_weights(active, images):
    """Only ``active``'s optimizer has a learning rate: its network moves, the
    other two (every variable of theirs, batch-norm statistics of the
    discriminator aside) stay bit for bit."""
    import keras

    from zoo_core.multinet import NetworkOptimizers

    rates = {name: (0.1 if name == active else 0.0) for name in NETWORKS}
    model = build(optimizer=NetworkOptimizers(**{n: keras.optimizers.SGD(r) for n, r in rates.items()}))
    before = {name: snapshot(net.trainable_variables) for name, net in model.networks().items()}
    model.fit(images, batch_size=len(images), epochs=1, shuffle=False, verbose=0)
    for name, net in model.networks().items():
        after = snapshot(net.trainable_variables)
        unchanged = all(np.array_equal(a, b) for a, b in zip(after, before[name]))
        assert unchanged == (name != active), f"{name} {'moved' if unchanged is False else 'stood still'}"
    if active != "discriminator":
        # No batch norm in this discriminator: nothing of it changes at all.
        assert not model.discriminator.non_trainable_variables


def test_the_gradient_penalty_trains_the_discriminator_only(images, monkeypatch):
    """The WGAN-GP penalty: a nonzero gradient for the discriminator, exactly
    zero for the encoder and decoder (the fakes it mixes are stop-gradient'ed),
    and it enters the discriminator's loss with the loss's weight: two models,
    identical but for that weight, differ in the discriminator's gradient by
    (weight difference) * d gp / d discriminator, and in nothing else.

    The discriminator has layer norm: with leaky ReLUs alone it is piecewise
    linear, its input gradient does not change with the input, and the
    encoder's and decoder's zeros would hold even without the stop-gradient.
    (On PyTorch, input_gradient also detaches its input, so there they hold
    either way.)"""
    from vaegan_tiny import make_loss

    heavy, light = 10.0, 2.5
    model = build(loss=make_loss("wasserstein", gradient_penalty=heavy), discriminator_norm="layer")
    assert model.penalty_weight == heavy
    raw = term_gradients(model, images, monkeypatch, terms=("gp",))["gp"]
    assert norm(raw["discriminator"]) > 1e-6
    assert norm(raw["encoder"]) == 0.0 and norm(raw["decoder"]) == 0.0

    routed = network_gradients(model, images)
    other = network_gradients(build(loss=make_loss("wasserstein", gradient_penalty=light), discriminator_norm="layer"),
                              images)
    assert_same(routed["encoder"], other["encoder"], "encoder")
    assert_same(routed["decoder"], other["decoder"], "decoder")
    difference = combine((1.0, routed["discriminator"]), (-1.0, other["discriminator"]))
    expected = combine((heavy - light, raw["discriminator"]))
    assert len(difference) == len(expected) > 0
    # A difference of float32 gradients of size ~50: round-off scales with them.
    scale = max(float(np.abs(g).max()) for g in routed["discriminator"])
    for i, (a, e) in enumerate(zip(difference, expected)):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-5 * scale, err_msg=f"discriminator, weight {i}")
    assert norm(expected) > 1e-3 * scale * np.sqrt(sum(e.size for e in expected))
