"""Inside the network, for any Keras model of 28×28×1 images → 10 probabilities.

- ``activations``: what every layer outputs for one input, in order (one forward pass);
- attributions — why the model gives class ``c`` the score it does (``scores``: the logit
  its softmax turns into a probability) — each a (28, 28) map over the input: ``saliency``
  (the gradient), ``smoothgrad`` (gradients of noisy copies, averaged),
  ``integrated_gradients`` (gradients along the path from a black image, times the input:
  they add up to score(x) − score(black)), ``grad_cam`` (the last convolution's maps weighted
  by their gradients) and ``occlusion`` (how much hiding each patch lowers the score);
- ``fgsm``: the smallest kind of adversarial nudge (a step of ε along the gradient's sign);
- ``features`` and ``pca_2d``: where each digit lives in the penultimate layer.

Gradients come from ``tf.GradientTape`` (the explanation libraries of the Keras 2 era do not
support Keras 3) in ``tf.function``s compiled once per model; every method that needs many
passes runs them as one batch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from mnist._tf import keras, tf
from mnist.data import to_model_input

ops = keras.ops

SHOWN = (
    keras.layers.Conv2D,
    keras.layers.BatchNormalization,
    keras.layers.Activation,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.Dense,
)  # Dropout, Flatten and Input change nothing worth showing at inference
IG_STEPS = 64  # the page's integrated gradients: intervals along the path (it shows the gap)
IG_BATCH = 256  # images per gradient pass
SMOOTHGRAD_SAMPLES = 32
SMOOTHGRAD_NOISE = 0.15  # the noise's deviation, on inputs from 0 to 1


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
    """Every shown layer's output for one (28, 28, 1) input (``stages``: a ``stage_model``
    to use instead of the model's own, kept one)."""
    stages = stages or _compiled(model).stages
    outputs = stages.predict_on_batch(_as_batch(x))
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [
        Stage(layer.name, type(layer).__name__, np.asarray(out, np.float32)[0])
        for layer, out in zip(shown_layers(model), outputs, strict=True)
    ]


def _softmax_head(model: keras.Model) -> bool:
    last = model.layers[-1]
    return isinstance(last, (keras.layers.Dense, keras.layers.Activation)) and (
        last.activation is keras.activations.softmax
    )


def _scores_from(model: keras.Model, h):
    """The class scores from ``h``, the last layer's input (see ``scores``)."""
    last = model.layers[-1]
    h = ops.cast(h, "float32")
    if not _softmax_head(model):
        return ops.log(ops.maximum(ops.cast(last(h), "float32"), 1e-30))
    if isinstance(last, keras.layers.Activation):
        return h
    z = ops.matmul(h, ops.cast(last.kernel, "float32"))
    return z + ops.cast(last.bias, "float32") if last.use_bias else z


class _Compiled:
    """One model's compiled passes (``tf.function``s traced once, for any batch size and
    class): eager gradient tapes cost ~45 ms per call here, these ~4 ms for one input."""

    def __init__(self, model: keras.Model):
        self.stages = stage_model(model)
        head = keras.Model(model.inputs, model.layers[-1].input)
        image = tf.TensorSpec([None, 28, 28, 1], tf.float32)
        index = tf.TensorSpec([], tf.int32)

        @tf.function(input_signature=[image])
        def all_scores(xs):
            return _scores_from(model, head(xs, training=False))

        @tf.function(input_signature=[image, index])
        def gradients(xs, cls):
            with tf.GradientTape() as tape:
                tape.watch(xs)
                s = _scores_from(model, head(xs, training=False))[:, cls]
            return tape.gradient(s, xs)[..., 0], s

        @tf.function(input_signature=[image, index])
        def loss_gradients(xs, label):
            with tf.GradientTape() as tape:
                tape.watch(xs)
                p = ops.cast(model(xs, training=False), "float32")[:, label]
                loss = -tf.math.log(tf.maximum(p, 1e-12))
            return tape.gradient(loss, xs)

        self.all_scores, self.gradients, self.loss_gradients = all_scores, gradients, loss_gradients
        self.grad_cam = None
        layer = last_conv_layer(model)
        if layer is not None:
            inner = keras.Model(model.inputs, [layer.output, model.layers[-1].input])

            @tf.function(input_signature=[image, index])
            def grad_cam(xs, cls):
                with tf.GradientTape() as tape:
                    maps, h = inner(xs, training=False)
                    s = _scores_from(model, h)[:, cls]
                return tape.gradient(s, maps), maps

            self.grad_cam = grad_cam


_COMPILING = threading.Lock()


