"""Canvas-like drawings, made the same way every time, for the canvas regression test.

Each as the Sketch page's canvas returns it (streamlit-drawable-canvas, measured in Chromium):
280×280 RGBA, an opaque black ground, white strokes anti-aliased at their edges; and the same
strokes on a transparent ground (a PNG with alpha). ``tests/unit/fixtures/canvas-inputs.npy``
holds what ``preprocess`` made of them before photos got their own path (commit 90a4ad0,
made with that commit's ``mnist/sketch.py``); they must keep giving exactly that.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from mnist.data import BUNDLED_DIR, load

STROKES = [  # (points, width): a 1, a 7, a 4, a 2, a 0, a small off-centre 3, a thin 5
    ([(140, 40), (140, 240)], 22),
    ([(70, 50), (210, 50), (120, 240)], 22),
    ([(180, 240), (180, 40), (60, 170), (220, 170)], 18),
    ([(80, 90), (140, 45), (200, 90), (80, 235), (210, 235)], 26),
    ([(140, 40), (70, 90), (70, 190), (140, 240), (210, 190), (210, 90), (140, 40)], 20),
    ([(200, 200), (240, 190), (215, 225), (240, 250), (200, 262)], 10),
    ([(200, 50), (100, 50), (90, 130), (190, 140), (180, 230), (80, 230)], 8),
]


def canvas_drawings() -> list[np.ndarray]:
    """The stroked drawings, then five MNIST test digits enlarged ten times; each on the
    canvas's opaque black ground, then all again on a transparent ground."""
    inks = []
    for points, width in STROKES:
        layer = Image.new("L", (280, 280), 0)
        ImageDraw.Draw(layer).line(points, fill=255, width=width, joint="curve")
        inks.append(np.asarray(layer))
    for digit in load(BUNDLED_DIR).test_images[:5]:
        inks.append(
            np.asarray(Image.fromarray(digit).resize((280, 280), Image.Resampling.BILINEAR))
        )
    return [_on_black(ink) for ink in inks] + [_on_glass(ink) for ink in inks]


def _on_black(ink: np.ndarray) -> np.ndarray:
    rgba = np.full((*ink.shape, 4), 255, np.uint8)
    rgba[..., :3] = ink[..., None]
    return rgba


def _on_glass(ink: np.ndarray) -> np.ndarray:
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = ink
    return rgba
