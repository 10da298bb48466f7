"""Overview: what the app does, the data and model in use, where to go next. No TensorFlow."""

import streamlit as st

from mnist import i18n, runs
from mnist.i18n import _
from mnist.ui import current_model_choice, data_counts, require_router

require_router("pages/home.py")

st.title(_("MNIST CNN Studio"))
st.markdown(
    _(
        "Handwritten-digit recognition with a convolutional network, step by step — the "
        "TensorFlow.js codelab *Handwritten digit recognition with CNNs*, retold in Python: "
        "**look at the data**, **build a model**, **train it** with live charts, **evaluate** "
        "it with per-class accuracy and a confusion matrix, then **sketch a digit** and see what "
        "the network thinks."
    )
)

stats = data_counts()
sizes = stats["sizes"]
choice = current_model_choice()
all_runs, _problems = runs.list_runs()
live = [r for r in all_runs if r.is_live]

c1, c2, c3, c4 = st.columns(4)
c1.metric(_("Training images"), i18n.number(sizes["train"]))
c2.metric(_("Validation images"), i18n.number(sizes["validation"]))
c3.metric(_("Test images"), i18n.number(sizes["test"]))
c4.metric(
    _("Training runs"),
    i18n.number(len(all_runs)),
    _("{n} live").format(n=i18n.number(len(live))) if live else None,
    delta_color="off",
    delta_arrow="off",
)

st.subheader(_("In use now"))
data_line = (
    _("**Data**: MNIST, 28×28 grayscale digits, bundled with the app (checksums verified).")
    if stats["verified"]
    else _("**Data**: MNIST, 28×28 grayscale digits, bundled with the app (checksums not checked).")
)
model_line = _("**Model** for Evaluate and Sketch: {model}.").format(model=choice.label)
st.markdown(f"- {data_line}\n- {model_line}")
if choice.note:
    st.warning(choice.note)
for run in live:
    st.info(
        _("Run {run_id} is {state}.").format(run_id=run.run_id, state=runs.state_label(run.state)),
        icon=":material/monitoring:",
    )

st.subheader(_("Where to go next"))
left, right = st.columns(2)
with left:
    st.page_link("pages/data.py", label=_("Explore the data"), icon=":material/grid_view:")
    st.caption(_("Examples of every digit, class balance, the average digit, pixel statistics."))
    st.page_link("pages/model.py", label=_("Build a model"), icon=":material/account_tree:")
    st.caption(_("Start from the codelab's CNN or a faster, stronger preset; edit every layer."))
    st.page_link("pages/train.py", label=_("Train it"), icon=":material/monitoring:")
    st.caption(_("Live loss and accuracy per batch and per epoch; runs survive every click."))
    st.page_link("pages/sweep.py", label=_("Search the settings"), icon=":material/tune:")
    st.caption(_("Many runs at once on Ray Tune: which learning rate or width wins."))
with right:
    st.page_link("pages/evaluate.py", label=_("Evaluate"), icon=":material/fact_check:")
    st.caption(_("Test accuracy, per-class table, confusion matrix you can click into."))
    st.page_link("pages/sketch.py", label=_("Sketch a digit"), icon=":material/draw:")
    st.caption(_("Draw or upload a digit and see the 28×28 input and the ten probabilities."))
    st.page_link(
        "pages/digits.py", label=_("Teach it your handwriting"), icon=":material/edit_note:"
    )
    st.caption(_("Draw each digit a few times, fine-tune on them, compare before and after."))
    st.page_link("pages/inside.py", label=_("Look inside"), icon=":material/neurology:")
    st.caption(_("Every layer's maps for one digit, why it got its answer, how fragile it is."))

st.divider()
st.caption(
    _(
        "MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges (CC BY-SA 3.0), "
        "a derivative of NIST Special Databases 1 and 3."
    )
)
