"""The shared VAE-GAN machinery: one Keras model holding an encoder, a
decoder (the generator) and a discriminator, and the one training phase
zoo's multi-network trainer runs on every backend (:mod:`zoo_core.multinet`):
one forward pass, each network updated by the gradient of its own loss.
No backend code: everything here is ``keras.ops``.

Pixels: ``fit`` and the public methods speak zoo's [0, 1]; inside, images
live in the decoder's tanh range [-1, 1].
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from zoo_core.multinet import MultiNetworkModel, Phase, input_gradient

from . import mixture, objectives

#: The networks, in the order of their optimizers.
NETWORKS = ("encoder", "decoder", "discriminator")
#: What ``generate`` draws z from: N(0, I) (the paper), or a mixture fitted to the codes.
PRIORS = ("standard", "mixture")
#: Training images whose codes the mixture is fitted to, at most.
MIXTURE_IMAGES = 20000


class BaseVAEGAN(MultiNetworkModel):
    """Encoder -> z (reparameterised) -> decoder, and a discriminator whose
    conv ``feature_layer`` is the space reconstructions are measured in.

    Subclasses set their hyper-parameters, then call :meth:`_build_networks`,
    which asks for :meth:`make_encoder` (images -> ``[z_mean, z_log_var]``),
    :meth:`make_decoder` (z -> images in [-1, 1]) and
    :meth:`make_discriminator` (images -> ``[score, features]``).
    """

    def __init__(self, image_shape, latent_dim=32, feature_layer=-1, gamma=1e-2, reconstructions_as_fakes=True,
                 pixel_weight=0.0, kl_weight=1.0, encoder_learning_rate=None, decoder_learning_rate=None,
                 discriminator_learning_rate=None, prior="standard", prior_components=10, seed=None, **kwargs):
        super().__init__(**kwargs)
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {', '.join(PRIORS)}, got {prior!r}")
        self.prior, self.prior_components = prior, int(prior_components)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.latent_dim = int(latent_dim)
        self.feature_layer = int(feature_layer)
        self.gamma = float(gamma)
        self.reconstructions_as_fakes = bool(reconstructions_as_fakes)
        self.pixel_weight = float(pixel_weight)
        self.kl_weight = float(kl_weight)
        self.encoder_learning_rate = encoder_learning_rate
        self.decoder_learning_rate = decoder_learning_rate
        self.discriminator_learning_rate = discriminator_learning_rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        if self.prior == "mixture":
            # Not in any network: no optimizer moves them; fit_after_epoch sets them. Until
            # the first fit, every component is N(0, I).
            k, d = self.prior_components, self.latent_dim
            self.prior_weights = self.add_weight(shape=(k,), initializer=keras.initializers.Constant(1.0 / k),
                                                 trainable=False, name="prior_weights")
            self.prior_means = self.add_weight(shape=(k, d), initializer="zeros", trainable=False,
                                               name="prior_means")
            self.prior_scales = self.add_weight(shape=(k, d, d), trainable=False, name="prior_scales",
                                                initializer=lambda shape, dtype=None: ops.tile(
                                                    ops.eye(d, dtype=dtype)[None], (k, 1, 1)))
        names = ["kl", "llike", "pixel", "enc_loss", "dec_loss", "g_loss", "d_loss", "d_real", "d_recon", "d_fake"]
        self.track(*names, "wasserstein", "gp")
        #: The GAN loss object (the "gan" interface); not saved with the model.
        self.loss_fn = None

    def _build_networks(self):
        self.encoder = self.make_encoder()
        self.decoder = self.make_decoder()
        self.discriminator = self.make_discriminator()
        # All three are functional, so every weight exists now.
        self.built = True

    def make_encoder(self) -> keras.Model:
        raise NotImplementedError

    def make_decoder(self) -> keras.Model:
        raise NotImplementedError

    def make_discriminator(self) -> keras.Model:
        raise NotImplementedError

    def networks(self) -> dict:
        """``{"encoder": ..., "decoder": ..., "discriminator": ...}``."""
        return {name: getattr(self, name) for name in NETWORKS}

    # --- pixels ---

    @staticmethod
    def to_model_range(images):
        return ops.cast(images, "float32") * 2.0 - 1.0

    @staticmethod
    def to_unit_range(images):
        return (ops.cast(images, "float32") + 1.0) * 0.5

    # --- the networks, as the forward pass calls them ---

    def discriminate(self, images, training=False):
        """``(logits (batch, 1), Dis_l features)`` for images in the model's range."""
        logits, features = self.discriminator(images, training=training)
        return ops.cast(logits, "float32"), ops.cast(features, "float32")

    def sample_posterior(self, z_mean, z_log_var):
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps  # the reparameterisation trick

    def call(self, images, training=False):
        """A [0, 1] batch through all three networks: its reconstructions
        (sampled z) in [0, 1], the posterior, and the discriminator's scores."""
        x = self.to_model_range(images)
        z_mean, z_log_var = self.encoder(x, training=training)
        reconstruction = self.decoder(self.sample_posterior(z_mean, z_log_var), training=training)
        score, _ = self.discriminate(x, training)
        return {"reconstruction": self.to_unit_range(reconstruction), "z_mean": z_mean, "z_log_var": z_log_var,
                "score": score}

    # --- the forward pass and who minimises what ---

    @property
    def penalty_weight(self) -> float:
        return float(getattr(self._loss(), "gradient_penalty", 0.0) or 0.0)

    def _loss(self):
        if self.loss_fn is None:
            raise RuntimeError("this VAE-GAN has no GAN loss attached; train it with `zoo train` or set model.loss_fn")
        return self.loss_fn

    def prepare_batch(self, data):
        """A fit batch -> real images in the model's range."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.to_model_range(x)

    def train_phases(self):
        """One phase: the pass below, each network minimising its own loss
        (gradients all taken before any weight moves, Algorithm 1)."""
        return [Phase(NETWORKS, self.adversarial_pass)]

    def adversarial_pass(self, real, training=True):
        """One pass of the paper's Algorithm 1 over a batch of real images (model range).

        Not named ``forward``: on PyTorch a Keras model is a ``torch.nn.Module``
        whose ``forward`` is what calling the model runs.

        Returns ``(losses, terms)``: each network's loss (see
        :func:`zoo_vaegan.objectives.network_losses`) and every scalar to log.
        """
        loss_fn = self._loss()
        z_mean, z_log_var = self.encoder(real, training=training)
        reconstruction = self.decoder(self.sample_posterior(z_mean, z_log_var), training=training)
        z_prior = keras.random.normal((ops.shape(real)[0], self.latent_dim), seed=self.seed_generator)
        prior_samples = self.decoder(z_prior, training=training)

        real_logits, real_features = self.discriminate(real, training)
        recon_logits, recon_features = self.discriminate(reconstruction, training)
        prior_logits, _ = self.discriminate(prior_samples, training)

        pixel = objectives.pixel_nll(self.to_unit_range(real), self.to_unit_range(reconstruction))
        llike = objectives.feature_nll(real_features, recon_features)
        if self.pixel_weight:
            llike = llike + self.pixel_weight * pixel
        fakes = [recon_logits, prior_logits] if self.reconstructions_as_fakes else [prior_logits]
        d_loss, g_loss = objectives.adversarial_terms(loss_fn, real_logits, fakes)

        readout = getattr(loss_fn, "readout", None) or (lambda s: s)
        terms = {"kl": objectives.kl_divergence(z_mean, z_log_var), "llike": llike, "pixel": pixel,
                 "g_loss": g_loss, "d_real": ops.mean(readout(real_logits)),
                 "d_recon": ops.mean(readout(recon_logits)), "d_fake": ops.mean(readout(prior_logits))}
        if self.penalty_weight:
            fake_images = [reconstruction, prior_samples] if self.reconstructions_as_fakes else [prior_samples]
            critic = lambda x: self.discriminate(x, training=False)[0]  # noqa: E731
            gp = 0.0
            for fake in fake_images:
                epsilon = keras.random.uniform((ops.shape(real)[0], 1, 1, 1), seed=self.seed_generator)
                gp = gp + objectives.gradient_penalty(critic, real, ops.stop_gradient(fake), epsilon, input_gradient)
            gp = gp / len(fake_images)
            d_loss = d_loss + self.penalty_weight * gp
            terms["gp"] = gp
            terms["wasserstein"] = ops.mean(real_logits) - ops.mean(prior_logits)
        terms["d_loss"] = d_loss
        losses = objectives.network_losses(terms, kl_weight=self.kl_weight, gamma=self.gamma)
        terms["enc_loss"], terms["dec_loss"] = losses["encoder"], losses["decoder"]
        return losses, terms

    def logged_terms(self):
        skip = () if self.loss_fn is not None and self.penalty_weight else ("wasserstein", "gp")
        return [name for name in self.term_trackers if name not in skip]

    def default_optimizer(self):
        return keras.optimizers.Adam(3e-4)

    # --- what zoo's image grids and later tools use ---

    def generate(self, num_samples, seed=None):
        """Decode ``num_samples`` draws from the prior; float32 in [0, 1].

        The prior is N(0, I), or with ``prior = "mixture"`` the Gaussian
        mixture last fitted to the training codes (:meth:`fit_after_epoch`).
        The same int ``seed`` gives the same images every time, so per-epoch
        grids are comparable.
        """
        return self.decode(self.sample_prior(int(num_samples), seed))

    def sample_prior(self, num_samples, seed=None):
        """``num_samples`` draws of z from the prior generate() decodes."""
        if self.prior == "standard":
            return keras.random.normal((num_samples, self.latent_dim), seed=seed)
        seeds = keras.random.SeedGenerator(seed)
        logits = ops.log(ops.maximum(ops.convert_to_tensor(self.prior_weights), 1e-30))[None]
        component = ops.reshape(keras.random.categorical(logits, num_samples, seed=seeds), (-1,))
        eps = keras.random.normal((num_samples, self.latent_dim), seed=seeds)
        scales = ops.take(ops.convert_to_tensor(self.prior_scales), component, axis=0)
        return ops.take(ops.convert_to_tensor(self.prior_means), component, axis=0) + \
            ops.einsum("nij,nj->ni", scales, eps)

    def fit_after_epoch(self, images, seed=0):
        """zoo's training loop calls this after each epoch: with ``prior =
        "mixture"``, fit the mixture to codes z ~ q(z|x) of up to
        20,000 of ``images`` (seeded), by EM. Returns the codes' mean
        log-likelihood under it (None with the standard prior)."""
        if self.prior != "mixture":
            return None
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(len(images), min(len(images), MIXTURE_IMAGES), replace=False))
        codes = []
        for start in range(0, len(chosen), 500):
            z_mean, z_log_var = self.encode(np.asarray(images[chosen[start:start + 500]], np.float32))
            codes.append(z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape))
        weights, means, scales, likelihood = mixture.fit(np.concatenate(codes), self.prior_components, seed)
        self.prior_weights.assign(weights)
        self.prior_means.assign(means)
        self.prior_scales.assign(scales)
        return likelihood

    def decode(self, z):
        images = self.to_unit_range(self.decoder(ops.convert_to_tensor(z), training=False))
        return np.clip(ops.convert_to_numpy(images), 0.0, 1.0).astype(np.float32)

    def encode(self, images):
        """The posterior's mean and log-variance for a batch of [0, 1] images."""
        z_mean, z_log_var = self.encoder(self.to_model_range(ops.convert_to_tensor(images)), training=False)
        return ops.convert_to_numpy(z_mean), ops.convert_to_numpy(z_log_var)

    def reconstruct(self, images):
        """Decode the posterior mean of each image; float32 in [0, 1]."""
        z_mean, _ = self.encode(images)
        return self.decode(z_mean)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_shape": list(self.image_shape),
            "latent_dim": self.latent_dim,
            "feature_layer": self.feature_layer,
            "gamma": self.gamma,
            "reconstructions_as_fakes": self.reconstructions_as_fakes,
            "pixel_weight": self.pixel_weight,
            "kl_weight": self.kl_weight,
            "encoder_learning_rate": self.encoder_learning_rate,
            "decoder_learning_rate": self.decoder_learning_rate,
            "discriminator_learning_rate": self.discriminator_learning_rate,
            "prior": self.prior,
            "prior_components": self.prior_components,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
