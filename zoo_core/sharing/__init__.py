"""``zoo export``: a run as a self-contained, shareable model (:mod:`.export`).

Above evaluation (an export carries its eval results and sample grid);
imports everything below it, and only the CLI and :mod:`zoo_core.testing`
import it.
"""
