"""Synthetic "photos" of digits on paper, to measure how well photos are read.

A photo here is a digit's ink — an MNIST test digit enlarged, or a digit typeset in Pillow's
own font — laid on generated paper: tinted, lit unevenly with a soft shadow, maybe ruled like a
notebook, maybe with the table showing past the page's edge, in black, blue, red or pencil ink,
turned a little, with the camera's noise and JPEG's artefacts. ``photo_set`` makes the same
photos every time for a seed (benchmarks figure 9, ``tests/unit/test_photo.py``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

PAPERS = {  # RGB of the paper under full light
    "white": (246, 245, 240),
    "cream": (240, 231, 205),
    "grey": (205, 205, 200),
    "sticky note": (250, 236, 140),
    "light blue": (214, 229, 245),
    "recycled": (218, 206, 186),
}
INKS = {  # RGB of the ink, and how much of the paper it covers (pencil is faint)
    "black": ((28, 28, 34), 0.95),
    "blue": ((30, 55, 155), 0.9),
    "red": ((175, 30, 35), 0.9),
    "pencil": ((85, 85, 92), 0.6),
}
RULED, MARGIN = (150, 180, 225), (225, 120, 130)  # what a notebook's lines let through
TABLES = ((105, 78, 52), (60, 60, 64), (150, 150, 145))


@dataclass(frozen=True)
class Style:
    """How one synthetic photo was made."""

    paper: str
    ink: str
    size: tuple[int, int]  # width, height
    digit_height: float  # share of the photo's shorter side
    angle: float  # degrees the page is turned
    light: float  # darkest share of the light across the page (1: even)
    shadow: bool
    ruled: bool
    table: bool
    thin: bool  # a fine pen: strokes far thinner than MNIST's
    noise: float  # standard deviation, in 0–255 levels
    jpeg: int  # quality


def random_style(rng: np.random.Generator) -> Style:
    w, h = (int(v) for v in rng.choice([(480, 640), (640, 480), (600, 600), (720, 960)]))
    return Style(
        paper=str(rng.choice(list(PAPERS))),
        ink=str(rng.choice(list(INKS))),
        size=(w, h),
        digit_height=float(rng.uniform(0.3, 0.65)),
        angle=float(rng.uniform(-6, 6)),
        light=float(rng.uniform(0.55, 1.0)),
        shadow=bool(rng.random() < 0.35),
        ruled=bool(rng.random() < 0.35),
        table=bool(rng.random() < 0.3),
        thin=bool(rng.random() < 0.25),
        noise=float(rng.uniform(1, 8)),
        jpeg=int(rng.integers(45, 92)),
    )


def typeset(digit: int, side: int = 96) -> np.ndarray:
    """A digit in Pillow's own font (no system fonts): float (side, side) ink in 0–1."""
    font = ImageFont.load_default(size=int(side * 0.9))
    layer = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(layer)
    left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=font)
    draw.text(((side - right - left) / 2, (side - bottom - top) / 2), str(digit), 255, font=font)
    # a felt pen's round strokes, a little bolder than the font
    return ndimage.grey_dilation(np.asarray(layer, np.float32) / 255, size=(5, 5))


