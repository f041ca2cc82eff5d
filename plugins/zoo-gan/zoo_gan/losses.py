"""GAN losses, written with ``keras.ops`` so they run on every backend.

The ``"gan"`` loss interface, which any plugin's loss may implement:

- ``discriminator(real_logits, fake_logits) -> scalar``: what the
  discriminator (critic) minimises, from its raw outputs on a real and a
  fake batch, each shaped ``(batch, 1)``.
- ``generator(fake_logits) -> scalar``: what the generator minimises.
- ``readout(logits)`` (optional): what ``d_real``/``d_fake`` report, e.g. the
  probability ``sigmoid(logits)``; the raw score when absent.
- ``gradient_penalty`` (optional float, 0 when absent): weight of the
  gradient penalty the model adds to the discriminator loss (WGAN-GP).
  The loss cannot compute it (it sees only logits): every model that declares
  the ``"gan"`` interface must add it itself, which
  :func:`with_gradient_penalty` does in one line.

Every loss here returns float32 batch means.
"""

from __future__ import annotations

import keras
from keras import ops


def _f32(x):
    return ops.cast(x, "float32")


# === The gradient penalty, which the model adds ===


def gradient_penalty(critic, real, fake, epsilon, input_gradient=None):
    """Gulrajani et al. (2017): E[(||grad_x critic(x_hat)||_2 - 1)^2] with
    x_hat = epsilon * real + (1 - epsilon) * fake, one epsilon per example.

    Args:
        critic: inputs -> scores, shaped ``(batch, 1)``.
        real, fake: batches of the same shape.
        epsilon: mixing weights, broadcastable to the batches (``(batch, 1, 1, 1)``).
        input_gradient: ``(fn, x) -> d sum(fn(x)) / dx``, differentiable again
            so the penalty trains (default: :func:`zoo_core.multinet.input_gradient`).
    """
    if input_gradient is None:
        from zoo_core.multinet import input_gradient
    mixed = epsilon * real + (1.0 - epsilon) * fake
    grads = input_gradient(lambda x: ops.sum(_f32(critic(x))), mixed)
    axes = tuple(range(1, len(mixed.shape)))
    # The epsilon keeps the square root differentiable at a zero gradient.
    norms = ops.sqrt(ops.sum(ops.square(_f32(grads)), axis=axes) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


def penalty_weight(loss) -> float:
    """The weight of the gradient penalty a ``"gan"`` loss asks for (0: none)."""
    return float(getattr(loss, "gradient_penalty", 0.0) or 0.0)


def with_gradient_penalty(loss, d_loss, critic, real, fake, seed=None):
    """``d_loss`` plus the gradient penalty ``loss`` asks for, as every model
    declaring the ``"gan"`` loss interface must add it (the loss sees only logits).

    Call it in the discriminator's phase, after ``loss.discriminator(...)``::

        d_loss = self.loss_fn.discriminator(real_logits, fake_logits)
        d_loss, gp = with_gradient_penalty(self.loss_fn, d_loss, critic, real, fake, self.seed_generator)

    Args:
        loss: the run's ``"gan"`` loss object (its ``gradient_penalty`` is the weight).
        d_loss: the discriminator's loss so far.
        critic: inputs -> scores ``(batch, 1)``, as the penalty should see it
            (e.g. without augmentation or dropout: ``training=False``).
        real, fake: the batches the discriminator saw; no gradient flows
            through ``fake`` to the network that made it.
        seed: the model's ``keras.random.SeedGenerator`` (for the mixing weights),
            so a run and its resume draw the same ones.

    Returns:
        ``(d_loss + weight * penalty, penalty)``, or ``(d_loss, None)`` when
        the loss asks for no penalty.
    """
    weight = penalty_weight(loss)
    if not weight:
        return d_loss, None
    shape = (ops.shape(real)[0],) + (1,) * (len(real.shape) - 1)
    epsilon = keras.random.uniform(shape, seed=seed)
    gp = gradient_penalty(critic, real, ops.stop_gradient(fake), epsilon)
    return d_loss + weight * gp, gp


class GANLoss:
    """Base class: no gradient penalty, raw scores as the readout."""

    gradient_penalty = 0.0

    def discriminator(self, real_logits, fake_logits):
        raise NotImplementedError

    def generator(self, fake_logits):
        raise NotImplementedError

    def readout(self, logits):
        return _f32(logits)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Minimax(GANLoss):
    """Goodfellow et al. (2014), eq. 1, with D = sigmoid(logits).

    D minimises -log D(x) - log(1 - D(G(z))); G minimises log(1 - D(G(z))),
    which saturates when D rejects the fakes confidently.
    """

    def discriminator(self, real_logits, fake_logits):
        # -log sigmoid(r) = softplus(-r);  -log(1 - sigmoid(f)) = softplus(f)
        return ops.mean(ops.softplus(-_f32(real_logits))) + ops.mean(ops.softplus(_f32(fake_logits)))

    def generator(self, fake_logits):
        return -ops.mean(ops.softplus(_f32(fake_logits)))

    def readout(self, logits):
        return ops.sigmoid(_f32(logits))


class NonSaturating(Minimax):
    """The minimax discriminator; the generator minimises -log D(G(z))
    (Goodfellow et al. 2014, sec. 3), which has strong gradients early on."""

    def generator(self, fake_logits):
        return ops.mean(ops.softplus(-_f32(fake_logits)))


class Wasserstein(GANLoss):
    """The WGAN critic loss (Arjovsky et al. 2017) with the gradient penalty
    of Gulrajani et al. (2017): the critic minimises E[D(G(z))] - E[D(x)]
    (+ ``gradient_penalty`` * penalty, added by the model), the generator
    -E[D(G(z))]."""

    def __init__(self, gradient_penalty: float = 10.0):
        if not gradient_penalty > 0:
            raise ValueError(f"gradient_penalty must be > 0, got {gradient_penalty}")
        self.gradient_penalty = float(gradient_penalty)

    def discriminator(self, real_logits, fake_logits):
        return ops.mean(_f32(fake_logits)) - ops.mean(_f32(real_logits))

    def generator(self, fake_logits):
        return -ops.mean(_f32(fake_logits))

    def __repr__(self):
        return f"Wasserstein(gradient_penalty={self.gradient_penalty})"


class Hinge(GANLoss):
    """The hinge loss (Lim & Ye 2017; Miyato et al. 2018):
    D minimises E[relu(1 - D(x))] + E[relu(1 + D(G(z)))], G minimises -E[D(G(z))]."""

    def discriminator(self, real_logits, fake_logits):
        return ops.mean(ops.relu(1.0 - _f32(real_logits))) + ops.mean(ops.relu(1.0 + _f32(fake_logits)))

    def generator(self, fake_logits):
        return -ops.mean(_f32(fake_logits))


class LeastSquares(GANLoss):
    """LSGAN (Mao et al. 2017) with targets a = 0 (fake), b = 1 (real), c = 1:
    D minimises (E[(D(x) - 1)^2] + E[D(G(z))^2]) / 2, G minimises E[(D(G(z)) - 1)^2] / 2."""

    def discriminator(self, real_logits, fake_logits):
        return 0.5 * (ops.mean(ops.square(_f32(real_logits) - 1.0)) + ops.mean(ops.square(_f32(fake_logits))))

    def generator(self, fake_logits):
        return 0.5 * ops.mean(ops.square(_f32(fake_logits) - 1.0))
