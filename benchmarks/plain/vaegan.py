"""Plain Keras: a VAE-GAN (Larsen et al. 2016) trained with ``model.fit`` by
overriding ``train_step``, one per backend (``tf.GradientTape``,
``torch.autograd.grad``, ``jax.vjp``).

The networks and hyper-parameters are those of zoo's ``vaegan-mnist`` preset:
a conv encoder with batch norm to a 32-D Gaussian posterior, a DCGAN-style
decoder, a three-conv discriminator (layer norm) whose last conv is the feature space of
the reconstruction term; batch 64, Adam 3e-4 with beta_1 0.5. One forward
pass per step (the encoder, the decoder on z and on a prior sample, the
discriminator on real, reconstructed and prior images) gives three losses:

- encoder: KL + L_llike (half the squared feature distance)
- decoder: gamma * L_llike + the non-saturating generator loss (gamma 1e-2)
- discriminator: the non-saturating discriminator loss

each network updated by the gradient of its own loss (Algorithm 1 of the paper).

    KERAS_BACKEND=tensorflow python benchmarks/plain/vaegan.py --data mnist.npz
"""

import common

args = common.parse_args(__doc__.splitlines()[0])

import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

BACKEND = keras.backend.backend()
latent_dim = 32
gamma = 1e-2
batch_size = 64
kernel = 5

x_train, _ = common.load_data(args.data, args.examples)
image_shape = x_train.shape[1:]
x_train = x_train * 2.0 - 1.0  # the decoder's tanh range

"""
## The networks
"""


def make_encoder():
    x = keras.Input(image_shape)
    h = x
    for filters in (32, 64):
        h = layers.Conv2D(filters, kernel, strides=2, padding="same", use_bias=False)(h)
        h = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(h))
    h = layers.Dense(256, use_bias=False)(layers.Flatten()(h))
    h = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(h))
    return keras.Model(x, [layers.Dense(latent_dim)(h), layers.Dense(latent_dim)(h)], name="encoder")


def make_decoder():
    z = keras.Input((latent_dim,))
    h = layers.Reshape((7, 7, 64))(layers.Dense(7 * 7 * 64, use_bias=False)(z))
    h = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(h))
    h = layers.Conv2DTranspose(32, kernel, strides=2, padding="same", use_bias=False)(h)
    h = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(h))
    images = layers.Conv2DTranspose(1, kernel, strides=2, padding="same", activation="tanh")(h)
    return keras.Model(z, images, name="decoder")


def make_discriminator():
    x = keras.Input(image_shape)
    h = x
    for i, filters in enumerate((32, 64, 128)):
        # Layer norm after every conv but the first, and after the dense layer.
        h = layers.Conv2D(filters, kernel, strides=2, padding="same", use_bias=i == 0)(h)
        h = layers.LeakyReLU(0.2)(layers.LayerNormalization(axis=(-3, -2, -1))(h) if i else h)
    features = h
    h = layers.Dense(256, use_bias=False)(layers.Flatten()(h))
    h = layers.LeakyReLU(0.2)(layers.LayerNormalization(axis=-1)(h))
    return keras.Model(x, [layers.Dense(1)(h), features], name="discriminator")


"""
## The VAE-GAN: one forward pass, three losses, one `train_step` per backend
"""


class VAEGAN(keras.Model):
    def __init__(self, encoder, decoder, discriminator):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.discriminator = discriminator
        self.seed_generator = keras.random.SeedGenerator(1337)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("kl", "llike", "g_loss", "d_loss")}
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def networks(self):
        return [self.encoder, self.decoder, self.discriminator]

    def losses_of(self, real):
        """(encoder loss, decoder loss, discriminator loss), and the terms to log."""
        z_mean, z_log_var = self.encoder(real, training=True)
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        reconstruction = self.decoder(z_mean + ops.exp(0.5 * z_log_var) * eps, training=True)
        z_prior = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        prior_samples = self.decoder(z_prior, training=True)

        real_logits, real_features = self.discriminator(real, training=True)
        recon_logits, recon_features = self.discriminator(reconstruction, training=True)
        prior_logits, _ = self.discriminator(prior_samples, training=True)

        kl = ops.mean(-0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1))
        llike = ops.mean(0.5 * ops.sum(ops.square(real_features - recon_features), axis=(1, 2, 3)))
        ones, zeros = ops.ones_like(real_logits), ops.zeros_like(real_logits)
        d_loss = self.bce(ones, real_logits) + 0.5 * (self.bce(zeros, recon_logits) + self.bce(zeros, prior_logits))
        g_loss = 0.5 * (self.bce(ones, recon_logits) + self.bce(ones, prior_logits))
        terms = {"kl": kl, "llike": llike, "g_loss": g_loss, "d_loss": d_loss}
        return (kl + llike, gamma * llike + g_loss, d_loss), terms

    def results(self, terms):
        for name, value in terms.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


