"""An example third-party zoo plugin: it lives outside zoo's source tree and
is found, like any stranger's plugin, through the ``zoo`` entry point."""

__version__ = "0.1.0"