def _compiled(model: keras.Model) -> _Compiled:
    """The model's compiled passes, made once and kept on the model itself (so they go when
    it goes; a cache beside it would keep every model ever explained alive)."""
    found = model.__dict__.get("_mnist_explain")
    if found is None:
        with _COMPILING:
            found = model.__dict__.get("_mnist_explain")
            if found is None:
                found = _Compiled(model)
                object.__setattr__(model, "_mnist_explain", found)  # past Keras's tracking
    return found


def scores(model: keras.Model, xs: np.ndarray) -> np.ndarray:
    """(N, 10) class scores: the logits the softmax turns into probabilities (for a model
    whose last layer is not a softmax, the log-probabilities). Every attribution explains a
    score, as Simonyan et al. 2014 and Grad-CAM do: a probability near 1 has almost no
    gradient left, and one near 0 has nothing to attribute."""
    return _compiled(model).all_scores(_as_batch(xs)).numpy()


def _gradients(model: keras.Model, xs: np.ndarray, cls: int) -> tuple[np.ndarray, np.ndarray]:
    """d score_cls / d x for a batch of inputs, and score_cls for each."""
    grads, s = _compiled(model).gradients(_as_batch(xs), np.int32(cls))
    return grads.numpy(), s.numpy()


def saliency(model: keras.Model, x: np.ndarray, cls: int) -> np.ndarray:
    """|∂score_cls/∂x| at each pixel: where a small change would move the score most."""
    grads, _ = _gradients(model, x, cls)
    return np.abs(grads[0])


def _noisy(x: np.ndarray, samples: int, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _as_batch(x) + rng.normal(0.0, noise, (samples, 28, 28, 1)).astype(np.float32)


def _path(x: np.ndarray, base: np.ndarray, steps: int) -> np.ndarray:
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)[:, None, None, None]
    return base[None] + alphas * (x - base)[None]


def _batched_gradients(model: keras.Model, xs: np.ndarray, cls: int):
    grads, s = zip(*(_gradients(model, xs[i : i + IG_BATCH], cls)
                     for i in range(0, len(xs), IG_BATCH)), strict=True)  # fmt: skip
    return np.concatenate(grads), np.concatenate(s)


def _integrate(x: np.ndarray, base: np.ndarray, grads: np.ndarray, s: np.ndarray) -> Attribution:
    average = (grads[:-1] + grads[1:]).mean(axis=0) / 2.0
    return Attribution((x - base)[..., 0] * average, float(s[-1] - s[0]), len(grads) - 1)


def smoothgrad(
    model: keras.Model, x: np.ndarray, cls: int, samples: int = SMOOTHGRAD_SAMPLES,
    noise: float = SMOOTHGRAD_NOISE, seed: int = 0,
) -> np.ndarray:  # fmt: skip
    """The gradient's magnitude averaged over noisy copies of ``x`` (Smilkov et al. 2017):
    the same map with less speckle."""
    grads, _ = _gradients(model, _noisy(x, samples, noise, seed), cls)
    return np.abs(grads).mean(axis=0)


@dataclass(frozen=True)
class Attribution:
    """Integrated gradients for one input and class, with their completeness check."""

    values: np.ndarray  # (28, 28): each pixel's share of the score's gain
    gain: float  # score(x) − score(baseline), what the shares should add up to
    steps: int

    @property
    def gap(self) -> float:
        """What the shares leave unaccounted for, as a fraction of the gain: the path
        integral's error with this many steps."""
        return abs(float(self.values.sum()) - self.gain) / max(abs(self.gain), 1e-9)


def integrated_gradients(
    model: keras.Model, x: np.ndarray, cls: int, steps: int = IG_STEPS,
    baseline: np.ndarray | None = None,
) -> Attribution:  # fmt: skip
    """(x − baseline) × the average gradient of score_cls along the straight path from the
    baseline (a black image) to x (Sundararajan et al. 2017), by the trapezoidal rule on
    ``steps`` intervals, all path images in one batch. The shares add up to score(x) −
    score(baseline), up to the rule's error, which ``Attribution.gap`` reports.

    A ReLU network's score bends at kinks along the path, which fall between the samples;
    measured on the bundled model (40 test digits, their own class): the median gap is
    1 % with 64 steps, 0.8 % with 128, 0.2 % with 512. Explaining the probability instead
    did far worse (17 % with 64 steps, up to 100 % with 512): a softmax saturates over a
    short stretch of the path.
    """
    x = _as_batch(x)[0]
    base = np.zeros_like(x) if baseline is None else _as_batch(baseline)[0]
    return _integrate(x, base, *_batched_gradients(model, _path(x, base, steps), cls))


