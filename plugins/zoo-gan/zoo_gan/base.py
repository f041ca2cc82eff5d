"""The shared GAN machinery: one Keras model holding a generator and a
discriminator, and the two training phases zoo's multi-network trainer runs
on every backend (:mod:`zoo_core.multinet`): ``n_critic`` discriminator
updates on consecutive sub-batches, then one generator update. No backend
code: everything here is ``keras.ops``.

Pixels: ``fit`` and :meth:`GAN.generate` speak zoo's [0, 1]; inside, images
live in the generator's output range ([-1, 1] for tanh).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from zoo_core.multinet import MultiNetworkModel, Phase, split_batch

from .diffaugment import augment, parse_policy
# gradient_penalty stays importable from here, where zoo 0.1 had it.
from .losses import gradient_penalty, penalty_weight, with_gradient_penalty  # noqa: F401


# === Pieces ===


# === Base model ===


class GAN(MultiNetworkModel):
    """A generator and a discriminator trained against each other.

    Subclasses set their hyper-parameters, then call :meth:`_build_networks`,
    which asks for :meth:`make_generator` and :meth:`make_discriminator`
    (functional models). A conditional subclass sets ``conditional = True``;
    both networks then take ``[input, labels]`` with labels shaped ``(batch, 1)``.
    """

    conditional = False
    #: ``tanh`` or ``sigmoid``: decides the pixel range inside the model.
    output_activation = "tanh"

    def __init__(self, image_shape, latent_dim=100, n_critic=1, generator_learning_rate=None,
                 discriminator_learning_rate=None, diffaugment="", seed=None, **kwargs):
        super().__init__(**kwargs)
        #: DiffAugment policies (Zhao et al. 2020) applied to every image D sees in training.
        self.diffaugment = ",".join(parse_policy(diffaugment))
        self.image_shape = tuple(int(d) for d in image_shape)
        self.latent_dim = int(latent_dim)
        self.n_critic = int(n_critic)
        self.generator_learning_rate = generator_learning_rate
        self.discriminator_learning_rate = discriminator_learning_rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.track("d_loss", "g_loss", "d_real", "d_fake", "wasserstein", "gp")
        #: The loss object (see :mod:`zoo_gan.losses`); not saved with the model.
        self.loss_fn = None

    def _build_networks(self):
        self.generator = self.make_generator()
        self.discriminator = self.make_discriminator()
        # Both networks are functional, so every weight exists now; nothing
        # is left for a first call to build.
        self.built = True

    def make_generator(self) -> keras.Model:
        raise NotImplementedError

    def make_discriminator(self) -> keras.Model:
        raise NotImplementedError

    def networks(self) -> dict:
        return {"generator": self.generator, "discriminator": self.discriminator}

    # --- pixels ---

    def to_model_range(self, images):
        images = ops.cast(images, "float32")
        return images * 2.0 - 1.0 if self.output_activation == "tanh" else images

    def to_unit_range(self, images):
        images = ops.cast(images, "float32")
        return (images + 1.0) * 0.5 if self.output_activation == "tanh" else images

    # --- the networks, as the objectives call them ---

    def discriminate(self, images, labels=None, training=False):
        """D's float32 scores. While training, with ``diffaugment`` set, D sees
        every image (real or fake, in either player's loss) through a fresh
        differentiable augmentation (Zhao et al. 2020); the gradient penalty's
        critic (``training=False``) sees them as they are."""
        if training and self.diffaugment:
            images = augment(images, parse_policy(self.diffaugment), self.seed_generator)
        inputs = [images, labels] if self.conditional else images
        return ops.cast(self.discriminator(inputs, training=training), "float32")

    def fake_images(self, batch_size, labels=None, training=True):
        """Generator samples in the model's pixel range, noise from the model's seed generator."""
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        return self.generator([z, labels] if self.conditional else z, training=training)

    def call(self, inputs, training=False):
        """The discriminator's raw scores for [0, 1] images (``[images, labels]`` if conditional)."""
        images, labels = (inputs[0], inputs[1]) if self.conditional else (inputs, None)
        if labels is not None:
            labels = ops.reshape(ops.cast(labels, "int32"), (-1, 1))
        return self.discriminate(self.to_model_range(images), labels, training)

    # --- the objectives ---

    @property
    def penalty_weight(self) -> float:
        return penalty_weight(self.loss_fn)

    def _loss(self):
        if self.loss_fn is None:
            raise RuntimeError("this GAN has no loss attached; train it with `zoo train` or set model.loss_fn")
        return self.loss_fn

    def prepare_batch(self, data):
        """A fit batch -> (real images in the model's range, labels ``(batch, 1)`` or None)."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        labels = None
        if self.conditional:
            if y is None:
                raise ValueError(f"{type(self).__name__} is class-conditional: fit it with labels (y=...)")
            labels = ops.reshape(ops.cast(y, "int32"), (-1, 1))
        return self.to_model_range(x), labels

    def critic_batches(self, real, labels):
        """The batch as ``n_critic`` consecutive sub-batches, one per critic update.

        Each holds ``max(batch // n_critic, 1)`` images; a batch smaller than
        ``n_critic`` wraps around rather than giving an empty sub-batch.
        """
        return split_batch((real, labels), self.n_critic)

    def train_phases(self):
        """``n_critic`` discriminator updates, each on the next sub-batch and
        fakes made before it (no gradient to the generator); then one
        generator update on fresh fakes, as many as one sub-batch, with its labels."""
        n = self.n_critic
        return [
            Phase("discriminator", self._discriminator_phase, repeat=n, split=n, prepare=self._with_fakes),
            Phase("generator", self._generator_phase, split=n),
        ]

    def _with_fakes(self, batch, training):
        real, labels = batch
        return real, labels, self.fake_images(ops.shape(real)[0], labels, training)

    def _discriminator_phase(self, batch, training):
        real, labels, fake = batch
        return self.discriminator_objective(real, fake, labels, training)

    def _generator_phase(self, batch, training):
        real, labels = batch
        return self.generator_objective(ops.shape(real)[0], labels, training)

    def discriminator_objective(self, real, fake, labels, training=True):
        """The discriminator's loss on one real and one fake batch, and the terms to log."""
        loss_fn = self._loss()
        real_logits = self.discriminate(real, labels, training)
        fake_logits = self.discriminate(fake, labels, training)
        loss = loss_fn.discriminator(real_logits, fake_logits)
        readout = getattr(loss_fn, "readout", None) or (lambda s: s)
        terms = {"d_real": ops.mean(readout(real_logits)), "d_fake": ops.mean(readout(fake_logits))}
        critic = lambda x: self.discriminate(x, labels, training=False)  # noqa: E731
        loss, gp = with_gradient_penalty(loss_fn, loss, critic, real, fake, self.seed_generator)
        if gp is not None:
            terms["wasserstein"] = ops.mean(real_logits) - ops.mean(fake_logits)
            terms["gp"] = gp
        terms["d_loss"] = loss
        return loss, terms

    def generator_objective(self, batch_size, labels, training=True):
        """The generator's loss on a fresh fake batch, and the terms to log."""
        fake = self.fake_images(batch_size, labels, training)
        loss = self._loss().generator(self.discriminate(fake, labels, training))
        return loss, {"g_loss": loss}

    def test_terms(self, batch):
        """Both losses on a held-out batch and one fake batch, nothing updated."""
        real, labels = batch
        fake = self.fake_images(ops.shape(real)[0], labels, training=False)
        _, terms = self.discriminator_objective(real, fake, labels, training=False)
        terms["g_loss"] = self._loss().generator(self.discriminate(fake, labels, training=False))
        return terms

    def logged_terms(self):
        return ["d_loss", "g_loss", "d_real", "d_fake"] + (["wasserstein", "gp"] if self.penalty_weight else [])

    # --- what zoo's image grids and later tools use ---

    def default_labels(self, num_samples):
        return np.arange(int(num_samples)) % self.num_classes if self.conditional else None

    def generate(self, num_samples, seed=None, labels=None):
        """``num_samples`` images from noise ``N(0, I)``; float32 in [0, 1].

        The same int ``seed`` gives the same noise every time, so per-epoch
        grids are comparable. A conditional model takes ``labels`` (default:
        0, 1, 2, ... cycling through the classes).
        """
        n = int(num_samples)
        z = keras.random.normal((n, self.latent_dim), seed=seed)
        inputs = z
        if self.conditional:
            labels = self.default_labels(n) if labels is None else np.asarray(labels)
            inputs = [z, ops.convert_to_tensor(np.reshape(labels, (-1, 1)).astype("int32"))]
        images = self.to_unit_range(self.generator(inputs, training=False))
        return np.clip(ops.convert_to_numpy(images), 0.0, 1.0).astype(np.float32)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_shape": list(self.image_shape),
            "latent_dim": self.latent_dim,
            "n_critic": self.n_critic,
            "generator_learning_rate": self.generator_learning_rate,
            "discriminator_learning_rate": self.discriminator_learning_rate,
            "diffaugment": self.diffaugment,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
