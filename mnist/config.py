"""Typed, frozen configurations — ``ModelConfig``, ``TrainConfig`` — and the presets.

Kept free of TensorFlow so the dashboard's home page and session defaults import in
milliseconds; ``mnist.models.build_model`` turns a ``ModelConfig`` into Keras layers.
Every config validates itself on construction: an invalid one raises ``ValueError`` with a
message meant for the person who chose the values (in the dashboard's language when the
dashboard checks them; English everywhere else, see ``mnist.i18n``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from mnist import IMAGE_SIDE, TRAIN_IMAGES, VALIDATION_IMAGES, i18n
from mnist.i18n import N_, _, ngettext

ACTIVATIONS = ("relu", "elu", "gelu", "selu", "tanh", "sigmoid", "swish")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine")
# Keras dtype policies: all float32, or bfloat16 arithmetic with float32 weights (about 1.6×
# faster on CPUs with AVX512_BF16 or AMX; several times slower on others, which emulate it);
# "auto" is mixed_bfloat16 where the CPU has bfloat16 and float32 elsewhere (mnist.hardware).
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
PRECISION_WORDS = {  # shown translated: _(PRECISION_WORDS[p])
    "mixed_bfloat16": N_("bfloat16 mixed precision"),
    "auto": N_("bfloat16 if the CPU has it"),
}
INITIALIZERS = ("he_normal", "glorot_uniform", "variance_scaling")
PADDINGS = ("same", "valid")
POOLS = ("max", "avg", "none")
HEADS = ("flatten", "global_avg")


# The checks' messages are templates marked with N_ and translated only when one fails (in
# the language of whoever is looking: the dashboard's session, else English); ``name`` is a
# setting's name, marked with N_ where it is checked.


def _check(ok: bool, message: str, **fields: Any) -> None:
    if not ok:
        raise ValueError(_(message).format(**fields))


def _choice(name: str, value: str, options: tuple[str, ...]) -> None:
    _check(
        value in options,
        N_("{name} must be one of {options}; got {value!r}"),
        name=_(name),
        options=", ".join(options),
        value=value,
    )


def _int_in(name: str, value: Any, low: int, high: int) -> None:
    _check(
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
        N_("{name} must be a whole number from {low} to {high}; got {value!r}"),
        name=_(name),
        low=low,
        high=high,
        value=value,
    )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fraction(name: str, value: Any) -> None:
    _check(
        _number(value) and 0.0 <= value < 1.0,
        N_("{name} must be at least 0 and below 1; got {value!r}"),
        name=_(name),
        value=value,
    )


def _flag(name: str, value: Any) -> None:
    _check(
        isinstance(value, bool),
        N_("{name} must be true or false; got {value!r}"),
        name=_(name),
        value=value,
    )


def _learning_rate(value: Any) -> None:
    _check(
        _number(value) and 0 < value <= 10,
        N_("learning rate must be above 0 and at most 10; got {value!r}"),
        value=value,
    )


@dataclass(frozen=True)
class ConvBlock:
    """One stage of the feature extractor: ``convs`` convolutions, then pooling and dropout."""

    filters: int = 32  # output channels of each convolution
    kernel_size: int = 3  # square kernel side, in pixels
    stride: int = 1  # convolution stride
    convs: int = 1  # convolutions in the block (VGG-style stacks share one pooling layer)
    activation: str = "relu"
    batch_norm: bool = False  # BatchNormalization between each convolution and its activation
    padding: str = "same"  # "valid" shrinks the map by kernel_size - 1 per convolution
    pool: str = "max"  # "max", "avg" or "none": 2×2 pooling with stride 2 after the convs
    dropout: float = 0.0  # fraction of activations dropped after the block (training only)

    def __post_init__(self) -> None:
        _int_in(N_("filters"), self.filters, 1, 1024)
        _int_in(N_("kernel size"), self.kernel_size, 1, IMAGE_SIDE)
        _int_in(N_("stride"), self.stride, 1, IMAGE_SIDE)
        _int_in(N_("convolutions per block"), self.convs, 1, 8)
        _choice(N_("activation"), self.activation, ACTIVATIONS)
        _choice(N_("padding"), self.padding, PADDINGS)
        _choice(N_("pooling"), self.pool, POOLS)
        _fraction(N_("block dropout"), self.dropout)
        _flag(N_("batch normalisation"), self.batch_norm)

    def output_side(self, side: int) -> int:
        """Side of the square feature map this block makes from a ``side``×``side`` input."""
        for _conv in range(self.convs):
            if self.padding == "valid":
                side = max(0, (side - self.kernel_size) // self.stride + 1)
            else:
                side = math.ceil(side / self.stride)
        if self.pool != "none":
            side //= 2
        return side


@dataclass(frozen=True)
class ModelConfig:
    """A CNN for 28×28×1 inputs and 10 classes, as ``build_model`` will make it."""

    conv_blocks: tuple[ConvBlock, ...] = (ConvBlock(), ConvBlock(filters=64))
    head: str = "flatten"  # "flatten" or "global_avg" (global average pooling) before dense
    dense_units: tuple[int, ...] = (128,)  # hidden dense layers before the 10-way softmax
    dense_dropout: float = 0.0  # dropout before the 10-way softmax layer (training only)
    # Kernel initialiser of every conv and dense layer; "variance_scaling" is TensorFlow.js's
    # default (the codelab's): a normal of deviation sqrt(1 / fan_in), cut at ±2 deviations.
    initializer: str = "he_normal"

    def __post_init__(self) -> None:
        # Lists from JSON or a form become tuples, so the config stays hashable and frozen.
        blocks = tuple(
            b if isinstance(b, ConvBlock) else ConvBlock(**_known_fields(ConvBlock, b))
            for b in self.conv_blocks
        )
        object.__setattr__(self, "conv_blocks", blocks)
        object.__setattr__(self, "dense_units", tuple(self.dense_units))
        _int_in(N_("number of conv blocks"), len(self.conv_blocks), 1, 8)
        _choice(N_("head"), self.head, HEADS)
        for units in self.dense_units:
            _int_in(N_("dense units"), units, 1, 4096)
        _check(len(self.dense_units) <= 4, N_("at most 4 hidden dense layers"))
        _fraction(N_("dense dropout"), self.dense_dropout)
        _choice(N_("initializer"), self.initializer, INITIALIZERS)
        side = IMAGE_SIDE
        for i, block in enumerate(self.conv_blocks, start=1):
            new_side = block.output_side(side)
            _check(
                new_side >= 1,
                N_(
                    "conv block {i} would shrink its {side}×{side} input below 1×1 "
                    "(kernel {kernel}, stride {stride}, {padding} padding, pooling {pool}); "
                    "use fewer blocks, 'same' padding, a smaller kernel or stride, or no pooling"
                ),
                i=i,
                side=side,
                kernel=block.kernel_size,
                stride=block.stride,
                padding=block.padding,
                pool=block.pool,
            )
            side = new_side

    def feature_sides(self) -> list[int]:
        """Side of the feature map after each conv block, e.g. [12, 4] for the codelab model."""
        sides, side = [], IMAGE_SIDE
        for block in self.conv_blocks:
            side = block.output_side(side)
            sides.append(side)
        return sides

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        return cls(**_known_fields(cls, data))


@dataclass(frozen=True)
class TrainConfig:
    """How a run trains the model: optimiser, sizes, batches, epochs, data and stopping."""

    epochs: int = 5
    batch_size: int = 128
    optimizer: str = "adam"  # adam, adamw, rmsprop, or sgd (with Nesterov momentum 0.9)
    learning_rate: float = 1e-3  # the peak learning rate
    lr_schedule: str = "constant"  # "cosine" decays to 0 over the planned training steps
    train_size: int | None = None  # None: all 60,000 - validation_size training images
    validation_size: int = VALIDATION_IMAGES  # held out (stratified) for val_* metrics
    seed: int = 0  # data split, shuffling, initial weights, augmentation
    augment: bool = False  # random rotation ±10°, shift ±10 %, zoom ±10 % (training only)
    early_stopping: int = 0  # patience in epochs on val_loss, best weights restored; 0: off
    precision: str = "float32"  # "float32", "mixed_bfloat16" (Keras dtype policies) or "auto"

    def __post_init__(self) -> None:
        _int_in(N_("epochs"), self.epochs, 1, 500)
        _int_in(N_("batch size"), self.batch_size, 1, 8192)
        _choice(N_("optimizer"), self.optimizer, OPTIMIZERS)
        _learning_rate(self.learning_rate)
        _choice(N_("learning-rate schedule"), self.lr_schedule, SCHEDULES)
        _choice(N_("precision"), self.precision, PRECISIONS)
        _int_in(N_("validation size"), self.validation_size, 0, 30_000)
        if self.train_size is not None:
            _int_in(N_("train size"), self.train_size, 10, TRAIN_IMAGES - self.validation_size)
        _int_in(N_("seed"), self.seed, 0, 2**31 - 1)
        _int_in(N_("early-stopping patience"), self.early_stopping, 0, 500)
        _check(
            not (self.early_stopping and self.validation_size == 0),
            N_("early stopping watches val_loss, so it needs a validation size above 0"),
        )
        _flag(N_("augmentation"), self.augment)

    def describe(self) -> str:
        """One line for people: what a run with these settings does (in the session's
        language in the dashboard; English elsewhere)."""
        images = self.train_size or TRAIN_IMAGES - self.validation_size
        optimizer = (
            _("{optimizer}, learning rate {rate}, cosine decay")
            if self.lr_schedule == "cosine"
            else _("{optimizer}, learning rate {rate}")
        )
        parts = [
            _("{train} training + {validation} validation images").format(
                train=i18n.number(images), validation=i18n.number(self.validation_size)
            ),
            ngettext(
                "{epochs} epoch of batch {batch}", "{epochs} epochs of batch {batch}", self.epochs
            ).format(epochs=self.epochs, batch=self.batch_size),
            optimizer.format(optimizer=self.optimizer, rate=f"{self.learning_rate:g}"),
            _("augmented") if self.augment else _("no augmentation"),
            _("early stopping (patience {epochs})").format(epochs=self.early_stopping)
            if self.early_stopping
            else "",
            _(PRECISION_WORDS[self.precision]) if self.precision in PRECISION_WORDS else "",
            _("seed {seed}").format(seed=self.seed),
        ]
        return " · ".join(p for p in parts if p)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        return cls(**_known_fields(cls, data))


FINETUNE_MODES = ("head", "features", "all")
FINETUNE_MODE_WORDS = {  # shown translated: _(FINETUNE_MODE_WORDS[mode])
    "head": N_("only the last layer (the ten digit scores) learns; everything before it is frozen"),
    "features": N_("the convolutions are frozen; the dense layers after them learn"),
    "all": N_("every layer learns, at a low learning rate"),
}
# Learning rates that suit each mode: a frozen body can take Adam's usual step; moving every
# layer needs a small one, or the features MNIST taught are overwritten in a few steps.
FINETUNE_LEARNING_RATES = {"head": 1e-3, "features": 1e-3, "all": 1e-4}


@dataclass(frozen=True)
class FinetuneConfig:
    """What a fine-tuning run starts from and what it learns from, for ``config.json``.

    The base model and the personal samples are copied into the run folder when it is made
    (``base.keras``, ``personal.npz``), so the run is the same whatever happens to them later.
    """

    base: str  # what the base model was, for people: "run <id>", "the bundled model" or a path
    base_sha256: str  # of the base model's file
    mode: str = "features"  # FINETUNE_MODES
    samples_dir: str = ""  # the personal set it was made from
    samples_fingerprint: str = ""  # mnist.personal.PersonalSet.fingerprint() at the time
    personal_train: int = 0  # samples trained on
    personal_test: int = 0  # samples held out
    personal_share: float = 0.25  # of each epoch's images: personal samples (the rest MNIST)

    def __post_init__(self) -> None:
        _choice(N_("fine-tuning mode"), self.mode, FINETUNE_MODES)
        _check(
            _number(self.personal_share) and 0 < self.personal_share < 1,
            N_("the personal share of each epoch must be between 0 and 1; got {share!r}"),
            share=self.personal_share,
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FinetuneConfig:
        return cls(**_known_fields(cls, data))


# Before format 2 of config.json the optimiser lived in the model config, and the training
# config could override two of its fields (None: "the model's").
_OPTIMIZER_FIELDS = ("optimizer", "learning_rate", "lr_schedule")


def migrate_optimizer_fields(model: dict, train: dict) -> tuple[dict, dict]:
    """Model and training dicts of any format → today's: the optimiser moved into training."""
    model, train = dict(model), dict(train)
    for name in _OPTIMIZER_FIELDS:
        from_model = model.pop(name, None)
        if train.get(name) is None:
            train.pop(name, None)
            if from_model is not None:
                train[name] = from_model
    return model, train


