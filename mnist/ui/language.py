"""The session's language: the browser's (``st.context.locale``) until the person picks
another in the sidebar. The choice lasts for the session, across pages, and through a reload:
a language other than the browser's stays in the address as ``?lang=ko``, which also makes a
link that opens the dashboard in that language.

Importing this module makes ``mnist.i18n`` ask the running session which language to speak.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mnist import i18n

LANGUAGE = "language"  # the session's language (a code of i18n.LANGUAGES); not a widget key,
SWITCH = "language.switch"  # so it outlives a run that does not draw the switch (this is)
PARAM = "lang"  # the address's query parameter


def browser_language() -> str:
    """The supported language the browser asks for (English if none is)."""
    try:
        return i18n.supported(st.context.locale)
    except Exception:  # no browser context (a bare script run): the source language
        return i18n.SOURCE_LANGUAGE


def initial_language() -> str:
    """A new session's language: the address's ``?lang=``, else the browser's."""
    try:
        asked = st.query_params.get(PARAM)
    except Exception:  # no script run context
        asked = None
    return i18n.supported(asked) if asked else browser_language()


def session_language() -> str | None:
    """The language of the session running on this thread (None outside a script run)."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    try:
        chosen = st.session_state.get(LANGUAGE)
    except Exception:  # session state not reachable from this thread
        return None
    return chosen or initial_language()


def language_switch() -> None:
    """The sidebar's language picker. Its label is in both languages: whoever cannot read the
    current one can still find the way back."""
    st.session_state.setdefault(LANGUAGE, initial_language())
    st.session_state[SWITCH] = st.session_state[LANGUAGE]
    st.sidebar.selectbox(
        "Language · 언어",
        options=list(i18n.LANGUAGES),
        format_func=i18n.LANGUAGES.__getitem__,
        key=SWITCH,
        on_change=_switched,
    )
    chosen = st.session_state[LANGUAGE]
    # Keep a choice other than the browser's in the address (a page switch drops it).
    if chosen != browser_language():
        if st.query_params.get(PARAM) != chosen:
            st.query_params[PARAM] = chosen
    elif PARAM in st.query_params:
        del st.query_params[PARAM]


def _switched() -> None:
    # A callback runs before the script: the whole rerun, page titles first, speaks the choice.
    st.session_state[LANGUAGE] = st.session_state[SWITCH]


i18n.set_language_source(session_language)
