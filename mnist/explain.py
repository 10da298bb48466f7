"""Inside the network, for any Keras model of 28×28×1 images → 10 probabilities.

- ``activations``: what every layer outputs for one input, in order (one forward pass);
- attributions — why the model gives class ``c`` the probability it does — each a (28, 28) map
  over the input: ``saliency`` (the gradient), ``smoothgrad`` (gradients of noisy copies,
  averaged), ``integrated_gradients`` (gradients along the path from a black image, times the
  input: they add up to p(x) − p(black)), ``grad_cam`` (the last convolution's maps weighted
  by their gradients) and ``occlusion`` (how much hiding each patch lowers p);
- ``fgsm``: the smallest kind of adversarial nudge (a step of ε along the gradient's sign);
- ``features`` and ``pca_2d``: where each digit lives in the penultimate layer.

Gradients come from ``tf.GradientTape`` (the explanation libraries of the Keras 2 era do not
support Keras 3); every method that needs many passes runs them as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist._tf import keras, tf
from mnist.data import to_model_input

SHOWN = (
    keras.layers.Conv2D,
    keras.layers.BatchNormalization,
    keras.layers.Activation,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.Dense,
)  # Dropout, Flatten and Input change nothing worth showing at inference


@dataclass(frozen=True)
class Stage:
    """One layer's output for one input."""

    name: str
    kind: str  # the layer's class name, e.g. "Conv2D"
    values: np.ndarray  # (h, w, channels) for maps, (units,) for vectors

    @property
    def is_map(self) -> bool:
        return self.values.ndim == 3


def _as_batch(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x.reshape((-1, 28, 28, 1))


def shown_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers whose outputs tell a story, in order."""
    return [layer for layer in model.layers if isinstance(layer, SHOWN)]


def stage_model(model: keras.Model) -> keras.Model:
    """A model with the same input that returns every shown layer's output."""
    return keras.Model(model.inputs, [layer.output for layer in shown_layers(model)])


def activations(
    model: keras.Model, x: np.ndarray, stages: keras.Model | None = None
) -> list[Stage]:
    """Every shown layer's output for one (28, 28, 1) input (pass ``stages`` to reuse one
    ``stage_model``)."""
    stages = stages or stage_model(model)
    outputs = stages.predict_on_batch(_as_batch(x))
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [
        Stage(layer.name, type(layer).__name__, np.asarray(out, np.float32)[0])
        for layer, out in zip(shown_layers(model), outputs, strict=True)
    ]


def _gradients(model: keras.Model, xs: np.ndarray, cls: int) -> tuple[np.ndarray, np.ndarray]:
    """d p_cls / d x for a batch of inputs, and p_cls for each."""
    xs = tf.convert_to_tensor(_as_batch(xs))
    with tf.GradientTape() as tape:
        tape.watch(xs)
        p = model(xs, training=False)[:, cls]
    return tape.gradient(p, xs).numpy()[..., 0], p.numpy()


def saliency(model: keras.Model, x: np.ndarray, cls: int) -> np.ndarray:
    """|∂p_cls/∂x| at each pixel: where a small change would move the answer most."""
    grads, _ = _gradients(model, x, cls)
    return np.abs(grads[0])


def smoothgrad(
    model: keras.Model, x: np.ndarray, cls: int, samples: int = 32, noise: float = 0.15,
    seed: int = 0,
) -> np.ndarray:  # fmt: skip
    """The gradient's magnitude averaged over noisy copies of ``x`` (Smilkov et al. 2017):
    the same map with less speckle."""
    rng = np.random.default_rng(seed)
    base = _as_batch(x)
    noisy = base + rng.normal(0.0, noise, (samples, 28, 28, 1)).astype(np.float32)
    grads, _ = _gradients(model, noisy, cls)
    return np.abs(grads).mean(axis=0)


def integrated_gradients(
    model: keras.Model, x: np.ndarray, cls: int, steps: int = 512,
    baseline: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """(x − baseline) × the average gradient along the straight path from the baseline (a
    black image) to x (Sundararajan et al. 2017), by the trapezoidal rule on ``steps``
    intervals. The attributions add up to p(x) − p(baseline).

    A ReLU network's probability changes in kinks, mostly over a short stretch of the path:
    on the bundled model 128 even steps left 1.8–2.1 % of the change unaccounted for, 256
    0.3–1.6 %, 512 0.2–0.6 % (a test requires 1 %). Steps placed where a coarse pass saw p
    change did worse (up to 3 %): the kinks fall between its samples.
    """
    x = _as_batch(x)[0]
    base = np.zeros_like(x) if baseline is None else _as_batch(baseline)[0]
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)[:, None, None, None]
    path = base[None] + alphas * (x - base)[None]
    grads = np.concatenate(
        [_gradients(model, path[i : i + IG_BATCH], cls)[0] for i in range(0, len(path), IG_BATCH)]
    )
    average = (grads[:-1] + grads[1:]).mean(axis=0) / 2.0
    return (x - base)[..., 0] * average


IG_BATCH = 256  # path images per gradient pass


def last_conv_layer(model: keras.Model) -> keras.layers.Layer | None:
    """The last layer with a spatial output (where Grad-CAM looks); None if there is none."""
    spatial = [
        layer
        for layer in model.layers
        if isinstance(layer, SHOWN) and len(layer.output.shape) == 4 and layer.output.shape[1] > 1
    ]
    return spatial[-1] if spatial else None


def grad_cam(model: keras.Model, x: np.ndarray, cls: int) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017): the last spatial layer's maps, each weighted by the
    average gradient of p_cls over it, summed, ReLU'd, and scaled up to 28×28 (0–1)."""
    layer = last_conv_layer(model)
    if layer is None:
        return np.zeros((28, 28), np.float32)
    inner = keras.Model(model.inputs, [layer.output, model.outputs[0]])
    xs = tf.convert_to_tensor(_as_batch(x))
    with tf.GradientTape() as tape:
        maps, probs = inner(xs, training=False)
        p = probs[:, cls]
    grads = tape.gradient(p, maps).numpy()[0]  # (h, w, c)
    maps = maps.numpy()[0]
    weights = grads.mean(axis=(0, 1))
    cam = np.maximum((maps * weights).sum(axis=-1), 0.0)
    cam = tf.image.resize(cam[None, ..., None], (28, 28), method="bilinear").numpy()[0, ..., 0]
    top = float(cam.max())
    return (cam / top if top > 0 else cam).astype(np.float32)


