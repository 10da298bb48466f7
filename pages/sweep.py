"""Sweep: try many settings at once on Ray Tune; every trial is an ordinary run."""

import streamlit as st

from mnist import sweeps
from mnist.i18n import _
from mnist.ui import page_header, require_router
from mnist.ui.sweep_panel import (
    shown_sweep,
    space_form,
    start_button,
    sweep_chooser,
    sweep_panel,
)

require_router("pages/sweep.py")

page_header(
    _("Sweep"),
    _(
        "Which learning rate, batch size or width wins? Pick settings to vary and how many "
        "trials: each trial trains in its own process on Ray Tune — side by side on this "
        "machine, or spread over a cluster — and poor ones can stop early."
    ),
)
st.subheader(_("1. What to try"))
spec = space_form()
all_sweeps, problems = sweeps.list_sweeps()
start_button(spec, all_sweeps)
with st.container():  # one place, however many (the panel below keeps its place)
    for problem in problems:
        st.warning(
            _("Skipped an unreadable sweep folder: {problem}").format(problem=problem),
            icon=":material/warning:",
        )

st.subheader(_("2. Trials"))
shown = shown_sweep(all_sweeps)
sweep_chooser(all_sweeps, shown)
sweep_panel(shown)