def _known_fields(cls: type, data: Any) -> dict:
    _check(
        isinstance(data, dict),
        N_("a {kind} must be a mapping; got {data!r}"),
        kind=cls.__name__,
        data=data,
    )
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    _check(
        not unknown,
        N_("unknown {kind} field(s): {fields}"),
        kind=cls.__name__,
        fields=", ".join(unknown),
    )
    return dict(data)


@dataclass(frozen=True)
class Preset:
    """A named model with the training it was designed for."""

    name: str  # its id: in run folders, lists and the CLI
    title: str  # marked with N_, shown translated: _(preset.title)
    description: str  # the same
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)


# The TF.js codelab "Handwritten digit recognition with CNNs", layer for layer: 5,994 parameters,
# the same initialiser (tf.js's varianceScaling), optimiser, batch, epochs and data budget.
CODELAB = Preset(
    name="codelab",
    title=N_("Codelab"),
    description=N_(
        "The TensorFlow.js codelab's CNN, layer for layer: conv 8×5×5 → max-pool → conv 16×5×5 "
        "→ max-pool → dense 10, tf.js's variance-scaling initialiser, Adam; trained as the "
        "codelab did, on 5,500 images with 1,000 for validation, batch 512, 10 epochs."
    ),
    model=ModelConfig(
        conv_blocks=(
            ConvBlock(filters=8, kernel_size=5, padding="valid", pool="max"),
            ConvBlock(filters=16, kernel_size=5, padding="valid", pool="max"),
        ),
        dense_units=(),
        initializer="variance_scaling",
    ),
    train=TrainConfig(
        epochs=10,
        batch_size=512,
        optimizer="adam",
        learning_rate=1e-3,
        train_size=5_500,
        validation_size=1_000,
    ),
)

