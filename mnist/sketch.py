"""Any drawing → the 28×28 input an MNIST network expects, made the way MNIST itself was made.

Steps: the ink (alpha where the image is transparent; for a photo or any larger upload, the ink
``mnist.photo`` finds; the canvas's drawings and small images as grayscale, a light background
inverted, the ground's level subtracted) → crop to the ink → fit in 20×20 keeping the aspect
ratio → paste in 28×28 so the ink's centre of mass sits at the centre → float32 / 255, shape
(28, 28, 1). A plain resize of a 280×280 canvas would shrink small or off-centre digits into
shapes the network never saw.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, UnidentifiedImageError

from mnist import IMAGE_SIDE, NUM_CLASSES, i18n
from mnist.evaluation import check_probabilities
from mnist.i18n import _
from mnist.photo import Found, find_ink

DIGIT_BOX = 20  # MNIST digits were fitted in 20×20 and centred by mass in 28×28
INK_LEVEL = 0.2  # a pixel counts as ink above this fraction of full intensity (0–1)
MIN_INK_FRACTION = 0.002  # below this share of ink pixels a drawing is "empty"
MIN_INK_PIXELS = 4
MAX_PIXELS = 25_000_000  # refuse images larger than 25 megapixels (decompression bombs)
MAX_FILE_BYTES = 20 * 1024 * 1024
# Below this probability for its best digit the answer is shown as a guess: no digit then
# has half of the network's belief (a softmax over ten digits gives 0.1 to each by chance).
UNSURE_BELOW = 0.5


class SketchError(ValueError):
    """The image cannot be read or is not something to classify."""


class EmptySketch(SketchError):
    """There is (almost) nothing drawn: ask for a drawing instead of guessing."""


def _border(a: np.ndarray) -> np.ndarray:
    """The outermost pixels of a 2-D array, where the background shows."""
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def _to_ink(image: Image.Image | np.ndarray, photo: bool | None) -> tuple[np.ndarray, Found | None]:
    """Ink intensity in 0–1 as a float32 (H, W) array, light strokes on a dark ground; and,
    for a photo, what was found in it (see ``read``)."""
    if isinstance(image, Image.Image):
        if image.mode in ("P", "PA", "LA", "La", "RGBa") or "transparency" in image.info:
            image = image.convert("RGBA")
        elif image.mode not in ("L", "RGB", "RGBA"):
            image = image.convert("RGB")
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise SketchError(
            _("expected a grayscale, RGB or RGBA image, got shape {shape}").format(
                shape=array.shape
            )
        )
    if array.size == 0:
        raise SketchError(_("the image has no pixels"))
    # uint8 images are 0–255; float arrays may already be 0–1; boolean masks are 0/1.
    small = array.dtype.kind == "b" or (array.dtype.kind == "f" and float(array.max()) <= 1.0)
    full = 1.0 if small else 255.0
    array = array.astype(np.float32) / full
    if array.ndim == 3 and array.shape[2] == 4 and np.median(_border(array[..., 3])) < 0.5:
        # A transparent background (a PNG with alpha): the ink is what is opaque, whatever
        # its colour.
        return array[..., 3], None
    large = min(array.shape[:2]) >= PAPER_MIN_SIDE
    if large and photo is not False:  # a photo, or any picture of a digit
        rgb = array[..., :3] if array.ndim == 3 else np.repeat(array[..., None], 3, axis=-1)
        found = find_ink(np.clip(rgb, 0.0, 1.0))
        return found.ink, found
    gray = array if array.ndim == 2 else array[..., :3] @ LUMA
    if np.median(_border(gray)) > 0.5:  # dark ink on paper: MNIST wants light ink on black
        gray = 1.0 - gray
    return (_without_paper(gray) if large else gray).astype(np.float32), None


PAPER_MIN_SIDE = 64  # smaller images (MNIST's own 28×28) are taken as they are
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
PAPER_BLOCKS = 8  # a drawing's ground level is estimated on an 8×8 grid of blocks


def _without_paper(ink: np.ndarray) -> np.ndarray:
    """A drawing's ink alone: the ground's level subtracted and the ink stretched to 0–1 (on
    the canvas's black ground: the strokes as drawn, their faintest fringe dropped).

    The ground's level is the darkest value of each block of an 8×8 grid, smoothed.
    """
    h, w = ink.shape
    bh, bw = -(-h // PAPER_BLOCKS), -(-w // PAPER_BLOCKS)
    padded = np.pad(ink, ((0, bh * PAPER_BLOCKS - h), (0, bw * PAPER_BLOCKS - w)), mode="edge")
    lows = padded.reshape(PAPER_BLOCKS, bh, PAPER_BLOCKS, bw).min(axis=(1, 3))  # (8, 8)
    paper = Image.fromarray(lows.astype(np.float32), mode="F").resize(
        (w, h), Image.Resampling.BILINEAR
    )
    out = np.clip(ink - np.asarray(paper, dtype=np.float32), 0.0, None)
    # The ink's full strength: the brightest pixel once lone specks are smoothed away.
    top = float(
        np.asarray(Image.fromarray(out, mode="F").filter(ImageFilter.MedianFilter(3))).max()
    )
    if top < INK_LEVEL:  # nothing stands out from the ground: leave it to be called empty
        return out
    out = np.clip(out / top, 0.0, 1.0)
    out[out < INK_LEVEL / 2] = 0.0
    return out


def preprocess(image: Image.Image | np.ndarray, *, photo: bool | None = None) -> np.ndarray:
    """A drawing (PIL image or (H, W[, C]) array, any size) → float32 (28, 28, 1) in 0–1.

    Raises ``EmptySketch`` when there is too little ink to be a digit. ``photo``: see ``read``.
    """
    return read(image, photo=photo)[0]


def read(
    image: Image.Image | np.ndarray, *, photo: bool | None = None
) -> tuple[np.ndarray, Found | None]:
    """``preprocess``'s input, and what ``mnist.photo`` found if it read ``image`` as a photo.

    ``photo``: None reads any opaque image of 64 pixels or more a side as a photo (uploads,
    files); False reads it as a drawing (the Sketch page's canvas: white strokes on an opaque
    black ground, exactly as before photos had their own path); True is None's choice, said.
    """
    ink, found = _to_ink(image, photo)  # (H, W) in 0–1
    return fit(ink), found


def fit(ink: np.ndarray) -> np.ndarray:
    """Ink (H, W) in 0–1 → the 28×28×1 input: cropped, fitted in 20×20, centred by mass."""
    mask = ink > INK_LEVEL
    count = int(mask.sum())
    if count < max(MIN_INK_PIXELS, MIN_INK_FRACTION * ink.size):
        # No full stop: the Sketch page and the CLI each end the sentence their way.
        raise EmptySketch(
            _("no digit found: the image is blank, or its marks are too faint or small")
        )
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    # Fit the longer side to 20 px, keeping the aspect ratio (a "1" stays thin).
    h, w = crop.shape
    scale = DIGIT_BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = Image.fromarray((crop * 255).astype(np.uint8)).resize(
        (new_w, new_h), Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR
    )
    digit = np.asarray(resized, dtype=np.float32) / 255.0  # (new_h, new_w)
    # Place it so its centre of mass lands on the centre of the 28×28 field, kept inside.
    total = digit.sum()
    cy = (digit.sum(axis=1) @ np.arange(new_h)) / total if total else (new_h - 1) / 2
    cx = (digit.sum(axis=0) @ np.arange(new_w)) / total if total else (new_w - 1) / 2
    # MNIST's own centres of mass sit at (14, 14) in pixel indices (mean 13.99, 14.01 over
    # the test set, all within 0.5 px), not at the geometric middle 13.5.
    centre = IMAGE_SIDE / 2
    top = int(np.clip(round(centre - cy), 0, IMAGE_SIDE - new_h))
    left = int(np.clip(round(centre - cx), 0, IMAGE_SIDE - new_w))
    out = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = digit
    return out[..., np.newaxis]  # (28, 28, 1)


def open_image(source: str | os.PathLike | bytes, name: str | None = None) -> Image.Image:
    """Open an image file or bytes, refusing unreadable, huge or absurdly large images.

    Messages start with ``name`` (default: the path, or "the image" for bytes) and are in the
    session's language (the dashboard shows them).
    """
    if name is None:
        name = _("the image") if isinstance(source, bytes) else str(source)
    try:
        if isinstance(source, bytes):
            size = len(source)
            fh = io.BytesIO(source)
        else:
            path = Path(source)
            size = path.stat().st_size
            fh = path
        if size > MAX_FILE_BYTES:
            raise SketchError(
                _("{name}: file too large ({size} MB; at most {limit} MB)").format(
                    name=name,
                    size=i18n.number(size / 1e6, 0),
                    limit=i18n.number(MAX_FILE_BYTES / 1e6, 0),
                )
            )
        with warnings.catch_warnings():  # PIL's own bomb warning: the check below says it
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(fh)
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise SketchError(
                _("{name}: image too large ({width}×{height} pixels)").format(
                    name=name, width=width, height=height
                )
            )
        image.load()
    except SketchError:
        raise
    except FileNotFoundError:
        raise SketchError(_("{name}: no such file").format(name=name)) from None
    except IsADirectoryError:
        raise SketchError(_("{name}: is a folder, not an image").format(name=name)) from None
    except Image.DecompressionBombError:
        raise SketchError(
            _("{name}: image too large (more than {millions} million pixels)").format(
                name=name, millions=i18n.number(MAX_PIXELS / 1e6, 0)
            )
        ) from None
    except UnidentifiedImageError:
        raise SketchError(
            _("{name} is not an image this app can read: use a PNG or JPEG file").format(name=name)
        ) from None
    except OSError:
        raise SketchError(
            _("{name}: the image file is damaged or cut short").format(name=name)
        ) from None
    return image


def is_unsure(probabilities: np.ndarray) -> bool:
    """Whether the best digit has less than ``UNSURE_BELOW`` of the probability."""
    return float(np.max(probabilities)) < UNSURE_BELOW


def classify(model, x: np.ndarray) -> np.ndarray:
    """(28, 28, 1) input → (10,) probabilities.

    ``predict_on_batch`` runs the model's compiled predict function (traced once per model,
    ~0.1 s): 2 ms for the bundled model, against 15 ms for an eager ``model(x)`` and ~65 ms
    for ``model.predict``, which sets up a whole prediction loop for one image.
    """
    probs = np.asarray(model.predict_on_batch(x[np.newaxis]), dtype=np.float32)[0]
    if probs.shape != (NUM_CLASSES,):
        raise ValueError(
            _("the model returned shape {shape}, expected ({classes},)").format(
                shape=probs.shape, classes=NUM_CLASSES
            )
        )
    return check_probabilities(probs)
