"""The small typed objects that plugins hand to zoo through its hooks.

Creating a spec must stay cheap: no Keras, no backend. The heavy work lives
behind ``build``/``load`` callables, which import what they need when called.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class NoConfig:
    """Config for things that take no options."""


@dataclass(frozen=True)
class DataInfo:
    """What a model builder needs to know about the data it will see.

    Attributes:
        image_shape: ``(height, width, channels)`` of one image.
        num_classes: number of label classes, or ``None`` when unlabelled.
    """

    image_shape: tuple
    num_classes: Optional[int] = None


@dataclass
class Dataset:
    """Train and test splits in zoo's one data layout.

    Images are float32 in ``[0, 1]``, shaped ``(N, H, W, C)``: numpy arrays,
    or :class:`zoo_core.data.stream.DiskImages` for splits streamed from zoo's
    8-bit on-disk cache; labels are int64 class indices shaped ``(N,)`` or ``None``.
    """

    name: str
    x_train: np.ndarray
    x_test: np.ndarray
    y_train: Optional[np.ndarray] = None
    y_test: Optional[np.ndarray] = None
    num_classes: Optional[int] = None
    #: Shown to the user before training, e.g. "using a 5,000-image subset".
    notice: Optional[str] = None
    #: Where the data came from (a path or a description).
    source: str = ""

    @property
    def info(self) -> DataInfo:
        return DataInfo(tuple(int(d) for d in self.x_train.shape[1:]), self.num_classes)


@dataclass(frozen=True)
class ModelSpec:
    """A model a plugin offers.

    Attributes:
        name: registry name, e.g. ``"vae"``.
        description: one line for ``zoo list``.
        config: a dataclass type; its fields are the model's hyper-parameters.
        build: ``build(config, data: DataInfo, loss) -> keras.Model``. Imports
            Keras lazily. ``loss`` is the object built by the chosen loss spec.
        loss_interface: the kind of loss object this model consumes; any loss
            spec with the same ``interface`` can be paired with it.
        default_loss: name of the loss used when a preset or user names none.
        default_loss_config: loss options used with ``default_loss``.
        needs_labels: the model is class-conditional and needs labelled data.
    """

    name: str
    description: str
    config: type
    build: Callable[..., Any]
    loss_interface: str
    default_loss: str
    default_loss_config: Mapping[str, Any] = field(default_factory=dict)
    needs_labels: bool = False


@dataclass(frozen=True)
class LossSpec:
    """A loss a plugin offers, looked up by name from any model's plugin.

    Attributes:
        name: registry name, e.g. ``"elbo"``.
        description: one line for ``zoo list``.
        config: a dataclass type with the loss's options.
        build: ``build(config) -> loss object``; what the object is called
            with is defined by ``interface``.
        interface: which models can use this loss (see ``ModelSpec``).
    """

    name: str
    description: str
    config: type
    build: Callable[..., Any]
    interface: str


@dataclass(frozen=True)
class DatasetSpec:
    """A data set a plugin offers.

    Attributes:
        name: registry name; on the command line ``name`` or ``name:ARG``
            (``npz:data/faces.npz``), ARG being passed to ``load``.
        description: one line for ``zoo list``.
        load: ``load(arg: str | None, image_size: int | None) -> Dataset``.
            Raise :class:`zoo_core.errors.ZooError` for bad or missing data.
        image_shape: the native image shape when known without loading.
        num_classes: number of classes when known without loading.
        needs_arg: ``ARG`` is required (e.g. a path).
        arg_help: what ``ARG`` means, for ``zoo info``.
        describe: ``describe(arg, image_size) -> DataInfo``: the image shape and
            class count without loading the pixels (``zoo build`` uses it), or None.
    """

    name: str
    description: str
    load: Callable[..., Dataset]
    image_shape: Optional[tuple] = None
    num_classes: Optional[int] = None
    needs_arg: bool = False
    arg_help: str = ""
    config: type = NoConfig
    describe: Optional[Callable[..., DataInfo]] = None


@dataclass(frozen=True)
class PresetSpec:
    """A named, ready-to-train recipe, and perhaps the weights it trained.

    The mapping fields hold overrides of the model, loss and training configs;
    anything not named keeps its default.
    """

    name: str
    description: str
    model: str
    dataset: str
    loss: Optional[str] = None
    model_config: Mapping[str, Any] = field(default_factory=dict)
    loss_config: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)
    #: Where it was defined: a plugin name or a TOML file path.
    origin: str = ""
    #: Published weights: ``{"uri": ..., "sha256": ...}``, the URI an exported
    #: model's ``.zip`` (``package://MODULE/PATH`` inside an installed plugin,
    #: ``https://``, a path) or folder (``hf://OWNER/NAME``). ``--pretrained`` loads them.
    weights: Optional[Mapping[str, Any]] = None
    #: What ``zoo sweep PRESET`` searches when no ``--space`` is given: ``space``
    #: (key -> distribution text, as ``--space`` takes), and optionally ``trials``,
    #: ``seeds``, ``objective``, ``pruner``, ``eval_num``.
    sweep: Mapping[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> type:  # so ``zoo info`` can treat every spec alike
        return NoConfig


@dataclass(frozen=True)
class TrackerSpec:
    """An experiment tracker a plugin offers: ``--track NAME[=URI]`` on
    ``zoo train``, ``zoo eval`` and ``zoo sweep`` sends runs to it.

    Attributes:
        name: registry name, e.g. ``"mlflow"``; the NAME of ``--track NAME[=URI]``.
        description: one line for ``zoo list``.
        open: ``open(uri: str | None) -> Tracker`` (a
            :class:`zoo_core.tracking.Tracker`); ``uri`` is what follows ``=``,
            None for the tracker's own default. Imports the tracker's library
            when called; an ``ImportError`` becomes a one-line error showing ``install``.
        install: the command that installs the library when it is missing,
            e.g. ``"pip install 'zoo-core[mlflow]'"``.
    """

    name: str
    description: str
    open: Callable[[Optional[str]], Any]
    install: str = ""

    @property
    def config(self) -> type:  # so ``zoo info`` can treat every spec alike
        return NoConfig


def config_fields(config_type: type) -> list[dataclasses.Field]:
    """The dataclass fields of a config type (empty for ``NoConfig``)."""
    return list(dataclasses.fields(config_type)) if dataclasses.is_dataclass(config_type) else []
