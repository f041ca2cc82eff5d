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


#: Presets whose weights ship in ``zoo_hybrids/pretrained/`` (``zoo export`` of a
#: run trained here with the preset's own settings on real Fashion-MNIST, with
#: its ``zoo eval``), and each archive's SHA-256. ``--pretrained`` loads them.
PUBLISHED = {
    "aae-fashion-mnist": "e6077e7d4ccee5d747c1bf794c4075039ec0bb655cbd2fcc04db0b75416547e9",
    "labelled-aae-fashion-mnist": "14b5f68d03d362c3ebc731d853d923851c1052912e54223fcc4d1c86117be284",
    "bigan-fashion-mnist": "e59514856d59345e2576b5a34fd46a909d9a9402e36fe8344f180ae887c382e7",
    "alpha-gan-fashion-mnist": "56a334a4f985537d092cb26170edd64901c178a77805fea9955b609ecaa2f777",
    "soft-introvae-fashion-mnist": "13d19aa97f8fec5e575d05a59c818132e11666a6aff557463700ece36e8ac466",
    "vq-vae-fashion-mnist": "2de2761027cc917bfb2e993815ac3697975a7bf9797afcfa453ef345d47ba84a",
}


def published(preset: str):
    """A preset's ``weights``: its archive inside this package, or None."""
    sha = PUBLISHED.get(preset)
    return {"uri": f"package://zoo_hybrids/pretrained/{preset}.zip", "sha256": sha} if sha else None


def mnist_presets(model: str, about: str, model_config: dict, train: dict, loss: str = "non-saturating") -> list:
    """``MODEL-mnist`` and ``MODEL-fashion-mnist``: the same recipe on each data set."""
    from zoo_core.specs import PresetSpec

    return [PresetSpec(name=f"{model}-{dataset}", description=f"{about} on {title}", model=model, dataset=dataset,
                       loss=loss, model_config=dict(model_config), train=dict(train),
                       weights=published(f"{model}-{dataset}"))
            for dataset, title in (("mnist", "MNIST"), ("fashion-mnist", "Fashion-MNIST"))]

