"""Form drafts: an editor's field values under one plain session-state key.

Two Streamlit behaviours make widget state a poor home for an editor's values: a widget's
value is forgotten when its page is not shown, and a keyed widget keeps the value the
browser holds when its default changes (so a preset's values never reached the editor, and
the browser's old values came back as "changes"). So the fields live in a dict (the draft),
every run pushes them into the widgets, and each widget's callback writes its own field
back. Replacing the draft (a preset, a run's settings) moves every widget with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st


class Draft:
    """The fields of one editor, kept across reruns and page switches."""

    def __init__(self, name: str, initial: Callable[[], dict]) -> None:
        self.name = name  # widget keys are "<name>.w.<field>"
        self.state_key = f"{name}.draft"
        if self.state_key not in st.session_state:
            st.session_state[self.state_key] = initial()

    @property
    def values(self) -> dict:
        return st.session_state[self.state_key]

    def __getitem__(self, field: str) -> Any:
        return self.values[field]

    def replace(self, values: dict) -> None:
        st.session_state[self.state_key] = dict(values)

    def widget_key(self, field: str) -> str:
        return f"{self.name}.w.{field}"

    def bind(
        self,
        field: str,
        shown: Any = None,
        parse: Callable[[Any], Any] | None = None,
        then: Callable[[], None] | None = None,
    ) -> dict:
        """Keyword arguments for the widget of ``field``: its key, holding the draft's value
        (or ``shown``), and a callback that stores the widget's value (through ``parse``),
        then calls ``then``."""
        key = self.widget_key(field)
        st.session_state[key] = self.values[field] if shown is None else shown
        return {"key": key, "on_change": self._changed, "args": (field, parse, then)}

    def _changed(self, field: str, parse, then) -> None:
        key = self.widget_key(field)
        if key not in st.session_state:  # a widget of a page no longer shown
            return
        value = st.session_state[key]
        self.replace({**self.values, field: parse(value) if parse else value})
        if then:
            then()


def build_into(draft: Draft, build, config_key: str, error_key: str) -> None:
    """The config ``build(draft.values)`` makes into ``config_key`` (and no error), or, when
    the fields describe none, the reason into ``error_key`` (the last good config stays)."""
    try:
        config = build(draft.values)
    except ValueError as exc:
        st.session_state[error_key] = str(exc)
    else:
        st.session_state[config_key] = config
        st.session_state[error_key] = None


def drop(name: str) -> None:
    """Forget the draft called ``name``: the next page to show it starts from its config."""
    st.session_state.pop(f"{name}.draft", None)