def occlusion(
    model: keras.Model, x: np.ndarray, cls: int, patch: int = 6, stride: int = 2
) -> np.ndarray:
    """How much p_cls drops when a ``patch``×``patch`` square is blacked out, averaged over
    every square covering each pixel (one batch of all the occluded copies)."""
    x = _as_batch(x)[0]
    corners = [(i, j) for i in range(0, 28 - patch + 1, stride)
               for j in range(0, 28 - patch + 1, stride)]  # fmt: skip
    copies = np.repeat(x[None], len(corners), axis=0)
    for k, (i, j) in enumerate(corners):
        copies[k, i : i + patch, j : j + patch] = 0.0
    p0 = float(model.predict_on_batch(x[None])[0, cls])
    drops = p0 - model.predict_on_batch(copies)[:, cls]
    total = np.zeros((28, 28), np.float32)
    count = np.zeros((28, 28), np.float32)
    for (i, j), drop in zip(corners, drops, strict=True):
        total[i : i + patch, j : j + patch] += drop
        count[i : i + patch, j : j + patch] += 1
    return total / np.maximum(count, 1)


def fgsm(model: keras.Model, x: np.ndarray, label: int, epsilon: float) -> np.ndarray:
    """The fast gradient sign method (Goodfellow et al. 2015): one step of size ``epsilon``
    along the sign of the loss's gradient for ``label``, kept within 0–1."""
    xs = tf.convert_to_tensor(_as_batch(x))
    with tf.GradientTape() as tape:
        tape.watch(xs)
        p = model(xs, training=False)[:, label]
        loss = -tf.math.log(tf.maximum(p, 1e-12))
    step = tf.sign(tape.gradient(loss, xs)).numpy()[0]
    return np.clip(_as_batch(x)[0] + epsilon * step, 0.0, 1.0).astype(np.float32)


def penultimate_layer(model: keras.Model) -> keras.layers.Layer:
    """The layer feeding the output layer (dropout skipped): the features a digit ends as."""
    layers = [layer for layer in model.layers[:-1] if not isinstance(layer, keras.layers.Dropout)]
    return layers[-1]


