"""zoo: a plugin-based zoo of generative models on Keras 3.

Importing ``zoo_core`` never imports Keras or a backend; training does.
"""

__version__ = "0.1.0"
