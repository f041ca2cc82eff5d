"""Generation and evaluation of trained runs: ``zoo sample``, ``zoo eval``, ``zoo plot``.

zoo asks models what they can do (duck typing) and never what family they
belong to. A plugin's model takes part by implementing any of these:

``generate(num_samples, seed=None[, labels=None]) -> np.ndarray``
    ``(N, H, W, C)`` float32 images in [0, 1]. An int ``seed`` gives the same
    images every call (on one backend). Enables ``zoo sample`` and the FD,
    KID and class-coverage metrics.
``conditional: bool`` and ``num_classes: int``
    A class-conditional model; ``generate`` then takes ``labels`` (N,) ints.
    Enables ``--class`` and the label-accuracy metric.
``image_shape: tuple``
    ``(H, W, C)``; lets zoo check a data set against the model.
``reconstruct(images) -> np.ndarray``
    Images in, reconstructions out (float32 [0, 1]); ``zoo sample --reconstruct``
    and ``zoo eval``'s reconstruction error (MSE per pixel on test images).
``encode(images) -> (z_mean, z_log_var)``, ``decode(z) -> images``, ``latent_dim: int``
    ``--interpolate``, ``--traverse``, and for ``latent_dim == 2`` ``--latent-plot``.
``log_importance_weights(images, num_samples, seed=None) -> dict``
    For ``num_samples`` draws ``z_j ~ q(z|x)`` per image, float arrays
    ``(N, num_samples)`` named ``log_px_z`` (log p(x|z_j)), ``log_pz`` (log
    p(z_j)) and ``log_qz_x`` (log q(z_j|x)), in nats. zoo computes the ELBO
    (mean of ``log w``) and the IWAE bound (log-mean-exp of ``log w``) from
    them, batching so that ``len(images) * num_samples`` stays small.
    ``images`` arrive binarised when ``likelihood == "bernoulli"``.
``likelihood: str``
    ``"bernoulli"`` or ``"gaussian"`` (or another name): decides whether
    the test images are binarised for the likelihood, and what the report
    says about the data.
``loss_fn``
    If the model has this attribute and it is None after loading, zoo
    builds the run's loss from ``config.toml`` and sets it (losses are not
    saved inside ``.keras`` files).
``sample_grid(grid_size, seed=None) -> (images, columns)``
    Optional: the model's own preferred grid layout (e.g. one row per class).

:func:`evaluate_run` is the programmatic entry point (``zoo train --eval``
uses it); :mod:`.metrics` holds the numerical core.
"""

__all__ = ["EVAL_FILE", "METRICS", "EvalOptions", "evaluate_run"]


def __getattr__(name):
    # Looked up on first use: importing a light part (the report's tables, which
    # zoo list uses) must not import numpy and the metrics with it.
    if name in __all__:
        from . import evaluate

        return getattr(evaluate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
