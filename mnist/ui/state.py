"""Per-session state, kept under non-widget keys so nothing is lost on a page switch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from mnist import DEFAULT_MODEL, runs
from mnist.config import PRESETS, ModelConfig, TrainConfig
from mnist.forms import model_from_form, train_from_form
from mnist.i18n import _
from mnist.ui.drafts import drop
from mnist.ui.people import note_in_use

MODEL_CONFIG = "model_config"  # the last valid ModelConfig the Model page built
MODEL_PRESET = "model_preset"  # the preset it came from, or None once edited
MODEL_ERROR = "model_error"  # why the Model page's editor does not describe a model, or None
TRAIN_CONFIG = "train_config"  # the last valid TrainConfig of the Training page
TRAIN_ERROR = "train_error"  # why the Training page's settings are not a config, or None
SELECTED_RUN = "selected_run"  # run id whose model Evaluate and Sketch use; None: bundled
DEFAULT_PRESET = "codelab"  # the app retells the codelab, so it starts with its model
ROUTED = "router.ran"  # set by app.py: this session went through the router
INTENDED = "router.intended"  # a page asked for before the router had run


def init_session() -> None:
    """Session defaults, set once per browser session (the router calls this)."""
    preset = PRESETS[DEFAULT_PRESET]
    st.session_state.setdefault(MODEL_CONFIG, preset.model)
    st.session_state.setdefault(MODEL_PRESET, preset.name)
    st.session_state.setdefault(MODEL_ERROR, None)
    st.session_state.setdefault(TRAIN_CONFIG, preset.train)
    st.session_state.setdefault(TRAIN_ERROR, None)
    st.session_state.setdefault(SELECTED_RUN, None)
    st.session_state[ROUTED] = True


def require_router(page_path: str) -> None:
    """Send a page run that bypassed ``app.py`` back through it, then on to this page.

    Because the project has a ``pages/`` folder, Streamlit's legacy routing runs a page file
    on its own for the first request after the server starts when the URL names a page
    (``/train``): no router, no session defaults. ``app.py`` forwards to ``page_path`` after.
    """
    if ROUTED not in st.session_state:
        st.session_state[INTENDED] = page_path
        st.switch_page("app.py")


def pop_intended_page() -> str | None:
    """The page a bypassed first request asked for (see ``require_router``), once."""
    return st.session_state.pop(INTENDED, None)


def get_model_config() -> tuple[ModelConfig, str | None]:
    """The session's model (the last valid one the editor described) and its preset."""
    return st.session_state[MODEL_CONFIG], st.session_state[MODEL_PRESET]


def _in_language(error: str | None, draft: str, build) -> str | None:
    """``error``, kept when a field of the draft called ``draft`` changed, said again in the
    session's language (which may have changed since): the draft is built again, a few
    checks and no model."""
    values = st.session_state.get(f"{draft}.draft")
    if not error or values is None:
        return error
    try:
        build(values)
    except ValueError as exc:
        return str(exc)
    except Exception:  # noqa: BLE001 - a draft of another shape: keep what was said
        pass
    return error


def model_error() -> str | None:
    """Why the Model page's editor, as it stands, describes no model (None: it does)."""
    return _in_language(st.session_state.get(MODEL_ERROR), "model", model_from_form)


def set_model_config(config: ModelConfig, preset: str | None) -> None:
    """Make ``config`` the session's model; the Model page's editor shows it next time."""
    st.session_state[MODEL_CONFIG] = config
    st.session_state[MODEL_PRESET] = preset
    st.session_state[MODEL_ERROR] = None
    drop("model")


def get_train_config() -> TrainConfig:
    """The last valid training settings of the Training page."""
    return st.session_state[TRAIN_CONFIG]


def train_error() -> str | None:
    """Why the Training page's settings, as they stand, are not a config (None: they are)."""
    return _in_language(st.session_state.get(TRAIN_ERROR), "train", train_from_form)


