"""MNIST CNN Studio — the router: page config, navigation, session defaults, the language,
who is signed in, the retention policy. Nothing else."""

import streamlit as st

from mnist.i18n import _
from mnist.ui import ICON, init_session, pop_intended_page
from mnist.ui.language import language_switch
from mnist.ui.people import identity, tidy_runs

# A file served by this server: a ":material/…:" page icon would be fetched from Google's font
# servers by every browser, and nothing the app shows may come from outside the machine.
st.set_page_config(page_title="MNIST CNN Studio", page_icon=str(ICON), layout="wide")
init_session()

PAGES = {
    "pages/home.py": st.Page(
        "pages/home.py", title=_("Overview"), icon=":material/home:", default=True
    ),
    "pages/data.py": st.Page("pages/data.py", title=_("Data"), icon=":material/grid_view:"),
    "pages/model.py": st.Page("pages/model.py", title=_("Model"), icon=":material/account_tree:"),
    "pages/train.py": st.Page("pages/train.py", title=_("Training"), icon=":material/monitoring:"),
    "pages/evaluate.py": st.Page(
        "pages/evaluate.py", title=_("Evaluate"), icon=":material/fact_check:"
    ),
    "pages/sketch.py": st.Page("pages/sketch.py", title=_("Sketch"), icon=":material/draw:"),
    "pages/digits.py": st.Page(
        "pages/digits.py", title=_("My digits"), icon=":material/edit_note:"
    ),
    "pages/inside.py": st.Page("pages/inside.py", title=_("Inside"), icon=":material/neurology:"),
    "pages/sweep.py": st.Page("pages/sweep.py", title=_("Sweep"), icon=":material/tune:"),
}

page = st.navigation(list(PAGES.values()))
language_switch()  # the sidebar: English or 한국어 (the browser's language at first)
identity()  # the sidebar: who you are here, Sign in / Sign out (a shared server only)
tidy_runs()  # the retention policy, if the server has one (at most once a minute)
intended = pop_intended_page()
if intended in PAGES:
    st.switch_page(PAGES[intended])
page.run()
