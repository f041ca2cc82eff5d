"""The GAN family for zoo. Importing this package stays cheap (no Keras):
the Keras code lives in :mod:`zoo_gan.models`, :mod:`zoo_gan.losses` and
:mod:`zoo_gan.steps`."""

__version__ = "0.1.0"
