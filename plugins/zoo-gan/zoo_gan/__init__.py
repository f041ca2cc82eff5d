"""The GAN family for zoo. Importing this package stays cheap (no Keras):
the Keras code lives in :mod:`zoo_gan.base`, :mod:`zoo_gan.models` and
:mod:`zoo_gan.losses`, with no backend code: zoo's multi-network trainer
runs the two networks' updates on every backend."""

__version__ = "0.1.0"
