"""VAE/GAN hybrids for zoo. Importing this package stays cheap (no Keras):
each model family is a sub-package whose ``__init__`` holds its config and
presets, and whose ``model`` module holds the Keras code, with no backend
code: zoo's multi-network trainer runs the networks' updates on every backend."""

__version__ = "0.1.0"