if BACKEND == "tensorflow":
    import tensorflow as tf

    class BackendVAEGAN(VAEGAN):
        def train_step(self, data):
            real = data[0] if isinstance(data, tuple) else data
            with tf.GradientTape(persistent=True) as tape:
                losses, terms = self.losses_of(real)
            grads = [tape.gradient(loss, net.trainable_weights) for loss, net in zip(losses, self.networks())]
            del tape
            for optimizer, net, net_grads in zip(self.network_optimizers, self.networks(), grads):
                optimizer.apply_gradients(zip(net_grads, net.trainable_weights))
            return self.results(terms)

elif BACKEND == "torch":
    import torch

    class BackendVAEGAN(VAEGAN):
        def train_step(self, data):
            real = data[0] if isinstance(data, tuple) else data
            losses, terms = self.losses_of(real)
            grads = []
            for i, (loss, net) in enumerate(zip(losses, self.networks())):
                # The three losses share one graph: keep it until the last gradient.
                grads.append(torch.autograd.grad(loss, [v.value for v in net.trainable_weights],
                                                 retain_graph=i < 2))
            with torch.no_grad():
                for optimizer, net, net_grads in zip(self.network_optimizers, self.networks(), grads):
                    optimizer.apply(list(net_grads), net.trainable_weights)
            return self.results({k: v.detach() for k, v in terms.items()})

else:
    import jax
    import jax.numpy as jnp

    class BackendVAEGAN(VAEGAN):
        """JAX's fit threads the state of ``self.optimizer`` only. The three
        networks update at once with the same Adam settings, so one Adam over
        all their weights is the three optimizers of the other backends."""

        def train_step(self, state, data):
            trainable, non_trainable, optimizer_variables, metrics_variables = state
            real = data[0] if isinstance(data, tuple) else data
            # The model's trainable weights are the encoder's, the decoder's, then the discriminator's.
            sizes = [len(net.trainable_weights) for net in self.networks()]
            bounds = [0, sizes[0], sizes[0] + sizes[1], sum(sizes)]

            def forward(*own):
                weights = [w for part in own for w in part]
                mapping = list(zip(self.trainable_variables, weights))
                mapping += list(zip(self.non_trainable_variables, non_trainable))
                with keras.StatelessScope(state_mapping=mapping) as scope:
                    losses, terms = self.losses_of(real)
                return losses, (terms, [scope.get_current_value(v) for v in self.non_trainable_variables])

            parts = [trainable[bounds[i]:bounds[i + 1]] for i in range(3)]
            losses, pullback, (terms, non_trainable) = jax.vjp(forward, *parts, has_aux=True)
            grads = []
            for i in range(3):
                # A cotangent that selects loss i; keep network i's part: its gradient of its own loss.
                one_hot = tuple(jnp.ones_like(loss) if j == i else jnp.zeros_like(loss) for j, loss in enumerate(losses))
                grads += list(pullback(one_hot)[i])
            trainable, optimizer_variables = self.optimizer.stateless_apply(optimizer_variables, grads, trainable)

            mapping = list(zip(self.metrics_variables, metrics_variables))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                logs = self.results(terms)
            metrics_variables = [scope.get_current_value(v) for v in self.metrics_variables]
            return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)


"""
## Train
"""

vaegan = BackendVAEGAN(make_encoder(), make_decoder(), make_discriminator())
if BACKEND == "jax":
    vaegan.compile(optimizer=keras.optimizers.Adam(3e-4, beta_1=0.5))
    order = [w for net in vaegan.networks() for w in net.trainable_weights]
    assert all(a is b for a, b in zip(vaegan.trainable_weights, order))
else:
    vaegan.compile()
    vaegan.network_optimizers = [keras.optimizers.Adam(3e-4, beta_1=0.5) for _ in range(3)]
timer = common.make_epoch_timer()
vaegan.fit(x_train, epochs=args.epochs, batch_size=batch_size, callbacks=[timer], verbose=0)
common.report(args, vaegan, timer, len(x_train), batch_size, "plain VAE-GAN")