def set_train_config(config: TrainConfig) -> None:
    """Make ``config`` the session's training settings; the Training page shows them next."""
    st.session_state[TRAIN_CONFIG] = config
    st.session_state[TRAIN_ERROR] = None
    drop("train")


def select_run(run_id: str | None) -> None:
    """Make a run's model the one Evaluate and Sketch use (None: the bundled model)."""
    st.session_state[SELECTED_RUN] = run_id
    note_in_use(run_id)  # retention keeps it while it is in use


@dataclass(frozen=True)
class ModelChoice:
    """The model this session's Evaluate and Sketch pages use."""

    path: Path
    label: str  # how the pages name it
    run_id: str | None  # None: the bundled default model
    note: str | None = None  # why the selection fell back to the bundled model

    @property
    def key(self) -> tuple[str, float]:
        """Cache key: the file and its modification time."""
        return str(self.path), self.path.stat().st_mtime


def origin_label(config: runs.RunConfig) -> str:
    """``config.origin`` in the session's language: how pages name where a model came from
    (a preset's id stays as it is: it is part of how runs are listed)."""
    if config.sweep:
        return _("sweep trial {n}").format(n=config.sweep["trial"] + 1)
    if config.kind == "import":
        return _("imported")
    if config.kind == "fine-tune":
        return _("fine-tuned")
    return config.preset or _("custom")


def current_model_choice() -> ModelChoice:
    """The selected run's model if it still has one, else the bundled default (its label and
    note in the session's language)."""
    run_id = st.session_state.get(SELECTED_RUN)
    note = None
    if run_id:
        try:
            run = runs.find_run(run_id)
        except runs.RunError:
            note = _("Run {run_id} no longer exists; using the bundled model.").format(
                run_id=run_id
            )
        else:
            if run.model_path is not None:
                label = _("run {run_id} ({origin})").format(
                    run_id=run_id, origin=origin_label(run.config)
                )
                return ModelChoice(run.model_path, label, run_id)
            note = _("Run {run_id} has no model ({state}); using the bundled model.").format(
                run_id=run_id, state=runs.state_label(run.state)
            )
    return ModelChoice(DEFAULT_MODEL, _("the bundled default model"), None, note)


# How often Evaluate re-checks that its model is still the one in use (a run deleted or
# re-selected in another tab): a few file reads.
FOLLOW_SECONDS = 3.0


def follow_model(choice: ModelChoice) -> None:
    """Rerun the page as soon as the model in use is no longer ``choice`` (a run deleted,
    or another selected, in another tab), so nothing is shown for a model that is gone."""

    def check() -> None:
        now = current_model_choice()
        if (now.path, now.run_id) != (choice.path, choice.run_id) or not choice.path.is_file():
            st.rerun()

    st.fragment(run_every=FOLLOW_SECONDS)(check)()


PAGE_RERUN = "page.rerun"  # a callback inside a fragment changed what the whole page shows


def request_page_rerun() -> None:
    """From a callback in a fragment: rerun the whole page, not only the fragment."""
    st.session_state[PAGE_RERUN] = True


def rerun_page_if_requested() -> None:
    """At the end of a fragment: rerun the whole page if one of its callbacks asked to."""
    if st.session_state.pop(PAGE_RERUN, False):
        st.rerun()


INSIDE_INPUT = "inside.input"  # {"kind": "test", "index": i} or {"kind": "sketch", "x": array}
INSIDE_DIGIT = "inside.digit"  # the Inside page's "a test digit" box


def look_inside(x=None, index: int | None = None) -> None:
    """A "Why?" link: make a drawing ``x`` (28, 28, 1) or test image ``index`` the Inside
    page's input, and go there."""
    if x is None:
        st.session_state[INSIDE_INPUT] = {"kind": "test", "index": int(index)}
        st.session_state.pop(INSIDE_DIGIT, None)  # the box shows that test digit's class
    else:
        st.session_state[INSIDE_INPUT] = {"kind": "sketch", "x": np.asarray(x, np.float32)}
        st.session_state[INSIDE_DIGIT] = None  # no test digit chosen
    st.switch_page("pages/inside.py")
