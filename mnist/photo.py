"""A photo of a digit on paper → the digit's ink alone, as light strokes on black.

A photo is not a canvas: the paper is grey or tinted and unevenly lit, the camera adds noise
and JPEG artefacts, the ink may be blue, red or pencil, and a notebook's ruled lines, the page's
edge or the table beyond it share the picture with the digit. The steps, at most
``WORK_SIDE`` pixels on the longer side:

1. **The paper, everywhere.** Each channel's paper level is a morphological closing of the
   photo (the brightest value nearby, then the darkest of those, over a window wider than any
   stroke): strokes vanish from it, light and shadow stay. Dividing by it evens them out; the
   ink is how much darker than its paper a pixel is, in its darkest channel (so blue ink on
   yellow paper shows).
2. **Ruled lines and page edges set aside**: straight runs across the picture from edge to
   edge, up to ``MAX_LINE_TILT`` degrees from level or plumb; where a stroke crosses one, the
   stroke is kept whole.
3. **A threshold chosen from the image** (Otsu's, never below ``MIN_CONTRAST``), with
   hysteresis: faint pixels count when they touch clearly dark ones.
4. **The digit is the largest ink component** away from the picture's edge, with the pieces
   near it (a 5's flag); specks and far marks are set aside.
5. **Strokes of a fine pen are thickened** to MNIST's proportions (about a tenth of the
   digit's height), and the ink is stretched to full strength, as MNIST's strokes are.

Light ink on a dark ground (chalk) is read the same way, inverted. The Sketch page's canvas
drawings never come here (``mnist.sketch.read(…, photo=False)``): they are drawings.

``find_ink`` returns all of it (``Found``), so the dashboard can show what was found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from mnist.i18n import _, ngettext

WORK_SIDE = 320  # photos are analysed at most this many pixels on their longer side
DARK_GROUND = 0.4  # a ground darker than this (0–1) may carry light ink
PAPER_REDUCTION = 4  # the paper is estimated on the photo reduced this many times
PAPER_WINDOW = 0.12  # wider than any stroke: this share of the picture's longer side
MIN_CONTRAST = 0.2  # ink is at least this much darker than its paper (a fraction of it)
HEAL = 9  # pixels: a stroke cut by a line's removal is joined across gaps this wide
WEAK_CONTRAST = 0.1  # fainter pixels are ink only where they touch ink above the threshold
MAX_LINE_TILT = 6  # degrees: ruled lines this far from level (or plumb) are found
LINE_SPAN = 0.6  # a ruled line is inked over at least this share of its length …
REACH = 0.06  # … and reaches this close to both edges of the picture
NEAR = 0.2  # pieces within this share of the digit's size belong to it
MIN_DIGIT = 0.0005  # a digit covers at least this share of the picture (specks do not)
MIN_PIECE = 0.03  # pieces with less ink than this share of the digit's are specks
MNIST_STROKE = 0.11  # MNIST strokes are about this share of the digit's height
THIN_STROKE = 0.06  # strokes thinner than this share are thickened

EIGHT = np.ones((3, 3), bool)  # 8-connectivity


@dataclass(frozen=True)
class Found:
    """What ``find_ink`` found in a photo, at the working size."""

    image: np.ndarray  # (h, w, 3) float32 0–1: the photo, reduced
    ink: np.ndarray  # (h, w) float32 0–1: the digit's ink alone, light on black
    digit: np.ndarray  # (h, w) bool: the digit's pixels
    set_aside: np.ndarray  # (h, w) bool: ink that is not the digit (lines, specks, edges)
    lines: int  # ruled lines and straight edges found
    thickened: bool  # the strokes were thin and have been thickened

    @property
    def empty(self) -> bool:
        return not self.digit.any()


def _reduce(rgb: np.ndarray) -> np.ndarray:
    """Float (H, W, 3) 0–1 → at most ``WORK_SIDE`` on the longer side (area-averaged)."""
    h, w = rgb.shape[:2]
    scale = WORK_SIDE / max(h, w)
    if scale >= 1:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.stack([_resize(rgb[..., c], size, Image.Resampling.BOX) for c in range(3)], -1)


def _paper(rgb: np.ndarray) -> np.ndarray:
    """The paper's colour at every pixel (H, W, 3): a morphological closing (the brightest
    value nearby, then the darkest of those) wider than any stroke, on the photo reduced
    ``PAPER_REDUCTION`` times (which averages the camera's noise away), then smoothed."""
    h, w = rgb.shape[:2]
    small = (max(1, w // PAPER_REDUCTION), max(1, h // PAPER_REDUCTION))
    low = np.stack([_resize(rgb[..., c], small, Image.Resampling.BOX) for c in range(3)], -1)
    size = max(3, round(PAPER_WINDOW * max(small)) | 1)
    paper = ndimage.grey_closing(low, size=(size, size, 1))
    paper = ndimage.uniform_filter(paper, size=(size, size, 1), mode="nearest")
    return np.stack([_resize(paper[..., c], (w, h), Image.Resampling.BILINEAR)
                     for c in range(3)], -1)  # fmt: skip


def _resize(a: np.ndarray, size: tuple[int, int], method) -> np.ndarray:
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize(size, method))


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of values in 0–1 (the split that best separates two groups)."""
    hist, edges = np.histogram(values, bins=128, range=(0.0, 1.0))
    hist = hist.astype(np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def _line_mask(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Pixels of straight lines across most of the picture (rows, then columns), and their
    count. A line is a run of rows, at some tilt, each inked over ``LINE_SPAN`` of its length."""
    found = np.zeros_like(mask)
    count = 0
    for transpose in (False, True):
        m = (mask & ~found).T if transpose else mask  # columns once the rows' lines are gone
        lines = np.zeros_like(m)
        for angle in range(-MAX_LINE_TILT, MAX_LINE_TILT + 1):
            turned = ndimage.rotate(m, angle, reshape=True, order=0, mode="constant")
            inside = ndimage.rotate(np.ones_like(m), angle, reshape=True, order=0, mode="constant")
            # one pixel of slack up and down: a line's residual tilt crosses rows
            thick = ndimage.maximum_filter1d(turned, size=3, axis=0)
            length = inside.sum(axis=1)
            fill = thick.sum(axis=1) / np.maximum(length, 1)
            # from edge to edge: a digit filling the picture is not a line
            reach = REACH * length
            starts = np.argmax(thick, axis=1) - np.argmax(inside, axis=1)
            ends = np.argmax(thick[:, ::-1], axis=1) - np.argmax(inside[:, ::-1], axis=1)
            rows = (fill >= LINE_SPAN) & (length >= 0.5 * m.shape[1])
            rows &= (starts <= reach) & (ends <= reach)
            if not rows.any():
                continue
            band = np.zeros_like(turned)
            band[ndimage.binary_dilation(rows, iterations=2)] = True
            back = ndimage.rotate(band, -angle, reshape=True, order=0, mode="constant")
            top = (back.shape[0] - m.shape[0]) // 2
            left = (back.shape[1] - m.shape[1]) // 2
            hit = back[top : top + m.shape[0], left : left + m.shape[1]] & m
            new = hit & ~lines
            if new.sum() >= LINE_SPAN * m.shape[1]:
                lines |= hit
        count += ndimage.label(lines, structure=EIGHT)[1]
        found |= lines.T if transpose else lines
    return found, count


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a mask, in pixels: twice its area over its outline's length."""
    edge = mask & ~ndimage.binary_erosion(mask)
    return 2.0 * float(mask.sum()) / max(1.0, float(edge.sum()))


def _pick_digit(mask: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """The largest ink component away from the edge, with the pieces near it."""
    labels, n = ndimage.label(mask, structure=EIGHT)
    if n == 0:
        return mask
    index = np.arange(1, n + 1)
    mass = ndimage.sum_labels(ink, labels, index)
    boxes = ndimage.find_objects(labels)
    h, w = mask.shape
    edge = np.array([s[0].start == 0 or s[1].start == 0 or s[0].stop == h or s[1].stop == w
                     for s in boxes])  # fmt: skip
    inner = ~edge & (ndimage.sum_labels(mask, labels, index) >= MIN_DIGIT * mask.size)
    pool = inner if inner.any() else np.ones(n, bool)
    seed = int(np.argmax(np.where(pool, mass, -1)))
    keep = {seed}
    t, lft, b, r = (
        boxes[seed][0].start,
        boxes[seed][1].start,
        boxes[seed][0].stop,
        boxes[seed][1].stop,
    )
    grew = True
    while grew:
        grew = False
        gap = NEAR * max(b - t, r - lft)
        for i in range(n):
            if i in keep or mass[i] < MIN_PIECE * mass[seed] or (edge[i] and not edge[seed]):
                continue
            s = boxes[i]
            dy = max(0, s[0].start - b, t - s[0].stop)
            dx = max(0, s[1].start - r, lft - s[1].stop)
            if max(dy, dx) <= gap:
                keep.add(i)
                t, lft = min(t, s[0].start), min(lft, s[1].start)
                b, r = max(b, s[0].stop), max(r, s[1].stop)
                grew = True
    return np.isin(labels, [i + 1 for i in keep])


def _light_ink(luma: np.ndarray) -> bool:
    """Whether the marks are lighter than their ground (chalk, a white-on-black drawing).

    Paper is light, even in a dim photo: the ground must be dark (the median pixel under
    ``DARK_GROUND``), and the marks must stray from it upwards more than downwards. Not the
    border's level: a dark table along the page's edges is not a blackboard.
    """
    middle = float(np.median(luma))
    if middle >= DARK_GROUND:
        return False
    stray = luma - middle
    return float(np.clip(stray - 0.1, 0, None).sum()) > float(np.clip(-stray - 0.1, 0, None).sum())


def find_ink(rgb: np.ndarray) -> Found:
    """A photo as float (H, W, 3) 0–1 → the digit's ink (``Found``), light on black."""
    rgb = _reduce(rgb)
    light_ink = _light_ink(rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32))
    seen = 1.0 - rgb if light_ink else rgb  # now dark ink on light paper either way
    paper = _paper(seen)
    ink = ((paper - seen) / np.maximum(paper, 0.05)).max(axis=-1).clip(0.0, 1.0)
    ink = ndimage.median_filter(ink, size=3)  # the camera's noise, JPEG's ringing
    # Lines and the table past the page's edge first: their ink would set the threshold.
    lines, count = _line_mask(ink > WEAK_CONTRAST)
    values = ink[(ink > WEAK_CONTRAST) & ~lines]
    strong_level = max(MIN_CONTRAST, _otsu(values)) if values.size else 1.0
    strong = (ink > strong_level) & ~lines
    weak = (ink > max(WEAK_CONTRAST, strong_level / 2)) & ~lines
    labels, _ = ndimage.label(weak, structure=EIGHT)
    touched = np.unique(labels[strong])
    mask = np.isin(labels, touched[touched > 0])
    if count:  # give back the strokes where a line crossed them (ink on both sides)
        across = ndimage.binary_closing(mask, np.ones((HEAL, 1), bool))
        across |= ndimage.binary_closing(mask, np.ones((1, HEAL), bool))
        mask |= across & lines & (ink > WEAK_CONTRAST)
    digit = _pick_digit(mask, ink) if mask.any() else mask
    out = np.where(digit, ink, 0.0).astype(np.float32)
    thickened = False
    if digit.any():
        rows = np.flatnonzero(digit.any(axis=1))
        cols = np.flatnonzero(digit.any(axis=0))
        size = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
        width = _stroke_width(digit)
        if width < THIN_STROKE * size:
            grow = max(3, int(round(MNIST_STROKE * size - width)) | 1)
            out = ndimage.grey_dilation(out, size=(grow, grow))
            thickened = True
        full = float(np.percentile(out[out > 0], 90))
        out = np.clip(out / max(full, 1e-6), 0.0, 1.0)
    return Found(
        image=(1.0 - seen if light_ink else seen).astype(np.float32),
        ink=out,
        digit=digit,
        set_aside=(ink > WEAK_CONTRAST) & ~digit,
        lines=count,
        thickened=thickened,
    )


def overlay(found: Found) -> np.ndarray:
    """The reduced photo, faded, with the digit in orange and what was set aside in blue:
    uint8 (h, w, 3), for people to check what was read."""
    base = 0.35 + 0.65 * found.image.mean(axis=-1, keepdims=True).repeat(3, axis=-1)
    out = base.copy()
    out[found.set_aside] = 0.5 * base[found.set_aside] + 0.5 * np.array([0.2, 0.45, 0.95])
    out[found.digit] = np.array([0.95, 0.45, 0.05])
    return (out * 255).astype(np.uint8)


def describe(found: Found) -> str:
    """One sentence for people on what ``overlay`` shows (in the session's language)."""
    if not found.set_aside.any():
        sentence = _("Orange: the ink read as the digit.")
    elif found.lines:
        sentence = ngettext(
            "Orange: the ink read as the digit; blue: marks set aside ({n} straight line or "
            "page edges).",
            "Orange: the ink read as the digit; blue: marks set aside ({n} straight lines or "
            "page edges).",
            found.lines,
        ).format(n=found.lines)
    else:
        sentence = _("Orange: the ink read as the digit; blue: marks set aside.")
    if found.thickened:
        sentence += " " + _("Its thin strokes were thickened to MNIST's proportions.")
    return sentence
