"""Two optimizers that Keras sees as one.

Keras' trainers know a single ``model.optimizer``. On JAX in particular the
training state that ``fit`` threads through each step holds exactly
``model.optimizer.variables``; so the generator's and discriminator's
optimizers live inside one :class:`AdversarialOptimizer` whose variables are
the generator's followed by the discriminator's. The per-backend train steps
(:mod:`zoo_gan.steps`) use the two halves directly.
"""

from __future__ import annotations

import keras

PACKAGE = "zoo_gan"


@keras.saving.register_keras_serializable(package=PACKAGE)
class AdversarialOptimizer(keras.optimizers.Optimizer):
    """A generator optimizer and a discriminator optimizer, as one.

    Build it with :meth:`build_pair`; Keras' own ``build(var_list)`` cannot
    tell which variables belong to which network.

    Args:
        generator: the generator's optimizer.
        discriminator: the discriminator's (critic's) optimizer.
    """

    def __init__(self, generator, discriminator, name="adversarial_optimizer", **kwargs):
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.generator = keras.optimizers.get(generator)
        self.discriminator = keras.optimizers.get(discriminator)

    def build_pair(self, generator_variables, discriminator_variables):
        """Create both optimizers' slots for their own network's variables."""
        for optimizer, variables in ((self.generator, generator_variables),
                                     (self.discriminator, discriminator_variables)):
            if not optimizer.built:
                with keras.name_scope(optimizer.name):
                    optimizer.build(variables)
        self.built = True

    def build(self, var_list):
        raise RuntimeError(
            "AdversarialOptimizer is built by its model's compile() via build_pair(); "
            "compile the GAN before fitting it"
        )

    @property
    def variables(self):
        return self.generator.variables + self.discriminator.variables

    @property
    def iterations(self):
        """Generator updates so far."""
        return self.generator.iterations

    def split(self, values):
        """Split a list aligned with :attr:`variables` into (generator, discriminator) parts."""
        n = len(self.generator.variables)
        return list(values[:n]), list(values[n:])

    def apply(self, grads, trainable_variables=None):
        raise RuntimeError("apply the generator's or the discriminator's optimizer, not both at once")

    def finalize_variable_values(self, var_list):
        # Nothing to finalize without EMA, which zoo does not turn on.
        pass

    # The sub-optimizers save and load their own state (they are attributes).
    def save_own_variables(self, store):
        pass

    def load_own_variables(self, store):
        pass

    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key], custom_objects=custom_objects)
        return cls(**config)
