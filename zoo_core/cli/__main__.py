"""``python -m zoo_core.cli``: the same as ``zoo``."""

from . import main

main()
