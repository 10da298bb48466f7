"""mnist.explain, against independent references: separately built Keras models, finite
differences, the completeness of integrated gradients, and a hand-built model whose answer
depends on one known region."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnist import DEFAULT_MODEL, explain
from mnist.config import PRESETS
from mnist.data import BUNDLED_DIR, load
from mnist.models import build_model, load_model


@pytest.fixture(scope="module")
def digits():
    data = load(BUNDLED_DIR)
    return data.test_images[:8].astype(np.float32)[..., None] / 255.0, data.test_labels[:8]


@pytest.fixture(scope="module")
def bundled():
    return load_model(DEFAULT_MODEL)


MODELS = ["bundled", *PRESETS]


def model_named(name: str, bundled):
    if name == "bundled":
        return bundled
    keras.utils.set_random_seed(0)
    return build_model(PRESETS[name].model)


@pytest.mark.parametrize("name", MODELS)
def test_activations_equal_those_of_a_separately_built_model(name, bundled, digits):
    model = model_named(name, bundled)
    x = digits[0][0]
    stages = explain.activations(model, x)
    assert [s.name for s in stages] == [layer.name for layer in explain.shown_layers(model)]
    for stage in stages:
        layer = model.get_layer(stage.name)
        reference = keras.Model(model.inputs, layer.output).predict_on_batch(x[None])[0]
        np.testing.assert_allclose(stage.values, reference, rtol=1e-5, atol=1e-6)
    assert stages[-1].values.shape == (10,)
    np.testing.assert_allclose(stages[-1].values.sum(), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_every_view_works_for_every_architecture(name, bundled, digits):
    model = model_named(name, bundled)
    x = digits[0][0]
    for maps in (
        explain.saliency(model, x, 3),
        explain.smoothgrad(model, x, 3, samples=8),
        explain.integrated_gradients(model, x, 3, steps=16).values,
        explain.grad_cam(model, x, 3),
        explain.occlusion(model, x, 3),
    ):
        assert maps.shape == (28, 28) and np.isfinite(maps).all()
    adversarial = explain.fgsm(model, x, 7, 0.1)
    assert adversarial.shape == (28, 28, 1)
    features = explain.features(model, digits[0])
    assert features.ndim == 2 and len(features) == len(digits[0])


def test_scores_are_the_logits_the_softmax_turns_into_probabilities(bundled, digits):
    xs = digits[0]
    z = explain.scores(bundled, xs)
    probs = bundled.predict_on_batch(xs)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(e / e.sum(axis=1, keepdims=True), probs, rtol=1e-4, atol=1e-6)


def test_a_model_without_a_softmax_layer_is_explained_by_its_log_probabilities(digits):
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Lambda(lambda z: keras.ops.softmax(z))(keras.layers.Dense(10)(flat))
    model = keras.Model(inputs, outputs)
    xs = digits[0]
    np.testing.assert_allclose(
        explain.scores(model, xs), np.log(model.predict_on_batch(xs)), rtol=1e-4, atol=1e-5
    )


def test_integrated_gradients_add_up_to_the_change_in_score(bundled, digits):
    """Completeness (Sundararajan et al. 2017): the shares add up to score(x) − score(black)
    within 1 % with enough steps; the reported gap is that error, measured."""
    xs, labels = digits
    blank = np.zeros_like(xs[0])
    for x, label in zip(xs[:4], labels[:4], strict=True):
        for cls in (int(label), (int(label) + 1) % 10):
            attribution = explain.integrated_gradients(bundled, x, cls, steps=1024)
            s = explain.scores(bundled, np.stack([x, blank]))[:, cls]
            change = float(s[0] - s[1])
            np.testing.assert_allclose(attribution.gain, change, rtol=1e-4, atol=1e-4)
            assert abs(attribution.values.sum() - change) <= 0.01 * max(abs(change), 1.0), (
                cls, change, attribution.values.sum()
            )  # fmt: skip
            assert attribution.gap == pytest.approx(
                abs(attribution.values.sum() - change) / abs(change), abs=1e-4
            )
    coarse = explain.integrated_gradients(bundled, xs[0], int(labels[0]), steps=4)
    assert coarse.gap > attribution.gap  # fewer steps, a larger error, and it shows


def test_gradients_agree_with_finite_differences(bundled, digits):
    x = digits[0][0].astype(np.float64)
    cls = int(digits[1][0])
    model = bundled
    grads, _ = explain._gradients(model, x, cls)
    h = 1e-3  # the score is piecewise linear: a wide step crosses its kinks
    # pixels on the stroke's edge, where the score responds
    numerics = []
    for i, j in [(12, 10), (14, 14), (18, 16), (7, 12)]:
        up, down = x.copy(), x.copy()
        up[i, j] += h
        down[i, j] -= h
        s = explain.scores(model, np.stack([up, down]).astype(np.float32))[:, cls]
        numeric = (s[0] - s[1]) / (2 * h)
        assert abs(grads[0, i, j] - numeric) <= 0.02 * abs(numeric) + 1e-2, (i, j, numeric)
        numerics.append(abs(numeric))
    assert max(numerics) > 0.2  # the pixels chosen do move the score


def test_one_batch_gives_the_same_three_maps_as_the_three_functions(bundled, digits):
    x, cls = digits[0][1], int(digits[1][1])
    together = explain.gradient_maps(bundled, x, cls, steps=32, samples=8, seed=3)
    np.testing.assert_allclose(together.saliency, explain.saliency(bundled, x, cls), atol=1e-5)
    np.testing.assert_allclose(
        together.smoothgrad, explain.smoothgrad(bundled, x, cls, samples=8, seed=3), atol=1e-5
    )
    alone = explain.integrated_gradients(bundled, x, cls, steps=32)
    np.testing.assert_allclose(together.integrated.values, alone.values, atol=1e-5)
    assert together.integrated.gain == pytest.approx(alone.gain, abs=1e-5)
    assert together.integrated.steps == alone.steps == 32


def test_compiled_passes_are_made_once_per_model_and_go_with_it(bundled, digits):
    import gc
    import weakref

    explain.saliency(bundled, digits[0][0], 1)
    first = explain._compiled(bundled)
    explain.saliency(bundled, digits[0][0], 2)  # another class: no new trace, same passes
    assert explain._compiled(bundled) is first
    assert first.gradients.experimental_get_tracing_count() == 1
    model = build_model(PRESETS["fast"].model)
    explain.saliency(model, digits[0][0], 1)
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is None


def one_region_model() -> keras.Model:
    """Class 0's score counts horizontal bars only; vertical bars change nothing.

    Channel 0 of the convolution responds to horizontal one-pixel bars, channel 1 to vertical
    ones; the output reads channel 0 alone.
    """
    inputs = keras.Input((28, 28, 1))
    conv = keras.layers.Conv2D(2, 5, padding="same", activation="relu", use_bias=False)
    maps = conv(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(maps)
    logits = keras.layers.Dense(10, use_bias=False)(pooled)
    outputs = keras.layers.Activation("softmax")(logits)
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((5, 5, 1, 2), np.float32)
    kernel[2, :, 0, 0], kernel[1, :, 0, 0], kernel[3, :, 0, 0] = 1.0, -1.0, -1.0
    kernel[:, 2, 0, 1], kernel[:, 1, 0, 1], kernel[:, 3, 0, 1] = 1.0, -1.0, -1.0
    conv.set_weights([kernel])
    dense = np.zeros((2, 10), np.float32)
    dense[0, 0] = 60.0
    model.layers[3].set_weights([dense])
    return model


def two_bars() -> tuple[np.ndarray, tuple[slice, slice], tuple[slice, slice]]:
    x = np.zeros((28, 28, 1), np.float32)
    x[6, 4:12] = 1.0  # a horizontal bar at the top left: the region the answer depends on
    x[14:22, 20] = 1.0  # a vertical bar at the bottom right: ignored
    return x, (slice(3, 10), slice(1, 15)), (slice(11, 25), slice(17, 24))


def test_grad_cam_and_occlusion_light_up_the_region_the_answer_depends_on():
    model = one_region_model()
    x, region, other = two_bars()
    assert model.predict_on_batch(x[None])[0, 0] > 0.5  # the bar does raise class 0
    cam = explain.grad_cam(model, x, 0)
    assert cam[region].sum() > 0.95 * cam.sum() and cam[other].max() == 0.0
    drops = explain.occlusion(model, x, 0, patch=4, stride=1)
    # (cutting the vertical bar into pieces leaves one-pixel dots, which the horizontal
    # detector does see a little: small changes there, ten times smaller)
    assert drops[region].max() > 0.1 and drops[region].max() > 5 * abs(drops[other]).max()
    saliency = explain.saliency(model, x, 0)
    assert saliency[region].sum() > saliency[other].sum()


def test_fgsm_stays_within_epsilon_and_in_range(bundled, digits):
    x, label = digits[0][0], int(digits[1][0])
    for epsilon in (0.0, 0.05, 0.2):
        nudged = explain.fgsm(bundled, x, label, epsilon)
        assert np.abs(nudged - x).max() <= epsilon + 1e-6
        assert nudged.min() >= 0.0 and nudged.max() <= 1.0
    before = bundled.predict_on_batch(x[None])[0, label]
    after = bundled.predict_on_batch(explain.fgsm(bundled, x, label, 0.2)[None])[0, label]
    assert after < before  # a step up the loss lowers the true class's probability


def test_pca_matches_the_covariance_eigenvectors():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    coords = explain.pca_2d(points)
    centred = points - points.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    top = vectors[:, np.argsort(values)[::-1][:2]]
    reference = centred @ top
    for k in range(2):  # each component is defined up to its sign
        assert min(np.abs(coords[:, k] - reference[:, k]).max(),
                   np.abs(coords[:, k] + reference[:, k]).max()) < 1e-8  # fmt: skip


@pytest.mark.parametrize("name", MODELS)
def test_the_hand_computed_convolution_step_equals_the_layers_output(name, bundled, digits):
    model = model_named(name, bundled)
    x = digits[0][0]
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    raw = keras.Model(model.inputs, conv.output).predict_on_batch(x[None])[0]
    side = raw.shape[0]
    for f, r, c in [(0, 0, 0), (1, side // 2, side // 3), (conv.filters - 1, side - 1, side - 1)]:
        step = explain.conv_step(model, x, f, r, c)
        assert step.products.shape == step.kernel.shape == step.patch.shape
        np.testing.assert_allclose(step.products.sum() + step.bias, step.total, rtol=1e-6)
        np.testing.assert_allclose(step.output, raw[r, c, f], rtol=1e-4, atol=1e-5)


def test_tsne_keeps_neighbours_together():
    """Three clusters in 20 dimensions stay three clusters in the 2-D map: every point's
    nearest neighbour there is of its own cluster, and the map is the same for one seed."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (3, 20))
    labels = np.repeat(np.arange(3), 150)
    points = centres[labels] + rng.normal(0, 1, (len(labels), 20))
    xy = explain.tsne_2d(points, seed=1)
    assert xy.shape == (len(points), 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    distances = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert (labels[distances.argmin(axis=1)] == labels).all()
    np.testing.assert_allclose(explain.tsne_2d(points, seed=1), xy, rtol=1e-5, atol=1e-5)


def test_tiles_and_overlays_are_images():
    maps = np.arange(5 * 4 * 3, dtype=np.float32).reshape(5, 4, 3)
    image = explain.tile(maps, columns=2)
    assert image.dtype == np.uint8 and image.shape == (2 * 6 - 1, 2 * 5 - 1)
    assert image.max() == 255 and image[5].max() == 0  # the gap row is black
    x = np.zeros((28, 28, 1), np.float32)
    heat = np.zeros((28, 28), np.float32)
    heat[3, 4], heat[20, 20] = 1.0, -1.0
    rgb = explain.heat_overlay(x, heat, signed=True)
    assert rgb.shape == (28, 28, 3) and rgb.dtype == np.uint8
    assert rgb[3, 4, 0] > rgb[3, 4, 2] and rgb[20, 20, 2] > rgb[20, 20, 0]


def test_features_and_probabilities_come_from_one_pass_and_match_predict(bundled):
    images = load(BUNDLED_DIR).test_images[:50]  # uint8, as the embedding passes them
    feats, probs = explain.features_and_probabilities(bundled, images)
    xs = images.astype(np.float32)[..., None] / 255.0
    np.testing.assert_allclose(probs, bundled.predict(xs, verbose=0), rtol=1e-5, atol=1e-6)
    layer = explain.penultimate_layer(bundled)
    reference = keras.Model(bundled.inputs, layer.output).predict(xs, verbose=0)
    np.testing.assert_allclose(feats, reference.reshape(50, -1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(explain.features(bundled, images), feats)
