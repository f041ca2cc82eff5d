"""BiGAN / ALI's config, spec and presets (Donahue et al. 2017; Dumoulin et
al. 2017). No Keras here: specs must be cheap; :mod:`zoo_hybrids.bigan.model`
holds the Keras code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from zoo_core.specs import ModelSpec

from .. import checks

# === Config ===


@dataclass(frozen=True)
class BiGANConfig:
    """Donahue et al. (2017), "Adversarial Feature Learning" (BiGAN), and
    Dumoulin et al. (2017), "Adversarially Learned Inference" (ALI), sized
    for 28x28 and 32x32 images.

    Attributes:
        latent_dim: size of z; the prior is N(0, I) (ALI's; BiGAN's MNIST
            model draws z uniformly).
        encoder: ``deterministic`` (BiGAN: z = E(x)) or ``gaussian`` (ALI:
            z = mu(x) + sigma(x) * eps, reparameterised).
        encoder_filters: one stride-2 conv (leaky ReLU) per entry, then a dense
            layer and the code's head(s).
        encoder_units: the encoder's dense layer.
        generator_filters: z is projected to a map of ``generator_filters[0]``
            channels (batch norm, ReLU); each further entry is one stride-2
            transposed conv, and a last one outputs the image (tanh). Images
            must be divisible by 2 ** len(generator_filters).
        kernel_size: conv kernel size.
        discriminator_filters: the joint discriminator's image path: one
            stride-2 conv (leaky ReLU) per entry, no normalisation (each pair
            is judged on its own, and a gradient penalty stays defined).
        discriminator_units: the z path's dense layer and the joint dense
            layer on both paths' features (leaky ReLU).
        dropout: dropout rate after the joint dense layer (ALI uses 0.2).
        encoder_learning_rate: the encoder's learning rate (default: ``train.learning_rate``).
        generator_learning_rate: the generator's (default: ``train.learning_rate``).
        discriminator_learning_rate: the discriminator's (default: ``train.learning_rate``).
    """

    latent_dim: int = 32
    encoder: Literal["deterministic", "gaussian"] = "deterministic"
    encoder_filters: tuple[int, ...] = (32, 64)
    encoder_units: int = 256
    generator_filters: tuple[int, ...] = (64, 32)
    kernel_size: int = 4
    discriminator_filters: tuple[int, ...] = (32, 64)
    discriminator_units: int = 256
    dropout: float = 0.2
    encoder_learning_rate: Optional[float] = None
    generator_learning_rate: Optional[float] = None
    discriminator_learning_rate: Optional[float] = None

    def __post_init__(self) -> None:
        checks.at_least_one(self, "latent_dim", "encoder_units", "kernel_size", "discriminator_units")
        checks.positive_lists(self, "encoder_filters", "generator_filters", "discriminator_filters")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"'dropout' must be in [0, 1), got {self.dropout}")
        checks.learning_rates(self, "encoder", "generator", "discriminator")


# === Builder (imports Keras only when called) ===


def _build(config, data, loss):
    from . import model

    return model.build(config, data, loss)


MODEL = ModelSpec(
    name="bigan",
    description="BiGAN/ALI (Donahue et al. 2017; Dumoulin et al. 2017): encoder and generator against a joint D(x, z)",
    config=BiGANConfig,
    build=_build,
    loss_interface=checks.INTERFACE,
    default_loss="non-saturating",
)

# === Presets ===

# DCGAN's optimiser (Adam 2e-4, beta_1 0.5) for all three networks; not yet
# tuned on the real data sets.
_MODEL = {"latent_dim": 32, "encoder": "deterministic", "encoder_filters": [32, 64], "generator_filters": [64, 32],
          "discriminator_filters": [32, 64], "discriminator_units": 256, "dropout": 0.2}
_TRAIN = {"batch_size": 100, "optimizer": "adam", "learning_rate": 2e-4, "beta_1": 0.5, "beta_2": 0.999, "seed": 0}

PRESETS = checks.mnist_presets(
    "bigan", "BiGAN (Donahue et al. 2017: encoder, generator and a joint discriminator D(x, z))",
    _MODEL, {**_TRAIN, "epochs": 7},
)
