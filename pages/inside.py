"""Inside: what every layer of the model sees for one digit, why it answered, how fragile
the answer is, and where each test digit lives."""

import streamlit as st

from mnist.i18n import _
from mnist.ui import page_header, require_router, show_error
from mnist.ui.evaluate_panel import model_in_use
from mnist.ui.inside_panel import (
    answer,
    choose_input,
    first_convolution,
    fragile,
    layers,
    where_digits_live,
    why,
)

require_router("pages/inside.py")

page_header(
    _("Inside the network"),
    _(
        "One digit through every layer of the model, why it got its answer, how little it "
        "takes to change it, and where each test digit lives."
    ),
)
choice = model_in_use(".")
x, label, what = choose_input()
try:
    probs = answer(choice, x, label, what)
except ValueError as exc:  # a damaged or foreign .keras file
    show_error(_("This model cannot be used: {error}").format(error=exc))
    st.stop()
layers(choice, x)
first_convolution(choice, x)
why(choice, x, probs)
fragile(choice, x, probs, label)
where_digits_live(choice)
