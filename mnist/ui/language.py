"""The session's language: the browser's (``st.context.locale``) until the person picks
another in the sidebar; the choice lasts for the session, across pages.

Importing this module makes ``mnist.i18n`` ask the running session which language to speak.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mnist import i18n

LANGUAGE = "language"  # session key of the sidebar's choice (a code of i18n.LANGUAGES)


def browser_language() -> str:
    """The supported language the browser asks for (English if none is)."""
    try:
        return i18n.supported(st.context.locale)
    except Exception:  # no browser context (a bare script run): the source language
        return i18n.SOURCE_LANGUAGE


def session_language() -> str | None:
    """The language of the session running on this thread (None outside a script run)."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    try:
        chosen = st.session_state.get(LANGUAGE)
    except Exception:  # session state not reachable from this thread
        return None
    return chosen or browser_language()


def language_switch() -> None:
    """The sidebar's language picker. Its label is in both languages: whoever cannot read the
    current one can still find the way back."""
    st.session_state.setdefault(LANGUAGE, browser_language())
    st.sidebar.selectbox(
        "Language · 언어",
        options=list(i18n.LANGUAGES),
        format_func=i18n.LANGUAGES.__getitem__,
        key=LANGUAGE,
    )


i18n.set_language_source(session_language)
