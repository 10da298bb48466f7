"""mnist.sketch: drawings of every kind → MNIST-style 28×28 inputs; opening images; classify.

The outputs are checked by measuring them (bounding box, centre of mass, background) and by
comparing with real MNIST digits, not against ``preprocess``'s own earlier results.
"""

from __future__ import annotations

import io
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist import sketch
from mnist.data import BUNDLED_DIR, load
from mnist.sketch import EmptySketch, SketchError, classify, open_image, preprocess

FIXTURES = Path(__file__).parent / "fixtures"
SIDE = 280  # the dashboard's drawing canvas
# A "2" as one polyline in unit coordinates (x right, y down).
TWO = [(0.0, 0.2), (0.3, 0.0), (0.8, 0.0), (1.0, 0.25), (0.9, 0.5), (0.0, 1.0), (1.0, 1.0)]
BIG_BOX = (60, 30, 220, 250)  # 160 × 220 px, in the middle of the canvas
BIG_WIDTH = 24


def draw_two(image: Image.Image, box=BIG_BOX, width=BIG_WIDTH, fill=255) -> Image.Image:
    x0, y0, x1, y1 = box
    points = [(x0 + u * (x1 - x0), y0 + v * (y1 - y0)) for u, v in TWO]
    ImageDraw.Draw(image).line(points, fill=fill, width=width, joint="curve")
    return image


def white_on_black(box=BIG_BOX, width=BIG_WIDTH) -> np.ndarray:
    """The plainest input: (280, 280) uint8, white ink on black."""
    return np.asarray(draw_two(Image.new("L", (SIDE, SIDE), 0), box, width))


def palette_paper() -> Image.Image:
    image = Image.new("P", (SIDE, SIDE), 0)
    image.putpalette([255, 255, 255, 0, 0, 128] + [0, 0, 0] * 254)  # 0: white, 1: navy
    return draw_two(image, fill=1)


# name → a drawing of the same "2", as a user, the canvas or an upload would provide it
DRAWINGS = {
    # streamlit-drawable-canvas: RGBA with a transparent background, opaque strokes
    "canvas-white-stroke": lambda: np.asarray(
        draw_two(Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0)), fill=(255, 255, 255, 255))
    ),
    "canvas-black-stroke": lambda: np.asarray(
        draw_two(Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0)), fill=(0, 0, 0, 255))
    ),
    "transparent-png-image": lambda: draw_two(
        Image.new("RGBA", (SIDE, SIDE), (255, 255, 255, 0)), fill=(20, 20, 200, 255)
    ),
    "rgba-opaque-black": lambda: draw_two(
        Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 255)), fill=(255, 255, 255, 255)
    ),
    "rgb-paper": lambda: draw_two(Image.new("RGB", (SIDE, SIDE), "white"), fill=(30, 30, 30)),
    "rgb-blackboard": lambda: draw_two(Image.new("RGB", (SIDE, SIDE), "black"), fill=(250,) * 3),
    "l-paper": lambda: draw_two(Image.new("L", (SIDE, SIDE), 255), fill=0),
    "l-paper-array": lambda: np.asarray(draw_two(Image.new("L", (SIDE, SIDE), 255), fill=0)),
    "bilevel-paper": lambda: draw_two(Image.new("1", (SIDE, SIDE), 1), fill=0),
    "palette-paper": palette_paper,
    "float-0-1": lambda: white_on_black().astype(np.float32) / 255.0,
    "float-0-255": lambda: white_on_black().astype(np.float64),
    "channel-axis": lambda: white_on_black()[..., np.newaxis],
    "small-image": lambda: np.asarray(Image.fromarray(white_on_black()).resize((56, 56))),
}


