"""Registers the GAN family with zoo. No Keras here: specs must be cheap."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, Optional

from zoo_core.hookspecs import hookimpl
from zoo_core.specs import LossSpec, ModelSpec, NoConfig

from .policies import DIFFAUGMENT_POLICIES

#: The loss interface GAN models consume; see :mod:`zoo_gan.losses` for what
#: such a loss object must offer (``discriminator``, ``generator``, ...).
INTERFACE = "gan"

# === Config ===


@dataclass(frozen=True)
class AdversarialConfig:
    """What every GAN here shares.

    Attributes:
        latent_dim: size of the noise vector z ~ N(0, I).
        n_critic: discriminator (critic) updates per generator update. Each
            update takes the next 1/n_critic of the batch, so ``train.batch_size``
            is n_critic times the per-update batch.
        generator_learning_rate: the generator's own learning rate
            (default: ``train.learning_rate``).
        discriminator_learning_rate: the discriminator's own learning rate
            (default: ``train.learning_rate``).
        diffaugment: DiffAugment (Zhao et al. 2020) for small data sets: the
            comma-separated policies ``color``, ``translation``, ``cutout``
            (the paper's choice is all three) applied to every real and fake
            image the discriminator sees in training, differentiably; ``""``: none.
    """

    latent_dim: int = 100
    n_critic: int = 1
    generator_learning_rate: Optional[float] = None
    discriminator_learning_rate: Optional[float] = None
    diffaugment: str = ""

    def __post_init__(self) -> None:
        _check_positive(self, "latent_dim", "n_critic")
        names = [n.strip() for n in str(self.diffaugment).split(",") if n.strip()]
        unknown = [n for n in names if n not in DIFFAUGMENT_POLICIES]
        if unknown:
            raise ValueError(f"'diffaugment': unknown policy '{unknown[0]}'; choose from color, translation, "
                             f"cutout (comma-separated), or \"\" for none")
        for key in ("generator_learning_rate", "discriminator_learning_rate"):
            value = getattr(self, key)
            if value is not None and not value > 0:
                raise ValueError(f"'{key}' must be positive, got {value}")


@dataclass(frozen=True)
class MLPGANConfig(AdversarialConfig):
    """Goodfellow et al. (2014): dense layers both ways.

    Attributes:
        generator_units: hidden layer sizes of the generator (ReLU).
        discriminator_units: hidden layer sizes of the discriminator (leaky ReLU).
        dropout: dropout rate after each discriminator hidden layer.
        output_activation: ``tanh`` (pixels in [-1, 1]) or ``sigmoid`` ([0, 1]).
    """

    generator_units: tuple[int, ...] = (256, 512, 1024)
    discriminator_units: tuple[int, ...] = (1024, 512, 256)
    dropout: float = 0.3
    output_activation: Literal["tanh", "sigmoid"] = "tanh"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_units(self, "generator_units", "discriminator_units")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"'dropout' must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class DCGANConfig(AdversarialConfig):
    """Radford et al. (2016), sized for 28x28 and 32x32 images.

    Attributes:
        generator_filters: the generator projects z to a small feature map with
            ``generator_filters[0]`` channels, then each entry is one stride-2
            transposed conv (the last one outputs the image). Images must be
            divisible by 2 ** len(generator_filters): 28 starts at 7x7, 32 at 8x8.
        discriminator_filters: one stride-2 conv per entry, then a dense score.
        kernel_size: conv kernel size.
        discriminator_norm: normalisation after each discriminator conv but the
            first: ``batch`` (DCGAN), ``layer`` or ``none`` (for the gradient penalty).
    """

    generator_filters: tuple[int, ...] = (128, 64)
    discriminator_filters: tuple[int, ...] = (64, 128)
    kernel_size: int = 4
    discriminator_norm: Literal["batch", "layer", "none"] = "batch"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive(self, "kernel_size")
        _check_units(self, "generator_filters", "discriminator_filters")


@dataclass(frozen=True)
class WGANGPConfig(DCGANConfig):
    """Gulrajani et al. (2017): the DCGAN generator, a critic without batch norm,
    five critic updates per generator update."""

    n_critic: int = 5
    discriminator_norm: Literal["batch", "layer", "none"] = "none"


@dataclass(frozen=True)
class CGANConfig(DCGANConfig):
    """A class-conditional DCGAN (Mirza & Osindero 2014's conditioning).

    Attributes:
        embedding_dim: size of the label embedding concatenated to z; the
            discriminator gets the label as an extra image plane.
    """

    embedding_dim: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive(self, "embedding_dim")


@dataclass(frozen=True)
class WassersteinConfig:
    """The WGAN critic loss with a gradient penalty.

    Attributes:
        gradient_penalty: lambda, the weight of E[(||grad D(x_hat)|| - 1)^2] on
            random interpolates of real and fake images. It is what keeps the
            critic 1-Lipschitz (zoo has no weight clipping), so it must be > 0.
    """

    gradient_penalty: float = 10.0

    def __post_init__(self) -> None:
        if not self.gradient_penalty > 0:
            raise ValueError(
                f"'gradient_penalty' must be > 0, got {self.gradient_penalty}: without it the "
                f"Wasserstein critic is unconstrained and training diverges"
            )


def _check_positive(config, *names: str) -> None:
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"'{name}' must be at least 1, got {getattr(config, name)}")


def _check_units(config, *names: str) -> None:
    for name in names:
        units = getattr(config, name)
        if not units or min(units) < 1:
            raise ValueError(f"'{name}' must be a non-empty list of positive integers")


# === Builders (import Keras only when called) ===


def _builder(class_name: str):
    def build(config, data, loss):
        from . import models

        return models.build(getattr(models, class_name), config, data, loss)

    return build


def _loss_builder(class_name: str):
    def build(config):
        from . import losses

        options = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}
        return getattr(losses, class_name)(**options)

    return build


# === Hooks ===


@hookimpl
def zoo_models():
    return [
        ModelSpec(
            name="gan",
            description="Goodfellow et al. (2014) MLP GAN: dense generator, leaky-ReLU discriminator",
            config=MLPGANConfig,
            build=_builder("MLPGAN"),
            loss_interface=INTERFACE,
            default_loss="non-saturating",
        ),
        ModelSpec(
            name="dcgan",
            description="Radford et al. (2016) DCGAN: transposed-conv generator, strided-conv discriminator, BN",
            config=DCGANConfig,
            build=_builder("DCGAN"),
            loss_interface=INTERFACE,
            default_loss="non-saturating",
        ),
        ModelSpec(
            name="wgan-gp",
            description="Gulrajani et al. (2017) WGAN-GP: DCGAN generator, critic without batch norm, 5 critic steps",
            config=WGANGPConfig,
            build=_builder("WGANGP"),
            loss_interface=INTERFACE,
            default_loss="wasserstein",
        ),
        ModelSpec(
            name="cgan",
            description="Class-conditional DCGAN (Mirza & Osindero 2014): labels in, one row per class out",
            config=CGANConfig,
            build=_builder("ConditionalGAN"),
            loss_interface=INTERFACE,
            default_loss="non-saturating",
            needs_labels=True,
        ),
    ]


@hookimpl
def zoo_losses():
    return [
        LossSpec(
            name="minimax",
            description="Goodfellow's minimax game: D maximises log D(x) + log(1 - D(G(z))), G minimises the same",
            config=NoConfig,
            build=_loss_builder("Minimax"),
            interface=INTERFACE,
        ),
        LossSpec(
            name="non-saturating",
            description="Minimax for D; G maximises log D(G(z)) instead (Goodfellow 2014, sec. 3)",
            config=NoConfig,
            build=_loss_builder("NonSaturating"),
            interface=INTERFACE,
        ),
        LossSpec(
            name="wasserstein",
            description="WGAN critic loss E[D(G(z))] - E[D(x)] + gradient-penalty weight (Gulrajani 2017)",
            config=WassersteinConfig,
            build=_loss_builder("Wasserstein"),
            interface=INTERFACE,
        ),
        LossSpec(
            name="hinge",
            description="Hinge loss (Lim & Ye 2017; Miyato 2018): relu(1 - D(x)) + relu(1 + D(G(z))), G: -D(G(z))",
            config=NoConfig,
            build=_loss_builder("Hinge"),
            interface=INTERFACE,
        ),
        LossSpec(
            name="least-squares",
            description="LSGAN (Mao et al. 2017): squared error to targets 1 (real) and 0 (fake)",
            config=NoConfig,
            build=_loss_builder("LeastSquares"),
            interface=INTERFACE,
        ),
    ]
