"""zoo's version: the lowest module of all, so that any part can name it."""

__version__ = "0.1.0"
