"""Small reusable widgets."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import streamlit as st

from mnist import i18n
from mnist.i18n import _


def page_header(title: str, caption: str) -> None:
    st.title(title)
    st.caption(caption)


def keyed_to(prefix: str, identity: object) -> str:
    """A widget key that changes with ``identity``: a selection made on one model's chart or
    one list of runs (kept by row number) never carries over to another."""
    return f"{prefix}.{zlib.crc32(repr(identity).encode()):08x}"


def percent(p: float) -> str:
    """A probability as a percentage with one decimal, never rounded up to a certain 100 %
    (floored to tenths, then written as the session's language writes percentages)."""
    tenths = math.floor(float(p) * 1000)
    return i18n.percent(tenths / 1000, 1)


def in_this_language(format_func: Callable[[Any], str]) -> Callable[[Any], str]:
    """``format_func`` speaking the session's language of now, wherever it is called.

    A widget's ``format_func`` is also called outside the script run (AppTest calls it from the
    test's thread to find the option a value stands for), where no session decides the language:
    unbound, it would answer in English while the options show Korean.
    """
    lang = i18n.language()

    def shown(option: Any) -> str:
        with i18n.use_language(lang):
            return format_func(option)

    return shown


def full_stop(text: str) -> str:
    """``text`` ending in a full stop (a library's message, quoted mid-sentence)."""
    text = str(text).strip()
    return text if not text or text[-1] in ".!?" else text + "."


def show_error(message: object) -> None:
    """One clear message instead of a traceback."""
    st.error(str(message), icon=":material/error:")


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling: crisp pixels instead of the browser's blur."""
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def to_display(image: np.ndarray, scale: int = 3) -> np.ndarray:
    """A 28×28 image (uint8 0–255 or float 0–1, optional channel axis) → enlarged uint8."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = image[..., 0]
    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
    return enlarge(image, scale)


def digit_grid(
    images: Sequence[np.ndarray] | np.ndarray,
    captions: Sequence[str],
    scale: int = 3,
    per_row: int = 10,
) -> None:
    """Rows of ``per_row`` enlarged digits with captions (the codelab's example grid)."""
    if len(images) == 0:
        st.info(_("No images to show."))
        return
    for start in range(0, len(images), per_row):
        columns = st.columns(per_row)
        for col, image, caption in zip(
            columns,
            images[start : start + per_row],
            captions[start : start + per_row],
            strict=False,
        ):
            col.image(
                to_display(image, scale), caption=caption, width=28 * scale, output_format="PNG"
            )
