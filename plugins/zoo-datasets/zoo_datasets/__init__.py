"""zoo's built-in data sets, offered through the ``zoo_datasets`` hook.

Importing this package (or :mod:`zoo_datasets.plugin`) is cheap on purpose:
NumPy, Pillow and Keras are imported only when a data set is loaded.
"""

__version__ = "0.1.0"
