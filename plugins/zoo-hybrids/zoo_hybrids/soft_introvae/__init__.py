"""Soft-IntroVAE's config, its loss, spec and presets (Daniel & Tamar 2021).
No Keras here: specs must be cheap; :mod:`zoo_hybrids.soft_introvae.model`
holds the Keras code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from zoo_core.specs import LossSpec, ModelSpec

from .. import checks

#: The loss interface Soft-IntroVAE consumes: its own objective (no GAN loss).
INTERFACE = "soft-intro"

# === Config ===


@dataclass(frozen=True)
class SoftIntroVAEConfig:
    """Daniel & Tamar (2021), "Soft-IntroVAE: Analyzing and Improving the
    Introspective Variational Autoencoder", sized for 28x28 and 32x32 images.

    Attributes:
        latent_dim: size of z; the prior is N(0, I).
        encoder_filters: one stride-2 conv (leaky ReLU) per entry, then a
            dense layer and two linear heads: q(z|x)'s mean and log-variance.
        encoder_units: the encoder's dense layer.
        decoder_filters: z is projected to a map of ``decoder_filters[0]``
            channels (batch norm, ReLU); each further entry is one stride-2
            transposed conv, and a last one outputs the image (sigmoid).
            Images must be divisible by 2 ** len(decoder_filters).
        kernel_size: conv kernel size.
        encoder_learning_rate: the encoder's (default: ``train.learning_rate``).
        decoder_learning_rate: the decoder's (default: ``train.learning_rate``).
    """

    latent_dim: int = 32
    encoder_filters: tuple[int, ...] = (32, 64)
    encoder_units: int = 256
    decoder_filters: tuple[int, ...] = (64, 32)
    kernel_size: int = 4
    encoder_learning_rate: Optional[float] = None
    decoder_learning_rate: Optional[float] = None

    def __post_init__(self) -> None:
        checks.at_least_one(self, "latent_dim", "encoder_units", "kernel_size")
        checks.positive_lists(self, "encoder_filters", "decoder_filters")
        checks.learning_rates(self, "encoder", "decoder")


@dataclass(frozen=True)
class SoftIntroConfig:
    """The soft-introspective objective's weights (the paper's eq. 7 and
    Algorithm 1; its symbols in brackets).

    Attributes:
        beta_rec: weight of the reconstruction error (beta_rec).
        beta_kl: weight of the real images' KL term (beta_kl).
        beta_neg: weight of the generated images' KL inside the encoder's
            exponential term (beta_neg); the larger, the harder the encoder
            pushes generated images away from the prior.
        gamma_r: weight of the generated images' reconstruction in the
            decoder's loss (gamma_r; the authors use 1e-8).
    """

    beta_rec: float = 1.0
    beta_kl: float = 1.0
    beta_neg: float = 256.0
    gamma_r: float = 1e-8

    def __post_init__(self) -> None:
        for name in ("beta_rec", "beta_kl", "beta_neg"):
            if not getattr(self, name) > 0:
                raise ValueError(f"'{name}' must be positive, got {getattr(self, name)}")
        checks.non_negative(self, "gamma_r")


# === Builders (import Keras only when called) ===


def _build(config, data, loss):
    from . import model

    return model.build(config, data, loss)


def _build_loss(config):
    from .loss import SoftIntroLoss

    return SoftIntroLoss(config.beta_rec, config.beta_kl, config.beta_neg, config.gamma_r)


MODEL = ModelSpec(
    name="soft-introvae",
    description="Daniel & Tamar (2021) Soft-IntroVAE: the encoder is the adversary, through the ELBO of real and generated images",
    config=SoftIntroVAEConfig,
    build=_build,
    loss_interface=INTERFACE,
    default_loss="soft-intro",
)

LOSSES = [
    LossSpec(
        name="soft-intro",
        description="Soft-IntroVAE's objective: ELBO of real images, soft exponential ELBO of generated ones",
        config=SoftIntroConfig,
        build=_build_loss,
        interface=INTERFACE,
    )
]

# === Presets ===

# The authors' (Fashion-)MNIST settings: beta_rec 1, beta_kl 1, beta_neg 256,
# a 32-D code, batch 128; they train for 100 epochs at Adam 2e-4 on a GPU.
# These presets get 8 epochs, what fits about 15 minutes of a 2-core CPU, so
# they step at 5e-4: at 2e-4, 8 epochs gave FD 45.3 and 2.0% for the rarest
# class on Fashion-MNIST; at 5e-4, FD 31.4 and 4.9%.
_MODEL = {"latent_dim": 32, "encoder_filters": [32, 64], "decoder_filters": [64, 32], "encoder_units": 256}
_TRAIN = {"batch_size": 128, "optimizer": "adam", "learning_rate": 5e-4, "beta_1": 0.9, "beta_2": 0.999, "seed": 0}

PRESETS = checks.mnist_presets(
    "soft-introvae", "Daniel & Tamar (2021) Soft-IntroVAE (32-D code, beta_neg 256)",
    _MODEL, {**_TRAIN, "epochs": 8}, loss="soft-intro",
)
