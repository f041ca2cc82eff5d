"""A trained run, ready to sample from or evaluate: its model (loaded in
safe mode), the loss rebuilt from its ``config.toml`` and attached (losses
are not saved inside ``model.keras``), and its data set on request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from ..errors import ZooError
from ..saving.runs import Run, load_model, open_source
from ..specs import Dataset


@dataclass
class LoadedRun:
    """A run and its model.

    Attributes:
        run: the folder (or bare ``.keras`` file) and its config.
        model: the Keras model, with its loss attached where the config names one.
        resolved: the run's config resolved against the installed plugins, or
            None (a bare ``.keras`` file, or a plugin the config names is missing).
        problem: why ``resolved`` is None, for the error shown if it is needed.
    """

    run: Run
    model: Any
    resolved: Any = None
    problem: Optional[str] = None
    _data: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        model = self.run.config.get("model", {}).get("name") if self.run.config else None
        return model or type(self.model).__name__

    @property
    def image_shape(self) -> Optional[tuple]:
        shape = getattr(self.model, "image_shape", None)
        return tuple(int(d) for d in shape) if shape else None

    def _recorded(self, message: str, given: Optional[str]) -> str:
        """A failure to load the data set the run records (an export names its data by file,
        relative to wherever it was made): say so, and how to give it."""
        if given:
            return message
        return (f"{message}; that is the data set {self.run.path} records: give it (or another) with "
                f"--dataset NAME[:ARG]")

    def dataset(self, name: Optional[str], registry, echo: Callable[[str], None] = print) -> tuple[str, Dataset]:
        """The run's data set (or ``name``, e.g. from ``--dataset``), checked
        against the model's image shape; loaded once per run."""
        from ..data.loading import in_memory, load_spec
        from ..plugins.resolve import split_dataset
        from ..training import check_dataset

        given = name
        name = name or (self.run.dataset if self.run.config else None)
        if not name:
            raise ZooError(f"{self.run.path} is a bare .keras file with no data set recorded; "
                           f"name one with --dataset NAME")
        if name in self._data:
            return name, self._data[name]
        base, arg = split_dataset(name)
        spec = registry.dataset(base)
        image_size, crop = None, False
        if self.resolved is not None and name == self.run.dataset:
            image_size, crop = self.resolved.config.train.image_size, self.resolved.config.train.crop
        shape = self.image_shape
        try:
            data = load_spec(spec, arg, image_size, name, crop)
            if shape and tuple(data.info.image_shape) != shape and image_size is None and shape[0] == shape[1]:
                data = spec.load(arg, shape[0])  # a data set of another size, resized to the model's
        except ZooError as exc:
            exc.args = (self._recorded(str(exc), given),)
            raise
        except (OSError, ValueError) as exc:
            raise ZooError(self._recorded(f"could not load dataset '{name}': {exc}", given)) from None
        data = in_memory(check_dataset(data))  # evaluation looks at whole splits
        if data.notice:
            echo(f"Notice: {data.notice}")
        if shape and tuple(data.info.image_shape) != shape:
            raise ZooError(
                f"dataset '{name}' gives {'x'.join(map(str, data.info.image_shape))} images but this "
                f"{type(self.model).__name__} works on {'x'.join(map(str, shape))}; choose a matching --dataset"
            )
        self._data[name] = data
        return name, data


def load_run(path, registry, backend: Optional[str] = None, *, pretrained: bool = False,
             echo: Callable[[str], None] = print) -> LoadedRun:
    """Open a run folder, ``.keras`` file, exported model, URL or (with
    ``pretrained``) a preset's weights, and load its model (choosing the
    backend first), attaching the loss its config names. ``registry`` None
    means every installed plugin."""
    from ..backend import choose_backend
    from ..plugins.resolve import resolve_stored

    if registry is None:
        from ..plugins.registry import load_registry

        registry = load_registry()

    run = path if isinstance(path, Run) else open_source(path, registry, pretrained=pretrained, echo=echo)
    choose_backend(backend)
    model = load_model(run, registry)
    loaded = LoadedRun(run, model)
    if not run.config:
        loaded.problem = f"{run.path} is a bare .keras file: its loss (and so its likelihood) is not recorded"
        return loaded
    try:
        loaded.resolved = resolve_stored(registry, run.config, need_dataset=not run.exported)
    except ZooError as exc:
        loaded.problem = str(exc)
        return loaded
    if hasattr(model, "loss_fn") and model.loss_fn is None:
        config = loaded.resolved.config
        try:
            model.loss_fn = loaded.resolved.loss.build(config.loss_config)
        except (TypeError, ValueError) as exc:
            loaded.problem = f"cannot rebuild the run's loss '{config.loss}': {exc}"
    return loaded


def pick(images: np.ndarray, num: int, seed: int) -> np.ndarray:
    """``num`` distinct indices into ``images``, in a seeded random order."""
    return np.random.default_rng(seed).permutation(len(images))[: min(int(num), len(images))]