def features(model: keras.Model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """(N, 28, 28[, 1]) images (uint8 or 0–1) → (N, d) penultimate features."""
    return features_and_probabilities(model, images, batch_size)[0]


def features_and_probabilities(
    model: keras.Model, images: np.ndarray, batch_size: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """(N, d) penultimate features and (N, 10) probabilities, in one pass over the images."""
    inner = keras.Model(model.inputs, [penultimate_layer(model).output, model.outputs[0]])
    xs = np.asarray(images)
    xs = to_model_input(xs) if xs.dtype == np.uint8 else xs.astype(np.float32)
    feats, probs = inner.predict(xs.reshape((-1, 28, 28, 1)), batch_size=batch_size, verbose=0)
    return feats.reshape((len(xs), -1)), np.asarray(probs)


def pca_2d(points: np.ndarray) -> np.ndarray:
    """The two directions of largest variance (principal components), as (N, 2) coordinates."""
    centred = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def tile(maps: np.ndarray, columns: int = 8, gap: int = 1) -> np.ndarray:
    """(h, w, c) feature maps → one (rows·(h+gap), columns·(w+gap)) uint8 image, each map
    scaled by the stage's own range (0 stays black where all values are ≥ 0)."""
    h, w, c = maps.shape
    low, high = float(min(maps.min(), 0.0)), float(maps.max())
    scaled = (maps - low) / (high - low) if high > low else np.zeros_like(maps)
    rows = -(-c // columns)
    out = np.zeros((rows * (h + gap) - gap, min(c, columns) * (w + gap) - gap), np.float32)
    for k in range(c):
        r, q = divmod(k, columns)
        out[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = scaled[..., k]
    return (out * 255).round().astype(np.uint8)


@dataclass(frozen=True)
class ConvStep:
    """One output pixel of the first convolution, the way a learner can follow it."""

    patch: np.ndarray  # (k, k) input pixels under the kernel (zeros past the edge)
    kernel: np.ndarray  # (k, k) the filter's weights
    products: np.ndarray  # (k, k) patch × kernel, pixel by pixel
    bias: float
    total: float  # products summed, plus the bias
    activation: str  # the convolution's own activation ("linear" when batch norm follows)
    output: float  # the activation of ``total``: what the layer outputs there


def first_conv_layer(model: keras.Model) -> keras.layers.Conv2D:
    """The model's first convolution (every model ``build_model`` makes has one)."""
    return next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))


def conv_step(model: keras.Model, x: np.ndarray, filter_index: int, row: int, col: int) -> ConvStep:
    """Output pixel (row, col) of filter ``filter_index`` of the model's first Conv2D, computed
    by hand (a stride of 1 or more; "same" or "valid" padding)."""
    conv = first_conv_layer(model)
    weights = conv.get_weights()
    kernel = np.asarray(weights[0], np.float32)[..., 0, filter_index]
    bias = float(weights[1][filter_index]) if conv.use_bias else 0.0
    k = kernel.shape[0]
    stride = conv.strides[0]
    image = _as_batch(x)[0, ..., 0]
    if conv.padding == "same":
        out_side = -(-28 // stride)
        pad_total = max((out_side - 1) * stride + k - 28, 0)
        image = np.pad(image, (pad_total // 2, pad_total - pad_total // 2))
    top, left = row * stride, col * stride
    patch = image[top : top + k, left : left + k]
    products = patch * kernel
    total = float(products.sum()) + bias
    output = float(keras.ops.convert_to_numpy(conv.activation(np.float32(total))))
    return ConvStep(patch, kernel, products, bias, total, conv.activation.__name__, output)


def heat_overlay(x: np.ndarray, heat: np.ndarray, signed: bool = False) -> np.ndarray:
    """A (28, 28) map over the (28, 28) input as an RGB uint8 image: the digit in grey,
    the map in orange (and blue for negative values when ``signed``), scaled to its maximum."""
    grey = 0.35 * _as_batch(x)[0, ..., 0, None].repeat(3, axis=-1)
    top = float(np.abs(heat).max())
    h = heat / top if top > 0 else np.zeros_like(heat)
    warm = np.clip(h, 0, 1)[..., None] * np.array([1.0, 0.55, 0.1])
    cold = np.clip(-h, 0, 1)[..., None] * np.array([0.2, 0.5, 1.0]) if signed else 0.0
    return (np.clip(grey + warm + cold, 0, 1) * 255).round().astype(np.uint8)
