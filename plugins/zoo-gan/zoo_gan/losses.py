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

Every loss here returns float32 batch means.
"""

from __future__ import annotations

from keras import ops


def _f32(x):
    return ops.cast(x, "float32")


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
