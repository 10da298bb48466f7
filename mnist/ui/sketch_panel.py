"""The Sketch page's parts: an upload, what the network sees, and its answer."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image, ImageOps

from mnist.charts import probability_chart
from mnist.i18n import N_, _
from mnist.photo import describe, overlay
from mnist.sketch import EmptySketch, SketchError, classify, is_unsure, open_image, read
from mnist.ui.loaders import model_for
from mnist.ui.state import ModelChoice, look_inside
from mnist.ui.widgets import percent, show_error, to_display

PREVIEW_SIDE = 280  # the canvas's size: an upload's preview matches it
# Session keys of a canvas, under its page's prefix ("sketch", "digits"):
CANVAS_ID = "{}.canvas_id"  # bumped by Clear: a fresh canvas
DRAWING = "{}.drawing"  # the last drawing: (the canvas's JSON, its RGBA image)
MOUNTED = "{}.mounted"  # the drawing the canvas was (re)created with on this visit
STROKE = "{}.stroke"


def clear_canvas(prefix: str = "sketch") -> None:
    """A fresh, empty canvas (the Clear button; after a sample is saved)."""
    st.session_state[CANVAS_ID.format(prefix)] = (
        st.session_state.get(CANVAS_ID.format(prefix), 0) + 1
    )
    st.session_state[DRAWING.format(prefix)] = None


def _remember_stroke(prefix: str) -> None:
    st.session_state[STROKE.format(prefix)] = st.session_state[f"{prefix}.stroke_w"]


def drawing_canvas(prefix: str = "sketch") -> np.ndarray | None:
    """The black square to draw on; returns the drawing (RGBA) or None.

    The drawing outlives a page switch: the canvas is re-created with it (and its image is
    used until the canvas sends a new one), as a person expects of something they made.
    """
    from streamlit_drawable_canvas import st_canvas  # only under `streamlit run`

    canvas_id, stroke = CANVAS_ID.format(prefix), STROKE.format(prefix)
    last, mounted_key = DRAWING.format(prefix), MOUNTED.format(prefix)
    st.session_state.setdefault(canvas_id, 0)
    st.session_state.setdefault(stroke, 22)
    st.session_state.setdefault(last, None)
    key = f"{prefix}.canvas.{st.session_state[canvas_id]}"
    if key not in st.session_state:  # created on this visit: with the last drawing, if any
        st.session_state[mounted_key] = st.session_state[last]
    mounted = st.session_state.get(mounted_key)
    result = st_canvas(
        stroke_width=st.session_state[stroke],
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=PREVIEW_SIDE,
        width=PREVIEW_SIDE,
        drawing_mode="freedraw",
        initial_drawing=mounted[0] if mounted else None,
        return_image_data=True,
        key=key,
    )
    st.caption(
        _(
            "Hover the square for undo and redo. Its pencil button selects and moves strokes "
            "instead of drawing: leave it off to draw."
        )
    )
    st.session_state[f"{prefix}.stroke_w"] = st.session_state[stroke]
    st.slider(
        _("Stroke width"),
        8,
        40,
        key=f"{prefix}.stroke_w",
        on_change=_remember_stroke,
        args=(prefix,),
    )
    st.button(_("Clear"), icon=":material/ink_eraser:", on_click=clear_canvas, args=(prefix,),
              key=f"{prefix}.clear")  # fmt: skip
    if result.image_data is not None:
        st.session_state[last] = (result.json_data, result.image_data)
        return result.image_data
    return mounted[1] if mounted else None  # nothing sent since it was re-created


def read_upload(key: str) -> Image.Image | None:
    """A PNG or JPEG from the file picker, shown as uploaded; None (with a message) if none."""
    upload = st.file_uploader(_("PNG or JPEG, up to 5 MB"), type=["png", "jpg", "jpeg"], key=key)
    if upload is None:
        return None
    try:
        image = open_image(upload.getvalue(), name=upload.name)
    except SketchError as exc:
        show_error(exc)
        return None
    # In a grey frame, so a white page shows where it ends.
    preview = ImageOps.expand(
        image.convert("RGB"), border=max(1, max(image.size) // 100), fill="gray"
    )
    st.image(preview, caption=upload.name, width=PREVIEW_SIDE)
    return image


def network_input(image: Image.Image | np.ndarray | None, source: str) -> np.ndarray | None:
    """The 28×28 input made from ``image``, shown enlarged; None when there is nothing to read."""
    st.markdown(_("**What the network sees**"))
    if image is None:
        st.caption(_("The 28×28 input appears here."))
        return None
    try:
        # (28, 28, 1) float32, and what was found in a photo; the canvas is a drawing
        x, found = read(image, photo=None if source == "upload" else False)
    except EmptySketch as exc:
        if source == "upload":
            message = str(exc)  # in the session's language: a sentence without its full stop
            st.warning(message[0].upper() + message[1:] + ".", icon=":material/image_search:")
        else:
            st.caption(_("The 28×28 input appears here."))
        return None
    except SketchError as exc:
        show_error(exc)
        return None
    st.image(to_display(x, scale=6), width=28 * 6, output_format="PNG")
    st.caption(
        _(
            "28×28: cropped to the ink, fitted in 20×20, centred by mass — as MNIST digits "
            "were made."
        )
    )
    if found is not None:
        st.markdown(_("**What was found in the picture**"))
        st.image(overlay(found), width=PREVIEW_SIDE * 2 // 3)
        st.caption(describe(found))
    return x


ADVICE = {
    "canvas": N_("A larger, centred digit with a thicker stroke reads better."),
    "upload": N_("A photo reads best with one digit filling much of a plain, evenly lit page."),
}


def answer(x: np.ndarray | None, choice: ModelChoice, hint: str, source: str = "canvas") -> None:
    """The network's answer for ``x``: the digit, how sure it is, the ten probabilities."""
    if x is None:
        st.info(hint, icon=":material/draw:")
        return
    try:
        probs = classify(model_for(choice.key), x)
    except ValueError as exc:  # a damaged or foreign .keras file
        show_error(_("This model cannot be used: {error}").format(error=exc))
        return
    order = np.argsort(probs)[::-1]
    digit, runner_up = int(order[0]), int(order[1])
    unsure = is_unsure(probs)
    delta = _("{probability} — unsure") if unsure else _("{probability} confident")
    st.metric(
        _("Prediction"),
        digit,
        delta.format(probability=percent(probs[digit])),
        delta_color="off",
        delta_arrow="off",
    )
    if unsure:
        st.warning(
            _(
                "The network is unsure: no digit gets half of its belief. Its best guess is "
                "**{digit}** ({probability}), then **{runner_up}** ({runner_up_probability}). "
                "{advice}"
            ).format(
                digit=digit,
                probability=percent(probs[digit]),
                runner_up=runner_up,
                runner_up_probability=percent(probs[runner_up]),
                advice=_(ADVICE[source]),
            ),
            icon=":material/help:",
        )
    st.altair_chart(probability_chart(probs), width="stretch")
    st.caption(
        _("Runner-up: {digit} ({probability}).").format(
            digit=runner_up, probability=percent(probs[runner_up])
        )
    )
    if st.button(_("Why? Look inside"), icon=":material/neurology:", key=f"sketch.why.{source}"):
        look_inside(x)
