"""The VAE-GAN for zoo. Importing this package stays cheap (no Keras): the
Keras code lives in :mod:`zoo_vaegan.models`, :mod:`zoo_vaegan.base`,
:mod:`zoo_vaegan.objectives`, with no backend code: zoo's multi-network
trainer runs the three networks' updates on every backend."""

__version__ = "0.1.0"