def ink_box(out: np.ndarray, level: float = 0.0) -> tuple[int, int]:
    """(height, width) of the pixels above ``level``."""
    rows, cols = np.nonzero(out[..., 0] > level)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def centre_of_mass(out: np.ndarray) -> tuple[float, float]:
    a = out[..., 0].astype(np.float64)
    ys, xs = np.mgrid[0:28, 0:28]
    return float((a * ys).sum() / a.sum()), float((a * xs).sum() / a.sum())


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def best_shift_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation after the best whole-pixel shift of up to 1 px each way.

    Centring by mass places the digit to the nearest pixel, so two renderings of one digit may
    legitimately differ by a one-pixel shift.
    """
    a, b = np.squeeze(a), np.squeeze(b)
    return max(
        correlation(np.roll(a, (dy, dx), axis=(0, 1)), b) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
    )


def assert_mnist_like(out: np.ndarray) -> None:
    assert out.shape == (28, 28, 1)
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out.max() > 0.5  # the ink survives
    height, width = ink_box(out)
    assert max(height, width) in (19, 20, 21)  # the longer side fitted to 20 px
    assert height <= 21 and width <= 21
    cy, cx = centre_of_mass(out)
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0
    assert np.median(out) == 0.0  # a dark background
    frame = np.concatenate([out[0, :, 0], out[-1, :, 0], out[:, 0, 0], out[:, -1, 0]])
    assert not frame.any()


@pytest.fixture(scope="module")
def reference_output() -> np.ndarray:
    return preprocess(white_on_black())


@pytest.fixture(scope="module")
def mnist_test():
    dataset = load(BUNDLED_DIR)
    return dataset.test_images, dataset.test_labels


# ---------------------------------------------------------------------------------------------
# preprocess: every kind of input


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_every_kind_of_drawing_becomes_the_same_mnist_like_input(name, reference_output):
    out = preprocess(DRAWINGS[name]())
    assert_mnist_like(out)
    assert best_shift_correlation(out, reference_output) > 0.95


def test_the_output_is_white_ink_on_black(reference_output):
    # The "2"'s bottom stroke is solid ink; the middle of its upper loop is empty.
    out = reference_output[..., 0]
    rows = np.nonzero(out.max(axis=1) > 0)[0]
    bottom = out[rows.max() - 1]
    assert bottom.max() > 0.9
    assert (out > 0.9).mean() < 0.3  # mostly background


@pytest.mark.parametrize(
    "box",
    [(8, 8, 48, 63), (225, 215, 265, 270), (230, 10, 270, 65)],
    ids=["top-left", "bottom-right", "top-right"],
)
def test_a_small_off_centre_digit_matches_a_large_centred_one(box, reference_output):
    # A quarter-size copy (40 × 55 px, stroke 6 px) drawn in a corner.
    small = preprocess(white_on_black(box=box, width=BIG_WIDTH // 4))
    assert_mnist_like(small)
    assert abs(np.subtract(ink_box(small), ink_box(reference_output))).max() <= 1
    assert best_shift_correlation(small, reference_output) > 0.93
    shifted = [
        np.abs(np.roll(small[..., 0], (dy, dx), (0, 1)) - reference_output[..., 0]).mean()
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    ]
    assert min(shifted) < 0.05
    # A plain resize of the canvas, by contrast, keeps the digit tiny and in its corner.
    naive = np.asarray(Image.fromarray(white_on_black(box=box, width=6)).resize((28, 28))) / 255
    assert correlation(naive, reference_output) < 0.3


@pytest.mark.parametrize(
    ("rectangle", "expect_tall"),
    [((130, 40, 149, 239), True), ((40, 130, 239, 149), False)],
    ids=["tall-bar", "wide-bar"],
)
def test_aspect_ratio_is_kept_for_bars(rectangle, expect_tall):
    image = Image.new("L", (SIDE, SIDE), 0)
    ImageDraw.Draw(image).rectangle(rectangle, fill=255)  # 20 × 200 px
    out = preprocess(image)
    height, width = ink_box(out, level=0.1)
    long, short = (height, width) if expect_tall else (width, height)
    assert long in (19, 20, 21)
    assert short <= 3  # 200:20 → 20:2, give or take a pixel of resampling
    cy, cx = centre_of_mass(out)
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0


def test_aspect_ratio_is_kept_for_an_ellipse():
    image = Image.new("L", (SIDE, SIDE), 0)
    ImageDraw.Draw(image).ellipse((90, 40, 189, 239), fill=255)  # 100 wide × 200 tall
    height, width = ink_box(preprocess(image), level=0.1)
    assert height in (19, 20, 21)
    assert 9 <= width <= 11


def test_light_backgrounds_are_inverted():
    paper = draw_two(Image.new("RGB", (SIDE, SIDE), (245, 240, 230)), fill=(10, 10, 60))
    out = preprocess(paper)
    assert_mnist_like(out)
    # Paper would be ~0.95 bright if not inverted; here nearly everything is black.
    assert (out[..., 0] < 0.05).mean() > 0.6


# ---------------------------------------------------------------------------------------------
# preprocess: real MNIST digits come back as themselves


@pytest.mark.parametrize("factor", [10, 3, 1])
def test_upscaled_mnist_digits_come_back_close_to_the_original(mnist_test, factor):
    images, labels = mnist_test
    firsts = [int(np.argmax(labels == d)) for d in range(10)]  # one of each digit
    for i in firsts:
        original = images[i]
        big = np.kron(original, np.ones((factor, factor), dtype=np.uint8))  # (28f, 28f)
        out = preprocess(big)
        assert out.shape == (28, 28, 1)
        score = best_shift_correlation(out, original / 255.0)
        assert score > 0.95, (i, int(labels[i]), score)


def test_upscaled_mnist_digits_line_up_with_mnist_on_average(mnist_test):
    images, _ = mnist_test
    scores = []
    for original in images[:20]:
        out = preprocess(np.kron(original, np.ones((10, 10), dtype=np.uint8)))
        scores.append(correlation(out, original / 255.0))
    # No shift allowed here: a digit misplaced by more than a pixel, or rescaled, would
    # correlate near zero with thin 2-px strokes.
    assert np.median(scores) > 0.6
    assert min(scores) > 0.2


# ---------------------------------------------------------------------------------------------
# preprocess: nothing to classify, or not an image


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.zeros((SIDE, SIDE, 4), dtype=np.uint8),  # the empty canvas
        lambda: Image.new("RGBA", (SIDE, SIDE), (255, 255, 255, 0)),  # fully transparent
        lambda: Image.new("RGB", (SIDE, SIDE), "white"),  # blank paper
        lambda: np.zeros((SIDE, SIDE), dtype=np.float32),
        lambda: np.full((SIDE, SIDE), 0.1, dtype=np.float32),  # faint haze, below ink level
    ],
    ids=["empty-canvas", "transparent", "blank-paper", "zeros-float", "faint"],
)
def test_blank_drawings_are_empty(make):
    with pytest.raises(EmptySketch):
        preprocess(make())


def test_a_single_dot_is_empty():
    canvas = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).ellipse((140, 140, 146, 146), fill=(255, 255, 255, 255))
    assert np.asarray(canvas)[..., 3].astype(bool).sum() > 4  # a few dozen pixels of ink
    with pytest.raises(EmptySketch, match="no digit found"):
        preprocess(np.asarray(canvas))


def test_three_pixels_on_a_small_image_are_empty():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[10, 10:13] = 255
    with pytest.raises(EmptySketch):
        preprocess(image)


def test_empty_sketch_is_a_sketch_error_and_a_value_error():
    assert issubclass(EmptySketch, SketchError)
    assert issubclass(SketchError, ValueError)


@pytest.mark.parametrize(
    "shape",
    [(10, 10, 2), (10, 10, 5), (100,), (2, 10, 10, 3), (0, 0), (0, 5, 3)],
)
def test_bad_shapes_are_sketch_errors(shape):
    with pytest.raises(SketchError) as excinfo:
        preprocess(np.full(shape, 255, dtype=np.uint8))
    assert not isinstance(excinfo.value, EmptySketch)


# ---------------------------------------------------------------------------------------------
# open_image


def png_bytes(size=(12, 9), colour=(10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_open_image_reads_a_png_file(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(9, 12, 3), dtype=np.uint8)
    path = tmp_path / "digit.png"
    Image.fromarray(pixels).save(path)
    image = open_image(path)
    assert image.size == (12, 9)
    np.testing.assert_array_equal(np.asarray(image.convert("RGB")), pixels)
    assert open_image(str(path)).size == (12, 9)


def test_open_image_reads_png_bytes():
    image = open_image(png_bytes())
    assert image.size == (12, 9)
    assert image.getpixel((3, 4)) == (10, 200, 30)


def test_open_image_missing_file(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(SketchError, match="no such file") as excinfo:
        open_image(path)
    assert str(path) in str(excinfo.value)


def test_open_image_folder(tmp_path):
    with pytest.raises(SketchError, match="is a folder") as excinfo:
        open_image(tmp_path)
    assert str(tmp_path) in str(excinfo.value)


def test_open_image_text_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n")
    with pytest.raises(SketchError, match="not an image") as excinfo:
        open_image(path)
    assert str(path) in str(excinfo.value)


def test_open_image_bytes_that_are_not_an_image():
    with pytest.raises(SketchError, match=r"^the image is not an image this app can read"):
        open_image(b"GIF? no, just some bytes" * 10)
    # A name for the bytes (an upload's file name) starts the message, once.
    with pytest.raises(SketchError) as excinfo:
        open_image(b"plain text, renamed .png", name="not_an_image.png")
    assert str(excinfo.value) == (
        "not_an_image.png is not an image this app can read: use a PNG or JPEG file"
    )


def test_open_image_truncated_png(tmp_path):
    data = np.random.default_rng(1).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(data).save(buffer, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(SketchError) as excinfo:
        open_image(path)
    assert str(path) in str(excinfo.value)


def test_open_image_refuses_too_many_pixels(tmp_path, monkeypatch):
    monkeypatch.setattr(sketch, "MAX_PIXELS", 99)
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes(size=(10, 10)))
    with pytest.raises(SketchError, match="too large") as excinfo:
        open_image(path)
    assert str(path) in str(excinfo.value)
    assert "10×10" in str(excinfo.value)
    with pytest.raises(SketchError, match="too large"):
        open_image(png_bytes(size=(10, 10)))
    assert open_image(png_bytes(size=(9, 11))).size == (9, 11)  # 99 pixels is allowed


def test_open_image_refuses_too_many_bytes(tmp_path, monkeypatch):
    data = png_bytes()
    path = tmp_path / "heavy.png"
    path.write_bytes(data)
    monkeypatch.setattr(sketch, "MAX_FILE_BYTES", len(data) - 1)
    with pytest.raises(SketchError, match="file too large") as excinfo:
        open_image(path)
    assert str(path) in str(excinfo.value)
    with pytest.raises(SketchError, match="file too large"):
        open_image(data)
    monkeypatch.setattr(sketch, "MAX_FILE_BYTES", len(data))
    assert open_image(path).size == (12, 9)


def test_an_opened_upload_goes_through_preprocess(tmp_path, reference_output):
    path = tmp_path / "two.png"
    draw_two(Image.new("RGB", (SIDE, SIDE), "white"), fill=(0, 0, 0)).save(path)
    out = preprocess(open_image(path))
    assert_mnist_like(out)
    assert best_shift_correlation(out, reference_output) > 0.95


# ---------------------------------------------------------------------------------------------
# classify


def test_classify_returns_the_models_probabilities(tiny_model, reference_output):
    probs = classify(tiny_model, reference_output)
    assert probs.shape == (10,)
    assert probs.dtype == np.float32
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    expected = tiny_model.predict(reference_output[np.newaxis], verbose=0)[0]
    np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_classify_runs_the_models_compiled_predict_function_once_traced():
    # 2 ms instead of 15 ms for an eager call (benchmarks/RESULTS.md, figure 4)
    layers = [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    model = keras.Sequential([*layers, keras.layers.Softmax()])
    assert model.predict_function is None
    x = np.random.default_rng(0).random((28, 28, 1), dtype=np.float32)
    first = classify(model, x)
    compiled = model.predict_function
    assert compiled is not None
    np.testing.assert_allclose(classify(model, x), first)
    assert model.predict_function is compiled  # not rebuilt per sketch
    np.testing.assert_allclose(first, np.asarray(model(x[np.newaxis]))[0], atol=1e-6)


def test_classify_rejects_a_model_with_the_wrong_output():
    layers = [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)]
    model = keras.Sequential(layers)
    with pytest.raises(ValueError, match=r"expected \(10,\)"):
        classify(model, np.zeros((28, 28, 1), np.float32))


def test_mnist_digits_come_back_in_place_without_a_shift():
    # MNIST centres digits by mass at (14, 14): a re-processed MNIST digit must line up with
    # the original pixel for pixel, not one pixel up or left.
    images = load().test_images[:60]
    corr = []
    for image in images:
        out = preprocess(np.kron(image, np.ones((10, 10), dtype=np.uint8)))[..., 0]
        corr.append(np.corrcoef(out.ravel(), image.ravel() / 255.0)[0, 1])
    assert np.median(corr) > 0.9


def test_a_boolean_mask_is_a_drawing():
    mask = np.zeros((100, 100), dtype=bool)
    mask[20:80, 45:55] = True
    out = preprocess(mask)
    assert out.max() == pytest.approx(1.0, abs=0.01)


def test_an_answer_is_unsure_below_half_of_the_probability():
    assert sketch.is_unsure(np.array([0.269, 0.2] + [0.531 / 8] * 8))
    assert not sketch.is_unsure(np.array([0.5] + [0.5 / 9] * 9))
    assert sketch.is_unsure(np.full(10, 0.1))  # a guess: every digit alike


def _photo_of_a_seven(size=(600, 800)) -> Image.Image:
    """A thick dark 7 on beige paper lit unevenly (brighter on the left), as a phone takes it."""
    w, h = size
    shade = np.linspace(235, 200, w, dtype=np.float32)[np.newaxis, :].repeat(h, axis=0)
    paper = np.stack([shade, shade * 0.95, shade * 0.85], axis=-1)
    noise = np.random.default_rng(0).normal(0, 3, paper.shape)
    image = Image.fromarray(np.clip(paper + noise, 0, 255).astype(np.uint8))
    ImageDraw.Draw(image).line(
        [(150, 200), (450, 200), (280, 620)], fill=(40, 35, 30), width=40, joint="curve"
    )
    return image


def test_a_photo_on_off_white_paper_has_no_grey_box_around_the_digit():
    x = preprocess(_photo_of_a_seven())[..., 0]
    ink = x > 0.5
    assert ink.sum() > 30
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    box = x[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    background = box[box < 0.5]
    # Inside the digit's box, what is not stroke is black paper, as in MNIST: no grey haze.
    assert float(np.median(background)) == 0.0
    assert float(background.mean()) < 0.03
    # The 28×28 frame outside the digit's box is black too.
    outside = np.ones_like(ink)
    outside[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = False
    assert float(x[outside].max()) < 0.05


def test_blank_paper_photo_is_still_empty():
    w, h = 600, 800
    shade = np.linspace(235, 190, w, dtype=np.float32)[np.newaxis, :].repeat(h, axis=0)
    noisy = shade + np.random.default_rng(1).normal(0, 3, shade.shape)
    with pytest.raises(EmptySketch):
        preprocess(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)))


def test_an_image_too_large_to_decode_says_so(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("1", (20_000, 20_000)).save(path)  # 400 megapixels, a few hundred kB
    with pytest.raises(SketchError, match=r"image too large \(more than 25 million pixels\)"):
        open_image(path)


def test_a_decompression_bomb_is_refused_from_its_header_without_decoding(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("1", (12_000, 12_000)).save(path)  # 144 megapixels in ~20 kB: under PIL's own
    assert path.stat().st_size < 100_000  # limit, so only the app's check stands in the way
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("the bomb was decoded"))
    with pytest.raises(SketchError, match=r"image too large \(12000×12000 pixels\)"):
        open_image(path.read_bytes(), name="bomb.png")


def test_canvas_drawings_give_exactly_what_they_gave_before_photos_had_their_own_path():
    from tests.unit.canvas_drawings import canvas_drawings

    expected = np.load(FIXTURES / "canvas-inputs.npy")  # made by 90a4ad0's mnist/sketch.py
    drawings = canvas_drawings()
    got = np.stack([preprocess(drawing, photo=False) for drawing in drawings])
    assert got.shape == expected.shape == (24, 28, 28, 1)
    np.testing.assert_array_equal(got, expected)
    assert all(sketch.read(drawing, photo=False)[1] is None for drawing in drawings)
    # a transparent ground is read by its alpha whatever ``photo`` says
    np.testing.assert_array_equal(np.stack([preprocess(d) for d in drawings[12:]]), expected[12:])
