"""Registers the hybrids with zoo. No Keras here: specs must be cheap.

The adversarial models register no loss of their own: their adversarial
terms are any loss of the ``"gan"`` interface, looked up by name like a GAN's
(zoo-gan provides ``non-saturating``, the default, and the others): plugins
compose through the registry, not through imports. Soft-IntroVAE and VQ-VAE
have objectives of their own, registered here.
"""

from __future__ import annotations

from zoo_core.hookspecs import hookimpl

from . import aae, alpha_gan, bigan, soft_introvae, vq_vae

FAMILIES = (aae, bigan, alpha_gan, soft_introvae, vq_vae)


@hookimpl
def zoo_models():
    return [model for family in FAMILIES for model in getattr(family, "MODELS", [family.MODEL])]


@hookimpl
def zoo_presets():
    return [preset for family in FAMILIES for preset in family.PRESETS]


@hookimpl
def zoo_losses():
    return [loss for family in FAMILIES for loss in getattr(family, "LOSSES", ())]
