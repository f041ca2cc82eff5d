"""Plain Keras: WGAN-GP trained with ``model.fit`` by overriding ``train_step``,
written by hand after keras-io's WGAN-GP example, with one train step per
backend (``tf.GradientTape``, ``torch.autograd.grad``, ``jax.value_and_grad``).

The networks and hyper-parameters are those of zoo's ``wgan-gp-fashion-mnist``
preset (Gulrajani et al. 2017): the DCGAN generator, a critic without batch
norm, Adam 1e-4 with betas (0.5, 0.9), gradient penalty 10, and 5 critic
updates per generator update, each on the next 64 images of a batch of 320.

    KERAS_BACKEND=tensorflow python benchmarks/plain/wgan_gp.py --data fashion.npz
"""

import common

args = common.parse_args(__doc__.splitlines()[0])

import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

BACKEND = keras.backend.backend()
latent_dim = 100
n_critic = 5
critic_batch = 64
batch_size = n_critic * critic_batch
gp_weight = 10.0

x_train, _ = common.load_data(args.data, args.examples)
image_shape = x_train.shape[1:]
x_train = x_train * 2.0 - 1.0  # the generator's tanh range

"""
## The networks
"""


def init():
    return keras.initializers.RandomNormal(stddev=0.02)


def make_generator():
    z = keras.Input((latent_dim,))
    h = layers.Dense(7 * 7 * 128, use_bias=False, kernel_initializer=init())(z)
    h = layers.Reshape((7, 7, 128))(h)
    h = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(h))
    h = layers.Conv2DTranspose(64, 4, strides=2, padding="same", use_bias=False, kernel_initializer=init())(h)
    h = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(h))
    images = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh", kernel_initializer=init())(h)
    return keras.Model(z, images, name="generator")


def make_critic():
    x = keras.Input(image_shape)
    h = layers.LeakyReLU(0.2)(layers.Conv2D(64, 4, strides=2, padding="same", kernel_initializer=init())(x))
    h = layers.LeakyReLU(0.2)(layers.Conv2D(128, 4, strides=2, padding="same", kernel_initializer=init())(h))
    score = layers.Dense(1, kernel_initializer=init())(layers.Flatten()(h))
    return keras.Model(x, score, name="critic")


"""
## WGAN-GP: the same algorithm, one `train_step` per backend
"""


class WGAN(keras.Model):
    def __init__(self, critic, generator):
        super().__init__()
        self.critic = critic
        self.generator = generator
        self.seed_generator = keras.random.SeedGenerator(1337)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer):
        # JAX's fit carries one optimizer's state through the step; the JAX
        # step below uses that one for both networks.
        super().compile(optimizer=d_optimizer if BACKEND == "jax" else None)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def generate(self, batch):
        z = keras.random.normal((batch, latent_dim), seed=self.seed_generator)
        return self.generator(z, training=True)

    def critic_loss(self, real, fake, input_gradient):
        real_logits = self.critic(real, training=True)
        fake_logits = self.critic(fake, training=True)
        epsilon = keras.random.uniform((ops.shape(real)[0], 1, 1, 1), seed=self.seed_generator)
        mixed = epsilon * real + (1.0 - epsilon) * fake
        grads = input_gradient(lambda x: ops.sum(self.critic(x, training=True)), mixed)
        norms = ops.sqrt(ops.sum(ops.square(grads), axis=(1, 2, 3)) + 1e-12)
        gp = ops.mean(ops.square(norms - 1.0))
        return ops.mean(fake_logits) - ops.mean(real_logits) + gp_weight * gp

    def generator_loss(self, batch):
        return -ops.mean(self.critic(self.generate(batch), training=True))

    def results(self, d_loss, g_loss):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def real_parts(data):
    real = data[0] if isinstance(data, tuple) else data
    return [real[i * critic_batch:(i + 1) * critic_batch] for i in range(n_critic)]


