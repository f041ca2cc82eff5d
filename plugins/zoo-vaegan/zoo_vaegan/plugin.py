"""Registers the VAE-GAN with zoo. No Keras here: specs must be cheap.

The model registers no loss of its own: its adversarial term is any loss of
the ``"gan"`` interface, looked up by name like a GAN's (zoo-gan provides
``non-saturating``, the default, and the others). That is the point of this
plugin: plugins compose through the registry, not through imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from zoo_core.hookspecs import hookimpl
from zoo_core.specs import ModelSpec

#: The loss interface the adversarial term uses (defined by zoo-gan's losses:
#: ``discriminator(real_logits, fake_logits)``, ``generator(fake_logits)``).
INTERFACE = "gan"

# === Config ===


@dataclass(frozen=True)
class VAEGANConfig:
    """Larsen et al. (2016), sized for 28x28 and 32x32 images.

    Attributes:
        latent_dim: size of z.
        encoder_filters: one stride-2 conv (batch norm, ReLU) per entry, then a
            dense layer and the heads for the posterior's mean and log-variance.
        encoder_units: the encoder's dense layer.
        decoder_filters: z is projected to a feature map of ``decoder_filters[0]``
            channels (batch norm, ReLU); each further entry is one stride-2
            transposed conv (batch norm, ReLU), and a last one outputs the image
            (tanh). Images must be divisible by 2 ** len(decoder_filters): 28
            starts at 7x7, 32 at 8x8.
        discriminator_filters: one stride-2 conv (leaky ReLU) per entry, then a
            dense layer and the score. (The paper's first conv has stride 1;
            stride 2 throughout keeps the three discriminator passes per step
            cheap on a CPU.)
        discriminator_units: the dense layer between the convs and the score.
        kernel_size: conv kernel size (the paper's is 5).
        discriminator_norm: normalisation after each discriminator conv but the
            first: ``layer`` (the default), ``none``, or ``batch`` (the paper's;
            its feature space then depends on which images share the batch, and
            it cannot take a gradient penalty). Layer norm keeps the feature
            space at unit scale: with ``none`` the features shrank until the
            feature reconstruction term was worth a few nats, and the encoder
            stopped encoding (KL 0.7 nats over 32 dimensions, reconstructions
            that ignored their input) on Fashion-MNIST.
        feature_layer: the discriminator conv whose output is the feature space
            Dis_l of the reconstruction term: 1 is the first, negative counts
            from the last (-1, the deepest).
        gamma: weight of the feature reconstruction term in the decoder's loss,
            gamma * L_llike - L_GAN; it sets how much the decoder listens to the
            reconstruction against the discriminator.
        reconstructions_as_fakes: the discriminator sees reconstructions
            Dec(Enc(x)) as fakes, besides the prior samples Dec(z_p).
        pixel_weight: weight of a pixel-space term 0.5 * ||x - x~||^2 (pixels in
            [0, 1]) added to L_llike; 0 measures reconstructions in feature space only.
        kl_weight: weight of L_prior = KL(q(z|x) || N(0, I)) in the encoder's loss.
        encoder_learning_rate: the encoder's own learning rate (default: ``train.learning_rate``).
        decoder_learning_rate: the decoder's own learning rate (default: ``train.learning_rate``).
        discriminator_learning_rate: the discriminator's own learning rate
            (default: ``train.learning_rate``).
        prior: what samples are decoded from: ``standard``, N(0, I) as in the
            paper (training always uses it: the KL term and the fakes), or
            ``mixture``, a full-covariance Gaussian mixture fitted by EM to the
            codes of up to 20,000 training images after every epoch
            (ex-post density estimation, Ghosh et al. 2020). N(0, I) draws fall
            where no code ever was: zoo eval FD 27.8 on Fashion-MNIST, against
            3.4 for the mixture with the same networks (the
            vaegan-fashion-mnist preset's default).
        prior_components: the mixture's components (Ghosh et al. use 10).
    """

    latent_dim: int = 32
    encoder_filters: tuple[int, ...] = (32, 64)
    encoder_units: int = 256
    decoder_filters: tuple[int, ...] = (64, 32)
    discriminator_filters: tuple[int, ...] = (32, 64, 128)
    discriminator_units: int = 256
    kernel_size: int = 5
    discriminator_norm: Literal["none", "layer", "batch"] = "layer"
    feature_layer: int = -1
    gamma: float = 1e-2
    reconstructions_as_fakes: bool = True
    pixel_weight: float = 0.0
    kl_weight: float = 1.0
    encoder_learning_rate: Optional[float] = None
    decoder_learning_rate: Optional[float] = None
    discriminator_learning_rate: Optional[float] = None
    prior: Literal["standard", "mixture"] = "standard"
    prior_components: int = 10

    def __post_init__(self) -> None:
        for name in ("latent_dim", "encoder_units", "discriminator_units", "kernel_size", "prior_components"):
            if getattr(self, name) < 1:
                raise ValueError(f"'{name}' must be at least 1, got {getattr(self, name)}")
        for name in ("encoder_filters", "decoder_filters", "discriminator_filters"):
            filters = getattr(self, name)
            if not filters or min(filters) < 1:
                raise ValueError(f"'{name}' must be a non-empty list of positive integers")
        layers = len(self.discriminator_filters)
        if not (1 <= self.feature_layer <= layers or -layers <= self.feature_layer <= -1):
            raise ValueError(
                f"'feature_layer' must name one of the {layers} discriminator convs: "
                f"1..{layers}, or -1..-{layers} counting from the last; got {self.feature_layer}"
            )
        for name in ("gamma", "pixel_weight", "kl_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"'{name}' must be >= 0, got {getattr(self, name)}")
        for name in ("encoder_learning_rate", "decoder_learning_rate", "discriminator_learning_rate"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"'{name}' must be positive, got {value}")


# === Builder (imports Keras only when called) ===


def _build(config, data, loss):
    from . import models

    return models.build(models.VAEGAN, config, data, loss)


# === Hooks ===


@hookimpl
def zoo_models():
    return [
        ModelSpec(
            name="vae-gan",
            description="Larsen et al. (2016) VAE-GAN: VAE reconstructions measured in a discriminator's features",
            config=VAEGANConfig,
            build=_build,
            loss_interface=INTERFACE,
            default_loss="non-saturating",
        )
    ]