def photo(ink: np.ndarray, style: Style, rng: np.random.Generator) -> Image.Image:
    """``ink`` (h, w) in 0–1, light on black (an MNIST digit) → a JPEG-decoded RGB photo."""
    w, h = style.size
    side = int(style.digit_height * min(w, h))
    big = Image.fromarray((np.clip(ink, 0, 1) * 255).astype(np.uint8)).resize(
        (side, side), Image.Resampling.BICUBIC
    )
    a = np.asarray(big, np.float32) / 255
    if style.thin:  # a fine pen: strokes of about 3 % of the digit's height instead of 12 %
        line = ndimage.binary_dilation(skeleton(a > 0.4), iterations=max(1, int(0.015 * side)))
        a = ndimage.gaussian_filter(line.astype(np.float32), 0.7)
    mask = np.zeros((h, w), np.float32)
    margin = int(0.08 * min(w, h))
    top = int(rng.integers(margin, max(margin + 1, h - side - margin)))
    left = int(rng.integers(margin, max(margin + 1, w - side - margin)))
    mask[top : top + side, left : left + side] = a
    lines = np.zeros((h, w), np.float32)
    if style.ruled:  # a notebook: light blue lines, a red margin
        gap = int(rng.uniform(0.06, 0.1) * h)
        thickness = int(rng.integers(1, 4))
        for y in range(int(rng.integers(0, gap)), h, gap):
            lines[y : y + thickness] = 1.0
        margin_x = int(rng.uniform(0.05, 0.15) * w)
        lines[:, margin_x : margin_x + thickness] = 2.0
    # The page is larger than the picture, so when it is turned its corners stay outside.
    pad = int(0.15 * max(w, h))
    mask = np.pad(mask, pad)
    lines = np.pad(lines, pad, mode="edge" if style.ruled else "constant")
    # Ink and printed lines absorb light: each lets through a share of every channel.
    page = np.empty((*mask.shape, 3), np.float32)
    page[:] = PAPERS[style.paper]
    page[lines == 1.0] *= np.array(RULED, np.float32) / 255
    page[lines == 2.0] *= np.array(MARGIN, np.float32) / 255
    colour, strength = INKS[style.ink]
    cover = (mask * strength)[..., None]
    page *= 1 - cover * (1 - np.array(colour, np.float32) / 255)
    if style.angle:  # the page turned, digit, lines and all
        page = ndimage.rotate(page, style.angle, axes=(1, 0), reshape=False, order=1)
    page = page[pad : pad + h, pad : pad + w]
    if style.table:  # the page ends before the picture does: the table shows
        table = TABLES[int(rng.integers(len(TABLES)))]
        edge = int(rng.uniform(0.04, 0.1) * min(w, h))
        for side_ in rng.choice(4, size=int(rng.integers(1, 3)), replace=False):
            region = [slice(None), slice(None)]
            region[int(side_) % 2] = slice(0, edge) if side_ < 2 else slice(-edge, None)
            page[tuple(region)] = table
    # light falling off across the page, and maybe a hand's soft shadow
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(theta) * xx / w + np.sin(theta) * yy / h
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    light = 1.0 - (1.0 - style.light) * ramp
    if style.shadow:
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(0.2, 0.5) * max(w, h)
        light *= 1.0 - 0.35 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    page = page * light[..., None] + rng.normal(0, style.noise, page.shape)
    image = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=style.jpeg)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


RING = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))  # P2 … P9


def skeleton(mask: np.ndarray) -> np.ndarray:
    """The one-pixel-wide centre lines of a boolean mask (Zhang and Suen's thinning, 1984)."""
    m = np.pad(mask.astype(bool), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(m, -dy, 0), -dx, 1) for dy, dx in RING]
            neighbours = sum(q.astype(np.int8) for q in p)
            ring = p + [p[0]]
            crossings = sum((~ring[i] & ring[i + 1]).astype(np.int8) for i in range(8))
            if step == 0:
                clear = ~(p[0] & p[2] & p[4]) & ~(p[2] & p[4] & p[6])
            else:
                clear = ~(p[0] & p[2] & p[6]) & ~(p[0] & p[4] & p[6])
            drop = m & (neighbours >= 2) & (neighbours <= 6) & (crossings == 1) & clear
            if drop.any():
                m &= ~drop
                changed = True
        if not changed:
            return m[1:-1, 1:-1]


def photo_set(images: np.ndarray, seed: int = 0) -> list[tuple[Image.Image, Style]]:
    """One synthetic photo of each (28, 28) uint8 digit (or float ink), each in its own style."""
    rng = np.random.default_rng(seed)
    out = []
    for digit in images:
        ink = digit.astype(np.float32) / (255.0 if digit.dtype == np.uint8 else 1.0)
        style = random_style(rng)
        out.append((photo(ink, style, rng), style))
    return out
