"""Evaluate: test accuracy, per-class table, clickable confusion matrix, confident mistakes."""

import streamlit as st

from mnist.i18n import _
from mnist.ui import follow_model, model_scores, page_header, require_router, show_error
from mnist.ui.evaluate_panel import (
    cell,
    confusion,
    downloads,
    headline,
    mistakes,
    model_in_use,
    per_class,
)

require_router("pages/evaluate.py")

page_header(_("Evaluate"), _("How the model does on the 10,000 test images it never trained on."))
choice = model_in_use(_(" — choose another in the Training page's run history."))
follow_model(choice)
try:
    evaluation, probs = model_scores(choice)
except ValueError as exc:  # a damaged or foreign .keras file
    show_error(_("This model cannot be used: {error}").format(error=exc))
    st.stop()
headline(evaluation)
table, matrix = st.columns([1, 1], gap="large")
with table:
    per_class(evaluation)
with matrix:
    clicked = confusion(evaluation, choice)
if clicked:
    cell(probs, *clicked)
mistakes(evaluation)
downloads(evaluation, choice)