@dataclass(frozen=True)
class GradientMaps:
    saliency: np.ndarray
    smoothgrad: np.ndarray
    integrated: Attribution


def gradient_maps(
    model: keras.Model, x: np.ndarray, cls: int, steps: int = IG_STEPS,
    samples: int = SMOOTHGRAD_SAMPLES, seed: int = 0,
) -> GradientMaps:  # fmt: skip
    """Saliency, SmoothGrad and integrated gradients from one batch of gradients (the
    path's last image is ``x`` itself: its gradient is the saliency map), the same maps as
    the three functions give, for less time: a larger batch uses the cores better."""
    x = _as_batch(x)[0]
    base = np.zeros_like(x)
    path = _path(x, base, steps)
    grads, s = _batched_gradients(
        model, np.concatenate([path, _noisy(x, samples, SMOOTHGRAD_NOISE, seed)]), cls
    )
    n = len(path)
    return GradientMaps(
        saliency=np.abs(grads[n - 1]),
        smoothgrad=np.abs(grads[n:]).mean(axis=0),
        integrated=_integrate(x, base, grads[:n], s[:n]),
    )


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
    average gradient of score_cls over it, summed, ReLU'd, and scaled up to 28×28 (0–1)."""
    compiled = _compiled(model)
    if compiled.grad_cam is None:
        return np.zeros((28, 28), np.float32)
    grads, maps = compiled.grad_cam(_as_batch(x), np.int32(cls))
    grads, maps = grads.numpy()[0].astype(np.float32), maps.numpy()[0].astype(np.float32)
    weights = grads.mean(axis=(0, 1))
    cam = np.maximum((maps * weights).sum(axis=-1), 0.0)
    cam = tf.image.resize(cam[None, ..., None], (28, 28), method="bilinear").numpy()[0, ..., 0]
    top = float(cam.max())
    return (cam / top if top > 0 else cam).astype(np.float32)


def occlusion(
    model: keras.Model, x: np.ndarray, cls: int, patch: int = 7, stride: int = 3
) -> np.ndarray:
    """How much score_cls drops when a ``patch``×``patch`` square is blacked out (Zeiler &
    Fergus 2014), averaged over every square covering each pixel (one batch of all the
    occluded copies)."""
    x = _as_batch(x)[0]
    corners = [(i, j) for i in range(0, 28 - patch + 1, stride)
               for j in range(0, 28 - patch + 1, stride)]  # fmt: skip
    copies = np.repeat(x[None], len(corners) + 1, axis=0)
    for k, (i, j) in enumerate(corners, start=1):
        copies[k, i : i + patch, j : j + patch] = 0.0
    s = scores(model, copies)[:, cls]
    drops = s[0] - s[1:]
    total = np.zeros((28, 28), np.float32)
    count = np.zeros((28, 28), np.float32)
    for (i, j), drop in zip(corners, drops, strict=True):
        total[i : i + patch, j : j + patch] += drop
        count[i : i + patch, j : j + patch] += 1
    return total / np.maximum(count, 1)


def fgsm(model: keras.Model, x: np.ndarray, label: int, epsilon: float) -> np.ndarray:
    """The fast gradient sign method (Goodfellow et al. 2015): one step of size ``epsilon``
    along the sign of the loss's gradient for ``label``, kept within 0–1."""
    step = np.sign(_compiled(model).loss_gradients(_as_batch(x), np.int32(label)).numpy()[0])
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


# openTSNE's defaults (250 early-exaggeration iterations at 12, 500 at 1) took 60-65 s for
# the bundled model's 10,000 test digits on two AVX2 cores; these 11-17 s, with the same
# 10-nearest-neighbour accuracy in the map (99.76 %; PCA's 96.8 %). A mild exaggeration keeps
# the map compact, and the FFT's grid, which grows with the map's span, small.
TSNE_SETTINGS = {"early_exaggeration_iter": 150, "n_iter": 200, "exaggeration": 1.5}


def tsne_2d(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """t-SNE (van der Maaten & Hinton 2008): a 2-D map that keeps each point's nearest
    neighbours near, by openTSNE's FFT-accelerated gradients (Poličar et al. 2024), on every
    core this process may use. Distances between clusters mean little; neighbourhoods do."""
    import os

    from openTSNE import TSNE

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    tsne = TSNE(n_jobs=cores or 1, random_state=seed, **TSNE_SETTINGS)
    return np.asarray(tsne.fit(np.asarray(points, np.float64)), np.float32)


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
