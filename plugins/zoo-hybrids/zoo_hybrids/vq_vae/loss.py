"""VQ-VAE's objective (van den Oord et al. 2017, eq. 3), with ``keras.ops``."""

from __future__ import annotations

from keras import ops


class VQLoss:
    """``reconstruction + codebook + commitment * ||z_e - sg(e)||^2``.

    The reconstruction is the mean squared pixel error; the codebook and
    commitment terms are mean squared errors over the code grid's elements.
    With an EMA codebook the codebook term is not trained (the moving
    averages move the codes) and is left out.
    """

    def __init__(self, commitment=0.25):
        self.commitment = float(commitment)

    def __call__(self, reconstruction, codebook, commitment):
        return reconstruction + codebook + self.commitment * commitment

    @staticmethod
    def prior(codes, logits):
        """The prior's mean cross-entropy per code position, in nats."""
        per_position = ops.sparse_categorical_crossentropy(codes, ops.cast(logits, "float32"), from_logits=True)
        return ops.mean(per_position)
