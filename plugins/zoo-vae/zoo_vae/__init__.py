"""The VAE family for zoo. Importing this package stays cheap (no Keras):
the Keras code lives in :mod:`zoo_vae.models` and :mod:`zoo_vae.losses`."""

__version__ = "0.1.0"
