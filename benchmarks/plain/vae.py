"""Plain Keras: the keras-io convolutional VAE (and the MLP VAE of Kingma &
Welling), written by hand the keras-io way and trained with ``model.fit`` on
numpy arrays. The loss lives in ``compute_loss``, so Keras' own train step
runs it on TensorFlow, JAX and PyTorch alike.

The hyper-parameters are those of zoo's presets:

- ``--arch conv``: ``vae-mnist`` (latent 2, conv 32-64, dense 16, batch 32, Adam 1e-3)
- ``--arch beta``: ``beta-vae-mnist`` (the same with latent 10, beta 4)
- ``--arch mlp``:  ``mlp-vae-mnist`` (500 tanh units, latent 20, batch 100)

    KERAS_BACKEND=tensorflow python benchmarks/plain/vae.py --data mnist.npz --arch conv
"""

import common

args = common.parse_args(__doc__.splitlines()[0], archs=["conv", "beta", "mlp"])

import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

SETTINGS = {
    "conv": dict(latent_dim=2, beta=1.0, batch_size=32),
    "beta": dict(latent_dim=10, beta=4.0, batch_size=128),
    "mlp": dict(latent_dim=20, beta=1.0, batch_size=100),
}
settings = SETTINGS[args.arch]
latent_dim = settings["latent_dim"]
x_train, _ = common.load_data(args.data, args.examples)
image_shape = x_train.shape[1:]

"""
## Encoder and decoder
"""

encoder_inputs = keras.Input(shape=image_shape)
if args.arch == "mlp":
    h = layers.Flatten()(encoder_inputs)
    h = layers.Dense(500, activation="tanh")(h)
else:
    h = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    h = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(h)
    h = layers.Flatten()(h)
    h = layers.Dense(16, activation="relu")(h)
z_mean = layers.Dense(latent_dim, name="z_mean")(h)
z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
encoder = keras.Model(encoder_inputs, [z_mean, z_log_var], name="encoder")

latent_inputs = keras.Input(shape=(latent_dim,))
if args.arch == "mlp":
    h = layers.Dense(500, activation="tanh")(latent_inputs)
    h = layers.Dense(int(image_shape[0] * image_shape[1] * image_shape[2]))(h)
    decoder_outputs = layers.Reshape(image_shape)(h)
else:
    h = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    h = layers.Reshape((7, 7, 64))(h)
    h = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(h)
    h = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(h)
    decoder_outputs = layers.Conv2DTranspose(1, 3, padding="same")(h)  # logits
decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")

"""
## The VAE: sampling in `call`, the negative ELBO in `compute_loss`
"""


class VAE(keras.Model):
    def __init__(self, encoder, decoder, beta=1.0, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.beta = beta
        self.seed_generator = keras.random.SeedGenerator(1337)
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    def call(self, data):
        z_mean, z_log_var = self.encoder(data)
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        z = z_mean + ops.exp(0.5 * z_log_var) * epsilon
        return z_mean, z_log_var, self.decoder(z)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        z_mean, z_log_var, logits = y_pred
        reconstruction_loss = ops.mean(
            ops.sum(keras.losses.binary_crossentropy(x, logits, from_logits=True), axis=(1, 2))
        )
        kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return reconstruction_loss + self.beta * kl_loss


"""
## Train
"""

vae = VAE(encoder, decoder, beta=settings["beta"])
vae.compile(optimizer=keras.optimizers.Adam(1e-3))
timer = common.make_epoch_timer()
vae.fit(x_train, epochs=args.epochs, batch_size=settings["batch_size"], callbacks=[timer], verbose=0)
common.report(args, vae, timer, len(x_train), settings["batch_size"], f"plain {args.arch} VAE")
