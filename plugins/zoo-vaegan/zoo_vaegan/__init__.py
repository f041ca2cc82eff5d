"""The VAE-GAN for zoo. Importing this package stays cheap (no Keras): the
Keras code lives in :mod:`zoo_vaegan.models`, :mod:`zoo_vaegan.base`,
:mod:`zoo_vaegan.objectives` and :mod:`zoo_vaegan.steps`."""

__version__ = "0.1.0"
