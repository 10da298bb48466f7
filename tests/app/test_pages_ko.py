"""Every page in Korean under AppTest: no exception, no English prose left; the sidebar's
language switch and the browser's language."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import pytest
from streamlit.testing.v1 import AppTest

from mnist import i18n, runs
from mnist.records import BatchRecord, EpochRecord
from mnist.ui.language import LANGUAGE, SWITCH
from mnist.ui.train_panel import WATCHED
from tests.app.conftest import APP, PAGES, open_page
from tests.app.leftover_english import english_words, visible_texts
from tests.conftest import made_run

HANGUL = re.compile("[\uac00-\ud7a3]")


# The language switch speaks both languages whatever the page speaks.
SWITCH_TEXTS = {"Language · 언어", *i18n.LANGUAGES.values()}


def korean_outside_the_switch(at) -> list[str]:
    """Texts with Hangul in them, except the language switch's."""
    return [t for t in visible_texts(at) if HANGUL.search(t) and t not in SWITCH_TEXTS]


def leftover(at) -> dict[str, list[str]]:
    """Each text of the page (but the switch) that still has English prose, with those words."""
    return {
        t: words for t in visible_texts(at) if t not in SWITCH_TEXTS and (words := english_words(t))
    }


def assert_korean(at) -> None:
    assert not at.exception, at.exception
    texts = visible_texts(at)
    assert sum(bool(HANGUL.search(t)) for t in texts) >= 3, texts
    left = leftover(at)
    assert not left, "English left on the page:\n" + "\n".join(
        f"  {words} in {text!r}" for text, words in left.items()
    )


def test_the_detector_finds_english_and_passes_korean_with_glosses_and_code():
    assert english_words("Start training") == ["Start", "training"]
    assert english_words("학습 시작 (now)") == []  # a gloss after Korean
    assert english_words("Run stopped") == ["Run", "stopped"]
    assert english_words("합성곱(convolution) 층 `Conv2D`, 32 MB, MNIST") == []
    assert english_words("(training) 학습") == ["training"]  # a bracket not after Korean
    assert english_words("runs/20261207-004512-ab12 · alice@example.org") == []


@pytest.mark.parametrize("name", PAGES)
def test_every_page_speaks_korean_to_a_korean_browser(name):
    assert_korean(open_page(name, locale="ko-KR"))


@pytest.mark.parametrize("name", ["home", "train", "sweep"])
def test_pages_with_runs_speak_korean(name, runs_dir):
    made_run(state=runs.DONE)
    made_run(state=runs.RUNNING)
    assert_korean(open_page(name, locale="ko-KR"))


def test_a_finished_runs_charts_speak_korean(runs_dir):
    """The Training page watching a finished run, with its charts: per batch, per epoch, and
    the reference lines with their sources (a caption a browser test found English in)."""
    done = made_run(state=runs.DONE)
    lines = [runs.metrics_header(), json.dumps(asdict(BatchRecord(loss=2.3, accuracy=0.1)))]
    lines.append(json.dumps(asdict(EpochRecord(loss=0.3, accuracy=0.9, val_accuracy=0.91))))
    (done / runs.METRICS).write_text("\n".join(lines) + "\n")
    at = open_page("train", locale="ko-KR")
    at.session_state[WATCHED] = done.name
    at.run()
    assert any("keras-io" in c.value for c in at.caption), "the references' sources"
    assert_korean(at)


def test_an_english_browser_gets_english():
    at = open_page("home", locale="en-US")
    assert at.title[0].value == "MNIST CNN Studio"
    assert not korean_outside_the_switch(at)


def test_the_sidebar_switch_changes_the_language_for_the_session():
    at = open_page("home", locale="en-US")
    english = at.markdown[0].value
    at.sidebar.selectbox(key=SWITCH).set_value("ko").run()
    assert not at.exception, at.exception
    assert at.markdown[0].value != english and HANGUL.search(at.markdown[0].value)
    at.switch_page("pages/model.py").run()  # the choice lasts across pages
    assert_korean(at)
    assert at.session_state[LANGUAGE] == "ko"
    at.switch_page("app.py").run()  # AppTest runs a page alone: back through the router
    at.sidebar.selectbox(key=SWITCH).set_value("en").run()
    assert not korean_outside_the_switch(at)
    at.switch_page("pages/model.py").run()
    assert at.title[0].value and not korean_outside_the_switch(at)


def test_the_address_asks_for_a_language_over_the_browser():
    at = AppTest.from_file(APP, default_timeout=180)
    at.context["locale"] = "en-US"
    at.query_params["lang"] = "ko"
    at.run()
    assert not at.exception, at.exception
    assert at.session_state[LANGUAGE] == "ko"
    assert HANGUL.search(at.markdown[0].value)
