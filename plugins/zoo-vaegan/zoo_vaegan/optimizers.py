"""Three optimizers that Keras sees as one.

Keras' trainers know a single ``model.optimizer``; on JAX the training state
that ``fit`` threads through each step holds exactly
``model.optimizer.variables``. So the encoder's, decoder's and
discriminator's optimizers live inside one :class:`NetworkOptimizers`
whose variables are theirs, in that order. The per-backend train steps
(:mod:`zoo_vaegan.steps`) use the three directly. (zoo-gan's
``AdversarialOptimizer`` does the same for two; this plugin does not import
zoo-gan's code, only uses its losses through the registry.)
"""

from __future__ import annotations

import keras

PACKAGE = "zoo_vaegan"

#: The networks, in the order of their optimizers' variables.
NETWORKS = ("encoder", "decoder", "discriminator")


@keras.saving.register_keras_serializable(package=PACKAGE)
class NetworkOptimizers(keras.optimizers.Optimizer):
    """One optimizer per network, as one.

    Build it with :meth:`build_networks`; Keras' own ``build(var_list)``
    cannot tell which variables belong to which network.

    Args:
        encoder, decoder, discriminator: each network's optimizer.
    """

    def __init__(self, encoder, decoder, discriminator, name="network_optimizers", **kwargs):
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        # Attributes, not a dict: Keras saves an optimizer's optimizer attributes with it.
        self.encoder = keras.optimizers.get(encoder)
        self.decoder = keras.optimizers.get(decoder)
        self.discriminator = keras.optimizers.get(discriminator)

    @property
    def optimizers(self) -> list:
        """The three optimizers, in :data:`NETWORKS` order."""
        return [getattr(self, network) for network in NETWORKS]

    def build_networks(self, variables_by_network: dict) -> None:
        """Create each optimizer's slots for its own network's variables."""
        for network, optimizer in zip(NETWORKS, self.optimizers):
            if not optimizer.built:
                with keras.name_scope(optimizer.name):
                    optimizer.build(variables_by_network[network])
        self.built = True

    def build(self, var_list):
        raise RuntimeError(
            "NetworkOptimizers is built by its model's compile() via build_networks(); "
            "compile the VAE-GAN before fitting it"
        )

    @property
    def variables(self):
        return [v for optimizer in self.optimizers for v in optimizer.variables]

    @property
    def iterations(self):
        """Training steps so far (each step updates every network once)."""
        return self.encoder.iterations

    def split(self, values) -> list:
        """Split a list aligned with :attr:`variables` into one list per network."""
        parts, start = [], 0
        for optimizer in self.optimizers:
            end = start + len(optimizer.variables)
            parts.append(list(values[start:end]))
            start = end
        return parts

    def apply(self, grads, trainable_variables=None):
        raise RuntimeError("apply one network's optimizer (encoder, decoder, discriminator), not all at once")

    def finalize_variable_values(self, var_list):
        # Nothing to finalize without EMA, which zoo does not turn on.
        pass

    # The three optimizers save and load their own state (they are attributes).
    def save_own_variables(self, store):
        pass

    def load_own_variables(self, store):
        pass

    def get_config(self):
        config = {"name": self.name}
        for network, optimizer in zip(NETWORKS, self.optimizers):
            config[network] = keras.saving.serialize_keras_object(optimizer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for network in NETWORKS:
            config[network] = keras.saving.deserialize_keras_object(config[network], custom_objects=custom_objects)
        return cls(**config)
