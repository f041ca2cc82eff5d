"""Registers the VAE family with zoo. No Keras here: specs must be cheap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from zoo_core.hookspecs import hookimpl
from zoo_core.specs import LossSpec, ModelSpec

#: The loss interface VAE models consume: ``loss(x, outputs) -> {"loss", ...}``.
INTERFACE = "vae"

# === Config ===


@dataclass(frozen=True)
class ConvVAEConfig:
    """The keras-io convolutional VAE.

    Attributes:
        latent_dim: size of z.
        filters: filters of the stride-2 conv layers (the decoder mirrors them).
        dense_units: the dense layer between the convs and z.
        kernel_size: conv kernel size.
    """

    latent_dim: int = 2
    filters: tuple[int, ...] = (32, 64)
    dense_units: int = 16
    kernel_size: int = 3

    def __post_init__(self) -> None:
        _check_positive(self, "latent_dim", "dense_units", "kernel_size")
        if not self.filters or min(self.filters) < 1:
            raise ValueError("'filters' must be a non-empty list of positive integers")


@dataclass(frozen=True)
class BetaVAEConfig(ConvVAEConfig):
    """The conv VAE with the β-VAE defaults (β itself is the loss's ``beta``)."""

    latent_dim: int = 10


@dataclass(frozen=True)
class MLPVAEConfig:
    """Kingma & Welling's MLP VAE.

    Attributes:
        latent_dim: size of z.
        hidden_units: hidden layer sizes of the encoder (the decoder mirrors them).
        activation: hidden activation.
    """

    latent_dim: int = 20
    hidden_units: tuple[int, ...] = (500,)
    activation: Literal["tanh", "relu", "elu", "gelu", "softplus"] = "tanh"

    def __post_init__(self) -> None:
        _check_positive(self, "latent_dim")
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError("'hidden_units' must be a non-empty list of positive integers")


@dataclass(frozen=True)
class ELBOConfig:
    """The negative evidence lower bound.

    Attributes:
        reconstruction: ``bce`` (Bernoulli likelihood) or ``mse`` (Gaussian,
            unit variance); summed over pixels.
        beta: weight of the KL term (1 is the ELBO, >1 a β-VAE).
    """

    reconstruction: Literal["bce", "mse"] = "bce"
    beta: float = 1.0

    def __post_init__(self) -> None:
        if self.beta < 0:
            raise ValueError(f"'beta' must be >= 0, got {self.beta}")


def _check_positive(config, *names: str) -> None:
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"'{name}' must be at least 1, got {getattr(config, name)}")


# === Builders (import Keras only when called) ===


def _build_conv(config, data, loss):
    from . import models

    return models.build(models.ConvVAE, config, data, loss)


def _build_mlp(config, data, loss):
    from . import models

    return models.build(models.MLPVAE, config, data, loss)


def _build_elbo(config):
    from .losses import ELBO

    return ELBO(reconstruction=config.reconstruction, beta=config.beta)


# === Hooks ===


@hookimpl
def zoo_models():
    return [
        ModelSpec(
            name="vae",
            description="Convolutional VAE from the keras-io example (conv 32-64, latent 2)",
            config=ConvVAEConfig,
            build=_build_conv,
            loss_interface=INTERFACE,
            default_loss="elbo",
        ),
        ModelSpec(
            name="mlp-vae",
            description="Kingma & Welling (2014) MLP VAE (500 tanh units, latent 20)",
            config=MLPVAEConfig,
            build=_build_mlp,
            loss_interface=INTERFACE,
            default_loss="elbo",
        ),
        ModelSpec(
            name="beta-vae",
            description="beta-VAE (Higgins et al. 2017): conv VAE, latent 10, beta = 4",
            config=BetaVAEConfig,
            build=_build_conv,
            loss_interface=INTERFACE,
            default_loss="elbo",
            default_loss_config={"beta": 4.0},
        ),
    ]


@hookimpl
def zoo_losses():
    return [
        LossSpec(
            name="elbo",
            description="Negative ELBO: reconstruction (bce or mse) + beta * KL",
            config=ELBOConfig,
            build=_build_elbo,
            interface=INTERFACE,
        )
    ]
