"""Registers the example's model, loss, data set and preset with zoo.

No Keras and no scikit-learn here: 'zoo list' imports this module, so it must
be cheap. The builders and the loader import what they need when called.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo_core.hookspecs import hookimpl
from zoo_core.specs import DatasetSpec, LossSpec, ModelSpec, PresetSpec

#: The loss interface zoo-vae's models use: ``loss(x, outputs) -> {"loss",
#: "reconstruction", "kl"}`` with ``outputs`` holding ``logits``, ``z_mean`` and
#: ``z_log_var``. Agreeing on it lets our loss train zoo-vae's models, and
#: zoo-vae's ``elbo`` train ours. It is a convention between plugins; zoo only
#: compares the strings.
VAE_INTERFACE = "vae"

# === Config ===


@dataclass(frozen=True)
class CVAEConfig:
    """A conditional VAE: encoder and decoder see the class label.

    Attributes:
        latent_dim: size of z.
        hidden_units: hidden layer sizes of the encoder (the decoder mirrors them).
    """

    latent_dim: int = 2
    hidden_units: tuple[int, ...] = (256,)

    def __post_init__(self) -> None:
        if self.latent_dim < 1:
            raise ValueError(f"'latent_dim' must be at least 1, got {self.latent_dim}")
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError("'hidden_units' must be a non-empty list of positive integers")


@dataclass(frozen=True)
class LaplaceELBOConfig:
    """The negative ELBO with a Laplace likelihood (an L1 reconstruction term).

    Attributes:
        scale: the Laplace scale b of p(x|z); smaller weighs reconstruction more.
        beta: weight of the KL term (1 is the ELBO).
    """

    scale: float = 0.2
    beta: float = 1.0

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"'scale' must be positive, got {self.scale}")
        if self.beta < 0:
            raise ValueError(f"'beta' must be >= 0, got {self.beta}")


# === Builders (import Keras / scikit-learn only when called) ===


def _build_cvae(config, data, loss):
    from . import models

    return models.build(config, data, loss)


def _build_laplace(config):
    from .losses import LaplaceELBO

    return LaplaceELBO(scale=config.scale, beta=config.beta)


def _load_digits(arg, image_size):
    from .digits import load_digits

    return load_digits(arg, image_size)


# === Hooks ===


@hookimpl
def zoo_models():
    return [
        ModelSpec(
            name="cvae",
            description="Conditional VAE (Sohn et al. 2015), MLP: q(z|x,y), p(x|z,y); samples one row per class",
            config=CVAEConfig,
            build=_build_cvae,
            loss_interface=VAE_INTERFACE,
            default_loss="laplace-elbo",
            needs_labels=True,
        )
    ]


@hookimpl
def zoo_losses():
    return [
        LossSpec(
            name="laplace-elbo",
            description="Negative ELBO with a Laplace (L1) likelihood + beta * KL; for any 'vae' model",
            config=LaplaceELBOConfig,
            build=_build_laplace,
            interface=VAE_INTERFACE,
        )
    ]


@hookimpl
def zoo_datasets():
    return [
        DatasetSpec(
            name="digits",
            description="scikit-learn's 1,797 8x8 handwritten digits (ships inside scikit-learn; no download)",
            load=_load_digits,
            image_shape=(8, 8, 1),
            num_classes=10,
        )
    ]


@hookimpl
def zoo_presets():
    return [
        PresetSpec(
            name="cvae-digits",
            description="Conditional VAE on scikit-learn's 8x8 digits, Laplace ELBO; about 20 s on a CPU",
            model="cvae",
            dataset="digits",
            loss="laplace-elbo",
            model_config={"latent_dim": 2, "hidden_units": [256]},
            loss_config={"scale": 0.2, "beta": 1.0},
            train={"epochs": 30, "batch_size": 64, "learning_rate": 1e-3, "seed": 0, "grid_size": 10},
        )
    ]
