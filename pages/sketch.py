"""Sketch: draw or upload a digit, see the 28×28 input the network gets and its answer."""

import numpy as np
import streamlit as st

from mnist.i18n import _
from mnist.ui import page_header, require_router
from mnist.ui.digits_panel import save_box
from mnist.ui.evaluate_panel import model_in_use
from mnist.ui.sketch_panel import answer, drawing_canvas, network_input, read_upload

require_router("pages/sketch.py")

page_header(
    _("Sketch a digit"),
    _(
        "Draw with the mouse (or a finger), or upload a photo of a "
        "digit: the network answers when you lift the pen."
    ),
)
choice = model_in_use(".")


# Both tabs stay on the page (only one shows), so switching keeps the drawing and the upload.
draw, upload = st.tabs([_("Draw"), _("Upload an image")])
with draw:
    canvas_col, input_col, answer_col = st.columns([1.2, 0.8, 1.6], gap="medium")
    with canvas_col:
        drawing = drawing_canvas()
    with input_col:
        x = network_input(drawing, "canvas")
    with answer_col:
        answer(x, choice, _("Draw a digit on the black square to see what the network thinks."))
        save_box(x, drawing, "canvas")
with upload:
    file_col, input_col, answer_col = st.columns([1.2, 0.8, 1.6], gap="medium")
    with file_col:
        image = read_upload("sketch.upload")
    with input_col:
        x = network_input(image, "upload")
    with answer_col:
        hint = _("Upload a photo or scan of one digit to see what the network thinks.")
        if image is not None and x is None:
            hint = _("Try a photo of one digit, dark on light paper or light on dark.")
        answer(x, choice, hint, "upload")
        save_box(x, None if image is None else np.asarray(image.convert("RGB")), "upload")
