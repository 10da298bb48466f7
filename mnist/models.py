"""``ModelConfig`` → Keras model, the summary derived from the built model, safe loading."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mnist import INPUT_SHAPE, NUM_CLASSES, i18n
from mnist._tf import keras
from mnist.config import ModelConfig
from mnist.i18n import _, ngettext, pgettext

layers = keras.layers

# The standard deviation of a standard normal cut at ±2, which Keras's truncated normal
# divides by so that the *cut* distribution has the deviation asked for.
_TRUNCATION = 0.87962566103423978


def _initializer(name: str) -> keras.initializers.Initializer:
    if name == "variance_scaling":
        # TensorFlow.js's varianceScaling default, the codelab's choice: a normal of deviation
        # sqrt(1 / fan_in) cut at two deviations, *not* rescaled (tfjs-layers initializers.ts).
        # A scale of 0.8796² cancels Keras's rescaling: conv1 draws with std 0.176, as tf.js.
        return keras.initializers.VarianceScaling(
            scale=_TRUNCATION**2, mode="fan_in", distribution="truncated_normal"
        )
    return keras.initializers.get(name)


def build_model(
    config: ModelConfig, name: str = "mnist_cnn", precision: str = "float32"
) -> keras.Model:
    """The CNN ``config`` describes, uncompiled: (N, 28, 28, 1) floats → (N, 10) softmax.

    ``precision`` is the layers' Keras dtype policy (``TrainConfig.precision``); the softmax
    is float32 whatever it is, as Keras's mixed-precision guide advises. The optimiser
    belongs to training (``mnist.training.compile_for_training``).
    """
    init = _initializer(config.initializer)
    p = {"dtype": precision}
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")  # (N, 28, 28, 1), 0–1
    x = inputs
    for b, block in enumerate(config.conv_blocks, start=1):
        for c in range(1, block.convs + 1):
            suffix = f"{b}" if block.convs == 1 else f"{b}_{c}"
            x = layers.Conv2D(
                block.filters,
                block.kernel_size,
                strides=block.stride,
                padding=block.padding,
                kernel_initializer=init,
                # With batch norm the conv's bias is redundant: BN's beta does its job.
                use_bias=not block.batch_norm,
                activation=None if block.batch_norm else block.activation,
                name=f"conv{suffix}",
                **p,
            )(x)
            if block.batch_norm:
                # momentum 0.9, not Keras's 0.99: runs here last a few hundred steps, and with
                # 0.99 the moving statistics lag the weights (measured: 94.8 % vs 97.8 % test
                # accuracy after one epoch of the same model and seed).
                x = layers.BatchNormalization(momentum=0.9, name=f"bn{suffix}", **p)(x)
                x = layers.Activation(block.activation, name=f"{block.activation}{suffix}", **p)(x)
        if block.pool == "max":
            x = layers.MaxPooling2D(2, strides=2, name=f"maxpool{b}", **p)(x)
        elif block.pool == "avg":
            x = layers.AveragePooling2D(2, strides=2, name=f"avgpool{b}", **p)(x)
        if block.dropout:
            x = layers.Dropout(block.dropout, name=f"dropout{b}", **p)(x)
    if config.head == "global_avg":
        x = layers.GlobalAveragePooling2D(name="global_avg", **p)(x)
    else:
        x = layers.Flatten(name="flatten", **p)(x)
    for d, units in enumerate(config.dense_units, start=1):
        x = layers.Dense(units, activation="relu", kernel_initializer=init, name=f"dense{d}", **p)(
            x
        )
    if config.dense_dropout:
        x = layers.Dropout(config.dense_dropout, name="output_dropout", **p)(x)
    outputs = layers.Dense(
        NUM_CLASSES,
        activation="softmax",
        kernel_initializer=init,
        name="probabilities",
        dtype="float32",
    )(x)
    return keras.Model(inputs, outputs, name=name)


@dataclass(frozen=True)
class LayerRow:
    """One row of the summary table."""

    name: str
    type: str
    output_shape: str  # e.g. "(None, 24, 24, 8)"
    params: int


def summary_rows(model: keras.Model) -> list[LayerRow]:
    """Layer, type, output shape and parameter count for every layer, read off the built model."""
    rows = []
    for layer in model.layers:
        shape = tuple(layer.output.shape)
        rows.append(
            LayerRow(
                name=layer.name,
                type=type(layer).__name__,
                output_shape=str(shape).replace("None", "batch"),
                params=layer.count_params(),
            )
        )
    return rows


def layer_kind(kind: str) -> str:
    """A Keras layer class as the dashboard shows it: in English the class itself; in another
    language what it does, with the class name a learner types after it."""
    shown = {
        "InputLayer": pgettext("Keras layer class", "InputLayer"),
        "Conv2D": pgettext("Keras layer class", "Conv2D"),
        "BatchNormalization": pgettext("Keras layer class", "BatchNormalization"),
        "Activation": pgettext("Keras layer class", "Activation"),
        "MaxPooling2D": pgettext("Keras layer class", "MaxPooling2D"),
        "AveragePooling2D": pgettext("Keras layer class", "AveragePooling2D"),
        "Dropout": pgettext("Keras layer class", "Dropout"),
        "Flatten": pgettext("Keras layer class", "Flatten"),
        "GlobalAveragePooling2D": pgettext("Keras layer class", "GlobalAveragePooling2D"),
        "Dense": pgettext("Keras layer class", "Dense"),
    }
    return shown.get(kind, kind)


def layer_name(name: str) -> str:
    """A layer's name as the dashboard shows it: ``build_model``'s two plain-word names with
    their meaning before them in another language (the others are code: ``conv1``)."""
    shown = {
        "image": pgettext("layer name", "image"),
        "probabilities": pgettext("layer name", "probabilities"),
    }
    return shown.get(name, name)


def shown_row(row: LayerRow) -> dict:
    """A summary row as the Model page's table shows it, in the session's language (the keys
    stay ``LayerRow``'s fields)."""
    return {
        "name": layer_name(row.name),
        "type": layer_kind(row.type),
        "output_shape": row.output_shape.replace("batch", pgettext("tensor axis", "batch")),
        "params": row.params,
    }


def parameter_counts(model: keras.Model) -> dict[str, int]:
    """Total, trainable and non-trainable (e.g. batch-norm statistics) parameters."""
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    frozen = sum(int(w.numpy().size) for w in model.non_trainable_weights)
    return {"total": trainable + frozen, "trainable": trainable, "non_trainable": frozen}


_COLOURS = {
    "InputLayer": "#e8f1fa",
    "Conv2D": "#cfe3f6",
    "BatchNormalization": "#eeeeee",
    "Activation": "#eeeeee",
    "MaxPooling2D": "#fde2c8",
    "AveragePooling2D": "#fde2c8",
    "Dropout": "#f3f3f3",
    "Flatten": "#e3f2d9",
    "GlobalAveragePooling2D": "#e3f2d9",
    "Dense": "#d6ecd0",
}


def _describe(layer: keras.layers.Layer) -> str:
    """What a layer does, in a few words, from its own config (in the dashboard's language:
    only the Model page's diagram shows it)."""
    cfg = layer.get_config()
    kind = type(layer).__name__
    if kind == "Conv2D":
        k = cfg["kernel_size"]
        parts = [
            ngettext("{n} filter {h}×{w}", "{n} filters {h}×{w}", cfg["filters"]).format(
                n=cfg["filters"], h=k[0], w=k[1]
            )
        ]
        if tuple(cfg["strides"]) != (1, 1):
            parts.append(_("stride {stride}").format(stride=cfg["strides"][0]))
        if cfg["activation"] != "linear":
            parts.append(str(cfg["activation"]))
        return ", ".join([*parts, str(cfg["padding"])])
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return f"{cfg['pool_size'][0]}×{cfg['pool_size'][1]}"
    if kind == "Dense":
        units = ngettext("{n} unit", "{n} units", cfg["units"]).format(n=cfg["units"])
        return f"{units}, {cfg['activation']}"
    if kind == "Dropout":
        return _("rate {rate}").format(rate=f"{cfg['rate']:g}")
    if kind == "Activation":
        return str(cfg["activation"])
    return ""


def model_dot(model: keras.Model) -> str:
    """A Graphviz (DOT) diagram of the built model, top to bottom: one box per layer (name,
    type, what it does, parameters) and the tensor's shape on each arrow."""
    lines = [
        "digraph model {",
        '  rankdir=TB; bgcolor="transparent"; nodesep=0.2; ranksep=0.28;',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=12,'
        ' margin="0.15,0.05", height=0.3];',
        '  edge [fontname="Helvetica", fontsize=11, color="#666666", arrowsize=0.7];',
    ]
    names = []
    for layer in model.layers:
        kind = type(layer).__name__
        detail = _describe(layer)
        params = layer.count_params()
        label = f"{layer_name(layer.name)} · {layer_kind(kind)}"
        counted = ngettext("{n} param", "{n} params", params).format(n=i18n.number(params))
        second = " · ".join(filter(None, [detail, counted if params else ""]))
        if second:
            label += f"\\n{second}"
        colour = _COLOURS.get(kind, "#ffffff")
        lines.append(f'  "{layer.name}" [label="{label}", fillcolor="{colour}"];')
        names.append(layer.name)
    for before, after, layer in zip(names, names[1:], model.layers, strict=False):
        shape = "×".join(str(d) for d in layer.output.shape[1:])
        lines.append(f'  "{before}" -> "{after}" [label="  {shape}"];')
    out_shape = "×".join(str(d) for d in model.layers[-1].output.shape[1:])
    label = _("{shape} probabilities").format(shape=out_shape)
    lines.append(f'  output [shape=plaintext, style="", label="{label}"];')
    lines.append(f'  "{names[-1]}" -> output;')
    lines.append("}")
    return "\n".join(lines)


def export_for_inference(source: str | Path, dest: str | Path) -> Path:
    """Copy a trained ``.keras`` file without its optimizer state (a third of the size).

    Written to a temporary name and renamed, so ``dest`` is never half-written.
    """
    model = load_model(source)  # compile=False: no optimizer comes along
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return save_model_atomic(model, dest)


def save_model_atomic(model: keras.Model, dest: Path) -> Path:
    """``model.save`` to a temporary name, then renamed to ``dest``: never half-written."""
    tmp = dest.with_name(f".{dest.stem}.{os.getpid()}.tmp.keras")  # Keras wants .keras
    model.save(tmp)
    os.replace(tmp, dest)
    return dest


def _shape_text(shape) -> str:
    return "×".join("?" if d is None else str(d) for d in shape[1:]) or _("scalar")


def check_input_output(model: keras.Model, name: str) -> keras.Model:
    """``model`` if it takes 28×28×1 images and gives 10 probabilities, else ``ValueError``
    with one sentence saying what it is made for (in the dashboard's language)."""
    shape_in, shape_out = model.input_shape, model.output_shape
    if isinstance(shape_in, list) or isinstance(shape_out, list):
        raise ValueError(
            _(
                "{name} has several inputs or outputs; this app needs a model that takes one "
                "28×28×1 image and gives 10 probabilities"
            ).format(name=name)
        )
    if tuple(shape_in[1:]) != INPUT_SHAPE or tuple(shape_out[1:]) != (NUM_CLASSES,):
        raise ValueError(
            _(
                "{name}: this model takes {shape_in} images and gives {shape_out} outputs; "
                "this app needs 28×28×1 images in and {classes} probabilities out"
            ).format(
                name=name,
                shape_in=_shape_text(shape_in),
                shape_out=_shape_text(shape_out),
                classes=NUM_CLASSES,
            )
        )
    return model


def load_model(path: str | Path) -> keras.Model:
    """Load a ``.keras`` file safely (``safe_mode`` on: no arbitrary code from the file) and
    check that it is a digit classifier (28×28×1 in, 10 out); ``ValueError`` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(_("{path}: no such model file").format(path=path))
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception:  # Keras raises many types, with long messages, for a bad archive
        raise ValueError(_("{path}: not a readable Keras model file").format(path=path)) from None
    return check_input_output(model, str(path))
