"""α-GAN's config, spec and presets (Rosca et al. 2017). No Keras here:
specs must be cheap; :mod:`zoo_hybrids.alpha_gan.model` holds the Keras code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from zoo_core.specs import ModelSpec

from .. import checks

# === Config ===


@dataclass(frozen=True)
class AlphaGANConfig:
    """Rosca et al. (2017), "Variational Approaches for Auto-Encoding
    Generative Adversarial Networks" (α-GAN), sized for 28x28 and 32x32 images.

    Attributes:
        latent_dim: size of z; the prior is N(0, I).
        encoder_filters: one stride-2 conv (leaky ReLU) per entry, then a dense
            layer and a linear head: a deterministic code z = E(x).
        encoder_units: the encoder's dense layer.
        generator_filters: z is projected to a map of ``generator_filters[0]``
            channels (batch norm, ReLU); each further entry is one stride-2
            transposed conv, and a last one outputs the image (tanh). Images
            must be divisible by 2 ** len(generator_filters).
        kernel_size: conv kernel size.
        discriminator_filters: the image discriminator: one stride-2 conv
            (leaky ReLU, no normalisation) per entry, then a dense layer.
        discriminator_units: the image discriminator's dense layer.
        code_discriminator_units: the code discriminator's hidden layers (leaky ReLU).
        reconstruction_weight: λ, the weight of the reconstruction term
            λ · mean |x - G(E(x))| (pixels in [0, 1]) in the encoder's and the
            generator's losses.
        encoder_learning_rate: the encoder's learning rate (default: ``train.learning_rate``).
        generator_learning_rate: the generator's (default: ``train.learning_rate``).
        discriminator_learning_rate: the image discriminator's (default: ``train.learning_rate``).
        code_discriminator_learning_rate: the code discriminator's (default: ``train.learning_rate``).
    """

    latent_dim: int = 32
    encoder_filters: tuple[int, ...] = (32, 64)
    encoder_units: int = 256
    generator_filters: tuple[int, ...] = (64, 32)
    kernel_size: int = 4
    discriminator_filters: tuple[int, ...] = (32, 64)
    discriminator_units: int = 256
    code_discriminator_units: tuple[int, ...] = (256, 256)
    reconstruction_weight: float = 10.0
    encoder_learning_rate: Optional[float] = None
    generator_learning_rate: Optional[float] = None
    discriminator_learning_rate: Optional[float] = None
    code_discriminator_learning_rate: Optional[float] = None

    def __post_init__(self) -> None:
        checks.at_least_one(self, "latent_dim", "encoder_units", "kernel_size", "discriminator_units")
        checks.positive_lists(self, "encoder_filters", "generator_filters", "discriminator_filters",
                              "code_discriminator_units")
        checks.non_negative(self, "reconstruction_weight")
        checks.learning_rates(self, "encoder", "generator", "discriminator", "code_discriminator")


# === Builder (imports Keras only when called) ===


def _build(config, data, loss):
    from . import model

    return model.build(config, data, loss)


MODEL = ModelSpec(
    name="alpha-gan",
    description="Rosca et al. (2017) α-GAN: autoencoder + image discriminator + code discriminator, L1 reconstruction",
    config=AlphaGANConfig,
    build=_build,
    loss_interface=checks.INTERFACE,
    default_loss="non-saturating",
)

# === Presets ===

# DCGAN's optimiser for all four networks; λ = 10 on the mean absolute pixel
# error. Not yet tuned on the real data sets. 4 epochs: about 290 images/s on
# TensorFlow on 2 CPU cores (five discriminator and four generator passes a
# step) keeps a preset near 14 minutes.
_MODEL = {"latent_dim": 32, "encoder_filters": [32, 64], "generator_filters": [64, 32],
          "discriminator_filters": [32, 64], "code_discriminator_units": [256, 256], "reconstruction_weight": 10.0}
_TRAIN = {"batch_size": 100, "optimizer": "adam", "learning_rate": 2e-4, "beta_1": 0.5, "beta_2": 0.999, "seed": 0}

PRESETS = checks.mnist_presets(
    "alpha-gan", "Rosca et al. (2017) α-GAN (image and code discriminators, L1 reconstruction)",
    _MODEL, {**_TRAIN, "epochs": 4},
)
