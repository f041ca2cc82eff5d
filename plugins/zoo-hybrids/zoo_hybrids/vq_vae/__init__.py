"""VQ-VAE's config, its loss, spec and presets (van den Oord et al. 2017).
No Keras here: specs must be cheap; :mod:`zoo_hybrids.vq_vae.model` holds the
Keras code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from zoo_core.specs import LossSpec, ModelSpec

from .. import checks

#: The loss interface VQ-VAE consumes: its own objective.
INTERFACE = "vq"

# === Config ===


@dataclass(frozen=True)
class VQVAEConfig:
    """van den Oord et al. (2017), "Neural Discrete Representation Learning",
    sized for 28x28 and 32x32 images, with a PixelCNN prior over its codes
    (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
    Decoders": its plain masked stack, or its gated one without conditioning).

    Attributes:
        num_codes: codebook size K.
        code_dim: each code vector's size D.
        encoder_filters: one stride-2 conv (ReLU) per entry, then a 3x3 conv
            and a 1x1 conv to ``code_dim`` channels: a grid of 1/2**len size.
        decoder_filters: a 3x3 conv, then one stride-2 transposed conv (ReLU)
            per entry but the last, and one that outputs the image (sigmoid).
            Must have as many entries as ``encoder_filters``.
        kernel_size: the strided convs' kernel size.
        codebook: ``ema``: codes are moving averages of the encoder outputs
            assigned to them (the paper's appendix); ``loss``: codes learn
            from the codebook loss ||sg(z_e) - e||^2 (the paper's eq. 3).
        decay: the EMA's decay (``codebook = "ema"``).
        pixelcnn: the prior's network: ``gated``, Gated PixelCNN's vertical
            and horizontal stacks with gated units (no blind spot: each
            position sees every earlier one), or ``plain``, masked
            convolutions as in the first PixelCNN (blind to the positions up
            and to the right). ``plain`` is the default so that runs and
            exports made before ``gated`` existed (their config.toml names no
            ``pixelcnn``) resume and load as they were built. With the same
            3 epochs on the published vq-vae-fashion-mnist codes, gated
            samples at FD 7.4 against plain's 12.3 (plugins/zoo-hybrids/README.md).
        prior_filters: the PixelCNN's channels.
        prior_layers: 3x3 residual layers after its 5x5 one.
        prior_learning_rate: the prior's learning rate (default: ``train.learning_rate``).
        encoder_learning_rate, decoder_learning_rate, codebook_learning_rate:
            the others' (default: ``train.learning_rate``).
    """

    num_codes: int = 64
    code_dim: int = 16
    encoder_filters: tuple[int, ...] = (32, 64)
    decoder_filters: tuple[int, ...] = (64, 32)
    kernel_size: int = 4
    codebook: Literal["ema", "loss"] = "ema"
    decay: float = 0.99
    pixelcnn: Literal["gated", "plain"] = "plain"
    prior_filters: int = 64
    prior_layers: int = 5
    encoder_learning_rate: Optional[float] = None
    decoder_learning_rate: Optional[float] = None
    codebook_learning_rate: Optional[float] = None
    prior_learning_rate: Optional[float] = None

    def __post_init__(self) -> None:
        checks.at_least_one(self, "code_dim", "kernel_size", "prior_filters", "prior_layers")
        if self.num_codes < 2:
            raise ValueError(f"'num_codes' must be at least 2, got {self.num_codes}")
        checks.positive_lists(self, "encoder_filters", "decoder_filters")
        if len(self.encoder_filters) != len(self.decoder_filters):
            raise ValueError(f"'encoder_filters' and 'decoder_filters' must have as many entries (one stride-2 "
                             f"layer each), got {len(self.encoder_filters)} and {len(self.decoder_filters)}")
        if not 0.0 < self.decay < 1.0:
            raise ValueError(f"'decay' must be in (0, 1), got {self.decay}")
        checks.learning_rates(self, "encoder", "decoder", "codebook", "prior")


@dataclass(frozen=True)
class VQConfig:
    """The VQ-VAE objective (the paper's eq. 3).

    Attributes:
        commitment: beta, the weight of ||z_e - sg(e)||^2 (the paper: 0.25).
    """

    commitment: float = 0.25

    def __post_init__(self) -> None:
        checks.non_negative(self, "commitment")


# === Builders (import Keras only when called) ===


def _build(config, data, loss):
    from . import model

    return model.build(config, data, loss)


def _build_loss(config):
    from .loss import VQLoss

    return VQLoss(config.commitment)


MODEL = ModelSpec(
    name="vq-vae",
    description="van den Oord et al. (2017) VQ-VAE: a discrete codebook, sampled from a learnt PixelCNN prior",
    config=VQVAEConfig,
    build=_build,
    loss_interface=INTERFACE,
    default_loss="vq",
)

LOSSES = [
    LossSpec(
        name="vq",
        description="VQ-VAE's objective: reconstruction + codebook + beta * commitment; the prior's cross-entropy",
        config=VQConfig,
        build=_build_loss,
        interface=INTERFACE,
    )
]

# === Presets ===

# Adam 1e-3 for the autoencoder and the prior (the paper's 2e-4 is for
# ImageNet-sized models), K = 64 codes of 16 on a 7x7 grid, EMA codebook, and
# the gated PixelCNN: the plain one's blind spot cost the samples a class
# (shirts at 2.2% on Fashion-MNIST, 4.9% in the reconstructions).
_MODEL = {"num_codes": 64, "code_dim": 16, "encoder_filters": [32, 64], "decoder_filters": [64, 32],
          "codebook": "ema", "pixelcnn": "gated", "prior_filters": 64, "prior_layers": 5}
_TRAIN = {"batch_size": 128, "optimizer": "adam", "learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "seed": 0}

PRESETS = checks.mnist_presets(
    "vq-vae", "van den Oord et al. (2017) VQ-VAE (64 codes on a 7x7 grid, gated PixelCNN prior)",
    _MODEL, {**_TRAIN, "epochs": 10}, loss="vq",
)
