"""AppTest fixtures: the real app.py router, with a private runs folder."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from mnist import DEFAULT_MODEL
from tests.conftest import ROOT

APP = str(ROOT / "app.py")  # absolute: AppTest resolves paths against the test file
PAGES = ["home", "data", "model", "train", "evaluate", "sketch", "digits", "inside", "sweep"]


def open_page(name: str, timeout: float = 180, locale: str | None = None) -> AppTest:
    """A fresh session that ran the router, then switched to ``pages/<name>.py``; its browser
    asks for ``locale`` ("ko-KR"; None: no preference, so English)."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if locale is not None:
        at.context["locale"] = locale
    at.run()
    assert not at.exception, at.exception
    if name != "home":
        at.switch_page(f"pages/{name}.py").run()
    return at


@pytest.fixture(autouse=True)
def _private_runs(runs_dir):
    """Every app test gets an empty runs folder ($MNIST_RUNS_DIR)."""
    assert DEFAULT_MODEL.is_file(), "models/default.keras is missing"
    return runs_dir
