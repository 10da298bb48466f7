"""MNIST CNN Studio — the router: page config, navigation, session defaults, who is signed
in, the retention policy. Nothing else."""

import streamlit as st

from mnist.ui import ICON, init_session, pop_intended_page
from mnist.ui.people import identity, tidy_runs

# A file served by this server: a ":material/…:" page icon would be fetched from Google's font
# servers by every browser, and nothing the app shows may come from outside the machine.
st.set_page_config(page_title="MNIST CNN Studio", page_icon=str(ICON), layout="wide")
init_session()

PAGES = {
    "pages/home.py": st.Page(
        "pages/home.py", title="Overview", icon=":material/home:", default=True
    ),
    "pages/data.py": st.Page("pages/data.py", title="Data", icon=":material/grid_view:"),
    "pages/model.py": st.Page("pages/model.py", title="Model", icon=":material/account_tree:"),
    "pages/train.py": st.Page("pages/train.py", title="Training", icon=":material/monitoring:"),
    "pages/evaluate.py": st.Page(
        "pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"
    ),
    "pages/sketch.py": st.Page("pages/sketch.py", title="Sketch", icon=":material/draw:"),
    "pages/digits.py": st.Page("pages/digits.py", title="My digits", icon=":material/edit_note:"),
    "pages/inside.py": st.Page("pages/inside.py", title="Inside", icon=":material/neurology:"),
    "pages/sweep.py": st.Page("pages/sweep.py", title="Sweep", icon=":material/tune:"),
}

page = st.navigation(list(PAGES.values()))
identity()  # the sidebar: who you are here, Sign in / Sign out (a shared server only)
tidy_runs()  # the retention policy, if the server has one (at most once a minute)
intended = pop_intended_page()
if intended in PAGES:
    st.switch_page(PAGES[intended])
page.run()
