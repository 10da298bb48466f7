"""Model: pick a preset or edit the architecture; summary, parameter count and diagram."""

import streamlit as st

from mnist.i18n import _
from mnist.ui import page_header, require_router
from mnist.ui.model_editor import architecture_editor, diagram, preset_picker, summary_panel

require_router("pages/model.py")

page_header(
    _("Model"),
    _(
        "A convolutional network: conv blocks find strokes and shapes, "
        "the dense head turns them into ten probabilities."
    ),
)
preset_picker()
editor, summary = st.columns([2, 3], gap="large")
with editor:
    architecture_editor()
with summary:
    info = summary_panel()
    diagram(info)
