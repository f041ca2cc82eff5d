"""The adversarial autoencoder's config, spec and presets (Makhzani et al.
2015). No Keras here: specs must be cheap; :mod:`zoo_hybrids.aae.model`
holds the Keras code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from zoo_core.specs import ModelSpec

from .. import checks

# === Config ===


@dataclass(frozen=True)
class AAEConfig:
    """Makhzani et al. (2015), "Adversarial Autoencoders", sized for 28x28 and 32x32 images.

    Attributes:
        latent_dim: size of the code z; the prior is N(0, I) (the paper's MNIST
            models use 2 to 8 dimensions; its other priors, a mixture of
            Gaussians and a swiss roll, are not offered). The ``aae`` presets
            use 64: at 8, Fashion-MNIST's sandals and shirts were lost
            already in the reconstructions.
        encoder_filters: one stride-2 conv (leaky ReLU) per entry, then a dense
            layer and a linear head: the code z = E(x), deterministic (the
            paper's choice for its experiments).
        encoder_units: the encoder's dense layer.
        decoder_filters: z is projected to a map of ``decoder_filters[0]``
            channels (batch norm, ReLU); each further entry is one stride-2
            transposed conv, and a last one outputs the image (sigmoid).
            Images must be divisible by 2 ** len(decoder_filters).
        kernel_size: conv kernel size.
        discriminator_units: the latent discriminator's hidden layers (leaky
            ReLU); the paper's has two of 1,000 units.
        reconstruction: the reconstruction error, summed over pixels:
            ``bce`` (binary cross-entropy, pixels as Bernoulli means) or
            ``mse`` (squared error).
        encoder_learning_rate: the encoder's learning rate in the
            reconstruction phase (default: ``train.learning_rate``).
        decoder_learning_rate: the decoder's (default: ``train.learning_rate``).
        discriminator_learning_rate: the latent discriminator's
            (default: ``train.learning_rate``).
        generator_learning_rate: the encoder's learning rate when it is the
            adversarial network's generator (its own optimizer; default:
            ``train.learning_rate``).
    """

    latent_dim: int = 8
    encoder_filters: tuple[int, ...] = (32, 64)
    encoder_units: int = 256
    decoder_filters: tuple[int, ...] = (64, 32)
    kernel_size: int = 4
    discriminator_units: tuple[int, ...] = (256, 256)
    reconstruction: Literal["bce", "mse"] = "bce"
    encoder_learning_rate: Optional[float] = None
    decoder_learning_rate: Optional[float] = None
    discriminator_learning_rate: Optional[float] = None
    generator_learning_rate: Optional[float] = None

    def __post_init__(self) -> None:
        checks.at_least_one(self, "latent_dim", "encoder_units", "kernel_size")
        checks.positive_lists(self, "encoder_filters", "decoder_filters", "discriminator_units")
        checks.learning_rates(self, "encoder", "decoder", "discriminator", "generator")


@dataclass(frozen=True)
class LabelledAAEConfig(AAEConfig):
    """The adversarial autoencoder with label information in its prior
    (Makhzani et al. 2015, section 2.3): one Gaussian component per class,
    and a discriminator that sees each code beside its class. Needs a
    labelled data set.

    Attributes:
        mixture_radius: each component's mean is this far from the origin
            (along its own axis when ``latent_dim`` >= the number of classes,
            else on a circle in the first two axes).
        mixture_std: each component's standard deviation, per axis.
    """

    latent_dim: int = 10
    mixture_radius: float = 3.0
    mixture_std: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("mixture_radius", "mixture_std"):
            if not getattr(self, name) > 0:
                raise ValueError(f"'{name}' must be positive, got {getattr(self, name)}")


# === Builders (import Keras only when called) ===


def _build(config, data, loss):
    from . import model

    return model.build(config, data, loss)


def _build_labelled(config, data, loss):
    from . import model

    return model.build_labelled(config, data, loss)


MODEL = ModelSpec(
    name="aae",
    description="Makhzani et al. (2015) adversarial autoencoder: a latent discriminator makes codes look N(0, I)",
    config=AAEConfig,
    build=_build,
    loss_interface=checks.INTERFACE,
    default_loss="non-saturating",
)

LABELLED_MODEL = ModelSpec(
    name="labelled-aae",
    description="Makhzani et al. (2015) adversarial autoencoder with one prior component per class (sec. 2.3)",
    config=LabelledAAEConfig,
    build=_build_labelled,
    loss_interface=checks.INTERFACE,
    default_loss="non-saturating",
    needs_labels=True,
)
MODELS = [MODEL, LABELLED_MODEL]

# === Presets ===

# Reconstruction at Adam 1e-3, the latent discriminator at DCGAN's 2e-4 (beta_1
# 0.5 for all); the paper trains with SGD and momentum. The unlabelled AAE's
# encoder, as the adversarial pair's generator, steps at 5e-4, and its code has
# 64 dimensions (the hybrids' README has the sweep). With the generator at 2e-4
# the reconstruction steps pulled the codes away five times faster than the
# adversarial ones pulled them back: the discriminator won outright from epoch
# 6 (0.99 against 0.01) and prior draws decoded to blobs (FD 132 on
# Fashion-MNIST). At 1e-3 it stays at 0.50/0.50 (FD 33.3), but the adversarial
# steps cost the 8-D codes their detail: they reconstructed sandals and shirts
# as other garments, and the samples had them at 1.3%. 64-D at 5e-4 for 12
# epochs reconstructs at MSE 0.0086 (8-D at 1e-3: 0.027) and samples at FD 19.3
# with every class at 4.2% or more; longer runs let the discriminator creep
# ahead (16-D: FD 23.6 after 20 epochs, 34.3 after 40).
# The labelled AAE trains well at 2e-4 (its discriminator also sees the class).
_MODEL = {"latent_dim": 8, "encoder_filters": [32, 64], "decoder_filters": [64, 32], "encoder_units": 256,
          "discriminator_units": [512, 512], "discriminator_learning_rate": 2e-4, "generator_learning_rate": 2e-4}
_TRAIN = {"batch_size": 100, "optimizer": "adam", "learning_rate": 1e-3, "beta_1": 0.5, "beta_2": 0.999, "seed": 0}

PRESETS = checks.mnist_presets(
    "aae", "Makhzani et al. (2015) adversarial autoencoder (64-D code, N(0, I) prior)",
    {**_MODEL, "latent_dim": 64, "generator_learning_rate": 5e-4}, {**_TRAIN, "epochs": 12},
) + checks.mnist_presets(
    "labelled-aae", "Makhzani et al. (2015) adversarial autoencoder, one 10-D prior component per class",
    {**_MODEL, "latent_dim": 10}, {**_TRAIN, "epochs": 20},
)
