"""Config checks and the preset pair the hybrids share. No Keras here: configs are built when
``zoo info`` or ``zoo list`` reads them. Every message is one line."""

from __future__ import annotations

#: The loss interface every hybrid's adversarial term uses (zoo-gan's losses
#: define it: ``discriminator(real_logits, fake_logits)``, ``generator(fake_logits)``).
INTERFACE = "gan"


def at_least_one(config, *names: str) -> None:
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"'{name}' must be at least 1, got {getattr(config, name)}")


def positive_lists(config, *names: str) -> None:
    for name in names:
        values = getattr(config, name)
        if not values or min(values) < 1:
            raise ValueError(f"'{name}' must be a non-empty list of positive integers, got {list(values)}")


def non_negative(config, *names: str) -> None:
    for name in names:
        if not getattr(config, name) >= 0:
            raise ValueError(f"'{name}' must be >= 0, got {getattr(config, name)}")


def learning_rates(config, *networks: str) -> None:
    for network in networks:
        name = f"{network}_learning_rate"
        value = getattr(config, name)
        if value is not None and not value > 0:
            raise ValueError(f"'{name}' must be positive, got {value}")


def mnist_presets(model: str, about: str, model_config: dict, train: dict, loss: str = "non-saturating") -> list:
    """``MODEL-mnist`` and ``MODEL-fashion-mnist``: the same recipe on each data set."""
    from zoo_core.specs import PresetSpec

    return [PresetSpec(name=f"{model}-{dataset}", description=f"{about} on {title}", model=model, dataset=dataset,
                       loss=loss, model_config=dict(model_config), train=dict(train))
            for dataset, title in (("mnist", "MNIST"), ("fashion-mnist", "Fashion-MNIST"))]

