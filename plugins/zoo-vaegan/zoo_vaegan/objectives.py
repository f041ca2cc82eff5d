"""The VAE-GAN's loss terms and who minimises which (Larsen et al. 2016),
written with ``keras.ops`` so they run on every backend.

Every term is a float32 batch mean, in nats per image where it is a
likelihood. The adversarial terms come from a ``"gan"`` loss object found by
name in zoo's registry (``discriminator(real_logits, fake_logits)``,
``generator(fake_logits)``); with two kinds of fake (reconstructions and prior
samples) that interface is applied to each and the results averaged, so a
real image weighs as much as in a plain GAN.
"""

from __future__ import annotations

from keras import ops


def _f32(x):
    return ops.cast(x, "float32")


def _sum_per_image(x):
    return ops.sum(ops.reshape(x, (ops.shape(x)[0], -1)), axis=-1)


def kl_divergence(z_mean, z_log_var):
    """L_prior = KL(q(z|x) || N(0, I)) for a diagonal Gaussian q, per image."""
    z_mean, z_log_var = _f32(z_mean), _f32(z_log_var)
    return ops.mean(-0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1))


def feature_nll(real_features, fake_features):
    """L_llike in feature space: -log N(Dis_l(x) | Dis_l(x~), I), constants
    dropped, i.e. half the squared distance summed over the layer's units."""
    return ops.mean(0.5 * _sum_per_image(ops.square(_f32(real_features) - _f32(fake_features))))


def pixel_nll(real, fake):
    """The element-wise term a plain VAE uses: half the squared error summed
    over pixels (unit-variance Gaussian, pixels in [0, 1])."""
    return ops.mean(0.5 * _sum_per_image(ops.square(_f32(real) - _f32(fake))))


def adversarial_terms(loss_fn, real_logits, fake_logits: list):
    """The ``"gan"`` interface over several fake sets: (discriminator loss,
    generator loss), each the mean over the fake sets."""
    d_loss = sum(loss_fn.discriminator(real_logits, fake) for fake in fake_logits) / len(fake_logits)
    g_loss = sum(loss_fn.generator(fake) for fake in fake_logits) / len(fake_logits)
    return _f32(d_loss), _f32(g_loss)


def gradient_penalty(critic, real, fake, epsilon, input_gradient):
    """Gulrajani et al. (2017): E[(||grad_x critic(x_hat)||_2 - 1)^2] with
    x_hat = epsilon * real + (1 - epsilon) * fake, one epsilon per image.

    ``input_gradient(fn, x)`` is ``d sum(fn(x)) / dx`` for the running backend
    (:func:`zoo_core.multinet.input_gradient`), differentiable again so the penalty trains.
    """
    mixed = epsilon * real + (1.0 - epsilon) * fake
    grads = input_gradient(lambda x: ops.sum(_f32(critic(x))), mixed)
    # The epsilon keeps the square root differentiable at a zero gradient.
    norms = ops.sqrt(_sum_per_image(ops.square(_f32(grads))) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


# === Who minimises what ===


def network_losses(terms: dict, *, kl_weight: float, gamma: float) -> dict:
    """Each network's loss from the terms of one forward pass (the paper's
    Algorithm 1). The GAN terms never enter the encoder's loss, and the
    discriminator's loss holds nothing but the GAN's.

    - encoder: ``kl_weight * L_prior + L_llike``
    - decoder: ``gamma * L_llike - L_GAN``, where -L_GAN is the GAN loss's
      generator term (``g_loss``)
    - discriminator: maximises L_GAN, i.e. minimises the GAN loss's
      discriminator term (``d_loss``, with any gradient penalty)
    """
    return {
        "encoder": kl_weight * terms["kl"] + terms["llike"],
        "decoder": gamma * terms["llike"] + terms["g_loss"],
        "discriminator": terms["d_loss"],
    }
