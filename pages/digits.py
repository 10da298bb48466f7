"""My digits: teach the network your handwriting — collect samples, fine-tune, compare."""

import streamlit as st

from mnist import runs
from mnist.i18n import _
from mnist.ui import page_header, require_router
from mnist.ui.digits_panel import (
    browse,
    finetune_controls,
    guess,
    latest_finetune,
    move,
    personal_set,
    progress,
    results,
    save_button,
    target_digit,
    visitor_note,
    watch,
)
from mnist.ui.evaluate_panel import model_in_use
from mnist.ui.sketch_panel import drawing_canvas, network_input

require_router("pages/digits.py")

page_header(
    _("My digits"),
    _(
        "Teach the network your own handwriting: draw each digit a few times, fine-tune the "
        "model on them, and see whether it reads you better — without forgetting MNIST."
    ),
)
visitor_note()
choice = model_in_use(
    _(" — the model fine-tuning starts from (choose another in the run history).")
)
samples = personal_set()

st.subheader(_("1. Draw your digits"))
digit = target_digit()
canvas_col, input_col, save_col = st.columns([1.2, 0.8, 1.2], gap="medium")
with canvas_col:
    st.markdown(_("#### Draw a **{digit}**").format(digit=digit))
    drawing = drawing_canvas("digits")
with input_col:
    x = network_input(drawing, "canvas")
with save_col:
    save_button(x, digit, drawing)
    guess(choice, x, digit)
    progress(samples)

st.subheader(_("2. Your samples"))
browse(samples)
move(samples)

st.subheader(_("3. Fine-tune"))
all_runs, _problems = runs.list_runs()
run = latest_finetune(all_runs)
finetune_controls(choice, samples, run)
watch(run)
results(run)
