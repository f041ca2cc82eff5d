"""Registers the example's model, loss, data set and preset with zoo.

No Keras and no scikit-learn here: 'zoo list' imports this module, so it must
be cheap. The builders and the loader import what they need when called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from zoo_core.hookspecs import hookimpl
from zoo_core.specs import DatasetSpec, LossSpec, ModelSpec, NoConfig, PresetSpec

#: The loss interface zoo-vae's models use: ``loss(x, outputs) -> {"loss",
#: "reconstruction", "kl"}`` with ``outputs`` holding ``logits``, ``z_mean`` and
#: ``z_log_var``. Agreeing on it lets our loss train zoo-vae's models, and
#: zoo-vae's ``elbo`` train ours. It is a convention between plugins; zoo only
#: compares the strings.
VAE_INTERFACE = "vae"
#: The loss interface zoo-gan's models use: an object with
#: ``discriminator(real_logits, fake_logits)``, ``generator(fake_logits)`` and
#: optionally ``readout`` and ``gradient_penalty``. infogan consumes it, so it
#: can train with our ``logistic-ns`` or, when zoo-gan is installed, with
#: zoo-gan's losses by name; nothing here imports zoo-gan.
GAN_INTERFACE = "gan"

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
class InfoGANConfig:
    """InfoGAN (Chen et al. 2016): G(z, c); D and Q share one MLP body.

    Attributes:
        noise_dim: size of the incompressible noise z ~ N(0, I).
        num_categories: values of the categorical code c_cat (one grid row each).
        num_continuous: continuous codes, each uniform in [-1, 1].
        generator_units: hidden layer sizes of the generator.
        discriminator_units: hidden layer sizes of the body D and Q share.
        q_units: the hidden layer of Q's head.
        info_weight: lambda of the categorical code's information term (1 in the paper).
        continuous_weight: lambda of the continuous codes' term (smaller, as in the paper).
        learn_std: Q predicts the continuous codes' log-std too (else std 1).
        generator_learning_rate: the generator's own learning rate (default: the run's).
        discriminator_learning_rate: the discriminator's own learning rate (default: the run's).
        q_learning_rate: Q's own learning rate (default: the run's).
    """

    noise_dim: int = 16
    num_categories: int = 10
    num_continuous: int = 2
    generator_units: tuple[int, ...] = (128, 256)
    discriminator_units: tuple[int, ...] = (256, 128)
    q_units: int = 64
    info_weight: float = 1.0
    continuous_weight: float = 0.1
    learn_std: bool = False
    generator_learning_rate: Optional[float] = None
    discriminator_learning_rate: Optional[float] = None
    q_learning_rate: Optional[float] = None

    def __post_init__(self) -> None:
        for key, least in (("noise_dim", 1), ("num_categories", 2), ("num_continuous", 1), ("q_units", 1)):
            if getattr(self, key) < least:
                raise ValueError(f"'{key}' must be at least {least}, got {getattr(self, key)}")
        for key in ("generator_units", "discriminator_units"):
            if not getattr(self, key) or min(getattr(self, key)) < 1:
                raise ValueError(f"'{key}' must be a non-empty list of positive integers")
        for key in ("info_weight", "continuous_weight"):
            if not getattr(self, key) >= 0:
                raise ValueError(f"'{key}' must be >= 0, got {getattr(self, key)}")
        for key in ("generator_learning_rate", "discriminator_learning_rate", "q_learning_rate"):
            value = getattr(self, key)
            if value is not None and not value > 0:
                raise ValueError(f"'{key}' must be positive, got {value}")


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


def _build_infogan(config, data, loss):
    from . import infogan

    return infogan.build(config, data, loss)


def _build_logistic_ns(config):
    from .losses import LogisticNonSaturating

    return LogisticNonSaturating()


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
        ),
        ModelSpec(
            name="infogan",
            description="InfoGAN (Chen et al. 2016), MLP: G(z, c), D and Q share a body; one sample row per category",
            config=InfoGANConfig,
            build=_build_infogan,
            loss_interface=GAN_INTERFACE,
            default_loss="logistic-ns",
        ),
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
        ),
        LossSpec(
            name="logistic-ns",
            description="Non-saturating logistic GAN loss (Goodfellow 2014, sec. 3); for any 'gan' model",
            config=NoConfig,
            build=_build_logistic_ns,
            interface=GAN_INTERFACE,
        ),
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
        ),
        PresetSpec(
            name="infogan-digits",
            description="InfoGAN on scikit-learn's 8x8 digits: 10 categories, 2 continuous codes; about 35 s on a CPU",
            model="infogan",
            dataset="digits",
            loss="logistic-ns",
            # The authors' MNIST ratio, G (and Q) 5x D's rate (theirs: 1e-3 and
            # 2e-4), doubled so that 40 short epochs suffice.
            model_config={"noise_dim": 16, "num_categories": 10, "num_continuous": 2,
                          "generator_learning_rate": 2e-3, "q_learning_rate": 2e-3},
            train={"epochs": 40, "batch_size": 64, "optimizer": "adam", "learning_rate": 4e-4, "beta_1": 0.5,
                   "seed": 0, "grid_size": 10},
        ),
    ]