if BACKEND == "tensorflow":
    import tensorflow as tf

    def input_gradient(fn, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return tape.gradient(y, x)

    class BackendWGAN(WGAN):
        def train_step(self, data):
            for real in real_parts(data):
                fake = self.generate(critic_batch)
                with tf.GradientTape() as tape:
                    d_loss = self.critic_loss(real, fake, input_gradient)
                grads = tape.gradient(d_loss, self.critic.trainable_weights)
                self.d_optimizer.apply_gradients(zip(grads, self.critic.trainable_weights))
            with tf.GradientTape() as tape:
                g_loss = self.generator_loss(critic_batch)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            return self.results(d_loss, g_loss)

elif BACKEND == "torch":
    import torch

    def input_gradient(fn, x):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
        return grad

    def update(optimizer, loss, weights):
        # Gradients for this network's weights only: the generator's loss
        # needs none for the critic's.
        grads = torch.autograd.grad(loss, [v.value for v in weights])
        with torch.no_grad():
            optimizer.apply(list(grads), weights)

    class BackendWGAN(WGAN):
        def train_step(self, data):
            for real in real_parts(data):
                with torch.no_grad():
                    fake = self.generate(critic_batch)
                d_loss = self.critic_loss(real, fake, input_gradient)
                update(self.d_optimizer, d_loss, self.critic.trainable_weights)
            g_loss = self.generator_loss(critic_batch)
            update(self.g_optimizer, g_loss, self.generator.trainable_weights)
            return self.results(d_loss.detach(), g_loss.detach())

else:
    import warnings

    import jax

    warnings.filterwarnings("ignore", message="Gradients do not exist for variables")

    def input_gradient(fn, x):
        return jax.grad(fn)(x)

    class BackendWGAN(WGAN):
        """JAX's fit threads the state of ``self.optimizer`` only, so one Adam
        (built on both networks' weights) updates each network in turn:
        gradients of None leave the other network's weights and slots alone.
        Unlike the other backends, the updates share Adam's step counter."""

        def stateless(self, trainable, non_trainable, fn):
            mapping = list(zip(self.trainable_variables, trainable))
            mapping += list(zip(self.non_trainable_variables, non_trainable))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                out = fn()
            return out, [scope.get_current_value(v) for v in self.non_trainable_variables]

        def train_step(self, state, data):
            trainable, non_trainable, optimizer_variables, metrics_variables = state
            # The model's trainable weights are the critic's, then the generator's.
            n_d = len(self.critic.trainable_weights)
            n_g = len(trainable) - n_d
            for real in real_parts(data):
                fake, non_trainable = self.stateless(trainable, non_trainable,
                                                     lambda: self.generate(critic_batch))

                def d_loss_fn(d_weights, non_trainable):
                    return self.stateless(d_weights + trainable[n_d:], non_trainable,
                                          lambda: self.critic_loss(real, fake, input_gradient))

                (d_loss, non_trainable), grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
                    trainable[:n_d], non_trainable)
                trainable, optimizer_variables = self.optimizer.stateless_apply(
                    optimizer_variables, grads + [None] * n_g, trainable)

            def g_loss_fn(g_weights, non_trainable):
                return self.stateless(trainable[:n_d] + g_weights, non_trainable,
                                      lambda: self.generator_loss(critic_batch))

            (g_loss, non_trainable), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
                trainable[n_d:], non_trainable)
            trainable, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, [None] * n_d + grads, trainable)

            mapping = list(zip(self.metrics_variables, metrics_variables))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                logs = self.results(d_loss, g_loss)
            metrics_variables = [scope.get_current_value(v) for v in self.metrics_variables]
            return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)


"""
## Train
"""

wgan = BackendWGAN(make_critic(), make_generator())
if BACKEND == "jax":
    optimizer = keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)
    optimizer.build(wgan.trainable_weights)
    wgan.compile(d_optimizer=optimizer, g_optimizer=optimizer)
    assert all(a is b for a, b in zip(wgan.trainable_weights, wgan.critic.trainable_weights))
else:
    wgan.compile(d_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
                 g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9))
timer = common.make_epoch_timer()
wgan.fit(x_train, epochs=args.epochs, batch_size=batch_size, callbacks=[timer], verbose=0)
common.report(args, wgan, timer, len(x_train), batch_size, "plain WGAN-GP")