FAST = Preset(
    name="fast",
    title=N_("Fast"),
    description=N_(
        "The quickest route to 99% we measured on a 2-core CPU: the codelab's shape with 32 "
        "and 64 filters and a dense layer, Adam with a cosine schedule, 2 epochs, in bfloat16 "
        "mixed precision on CPUs that have it (float32 elsewhere)."
    ),
    model=ModelConfig(
        conv_blocks=(
            ConvBlock(filters=32, kernel_size=5, padding="valid"),
            ConvBlock(filters=64, kernel_size=5, padding="valid"),
        ),
        dense_units=(128,),
    ),
    train=TrainConfig(
        epochs=2,
        batch_size=128,
        optimizer="adam",
        learning_rate=1.5e-3,
        lr_schedule="cosine",
        precision="auto",
    ),
)

BEST = Preset(
    name="best",
    title=N_("Best"),
    description=N_(
        "Six batch-normalised convolutions (3×3 pairs, then a 5×5 with stride 2 in place of "
        "pooling, dropout 0.4 after each group), 30 epochs on augmented images (rotation, "
        "shift, zoom), Adam with a cosine schedule: the recipe of the bundled default model "
        "(models/README.md)."
    ),
    model=ModelConfig(
        conv_blocks=(
            ConvBlock(
                filters=32, kernel_size=3, convs=2, padding="valid", batch_norm=True, pool="none"
            ),
            ConvBlock(
                filters=32, kernel_size=5, stride=2, batch_norm=True, pool="none", dropout=0.4
            ),
            ConvBlock(
                filters=64, kernel_size=3, convs=2, padding="valid", batch_norm=True, pool="none"
            ),
            ConvBlock(
                filters=64, kernel_size=5, stride=2, batch_norm=True, pool="none", dropout=0.4
            ),
        ),  # fmt: skip
        dense_units=(128,),
        dense_dropout=0.4,
    ),
    train=TrainConfig(
        epochs=30,
        batch_size=64,
        optimizer="adam",
        learning_rate=2e-3,
        lr_schedule="cosine",
        augment=True,
    ),
)

PRESETS: dict[str, Preset] = {p.name: p for p in (CODELAB, FAST, BEST)}


@dataclass(frozen=True)
class Reference:
    """A measured accuracy drawn as a reference line on the training charts, with its source."""

    name: str  # marked with N_; ``label`` shows it translated
    value: float  # test accuracy, 0–1
    source: str  # marked with N_, shown translated: _(reference.source)

    @property
    def label(self) -> str:
        return f"{_(self.name)} {i18n.percent(self.value, 2)}"


REFERENCES: tuple[Reference, ...] = (
    Reference(
        N_("codelab model"),
        0.9157,
        N_(
            "the codelab preset trained as the codelab did (seed 0), measured with "
            "`python -m benchmarks.presets`, table in models/README.md"
        ),
    ),
    Reference(
        N_("Keras example"),
        0.9922,
        N_(
            "keras-io examples/vision/mnist_convnet.py: printed test accuracy 0.9922 after "
            "15 epochs"
        ),
    ),
)
