"""The dashboard in Korean, in Chromium: a Korean browser gets every page in Korean (Hangul
rendered with Noto CJK); the sidebar's switch changes the language for the session, across
pages and through a reload. With $MNIST_SCREENSHOTS set, every Korean page is saved to
``<dir>/ko/`` (the README's docs/screenshots/ko/)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mnist import i18n
from tests.app.leftover_english import english_words
from tests.e2e.conftest import browser_page, exceptions, open_page, wait_idle

pytestmark = pytest.mark.e2e

HANGUL = re.compile("[\uac00-\ud7a3]")
PAGES = {  # address → the English page title in the sidebar
    "": "Overview",
    "data": "Data",
    "model": "Model",
    "train": "Training",
    "evaluate": "Evaluate",
    "sketch": "Sketch",
    "digits": "My digits",
    "inside": "Inside",
    "sweep": "Sweep",
}


def korean(english: str) -> str:
    with i18n.use_language("ko"):
        return i18n._(english)


@pytest.fixture
def korean_page(browser, server, request):
    """A new user per test, whose browser asks for Korean."""
    with browser_page(browser, server, request, "ko-KR") as pg:
        yield pg


def nav_link(pg, title: str):
    return pg.get_by_test_id("stSidebarNavItems").get_by_role("link", name=title, exact=True)


# Not prose: icons (their ligature names are their text), code, Streamlit's file drop zone.
NOT_PROSE = "[data-testid*='Icon'], code, [data-testid='stFileUploaderDropzone']"


def main_text(pg) -> str:
    """The main area's text as a person reads it (without what NOT_PROSE names)."""
    return pg.evaluate(
        """hide => {
            const style = document.createElement('style');
            style.textContent = hide + ' { display: none !important; }';
            document.head.appendChild(style);
            const text = document.querySelector("[data-testid='stMain']").innerText;
            style.remove();
            return text;
        }""",
        NOT_PROSE,
    )


def english_on_screen(pg) -> list[str]:
    return english_words(main_text(pg))


@pytest.mark.parametrize("path", list(PAGES))
def test_a_korean_browser_gets_every_page_in_korean(korean_page, server, path):
    pg = korean_page
    open_page(pg, server, path)
    assert not exceptions(pg)
    for english in PAGES.values():  # the whole navigation, in Korean
        expect(nav_link(pg, korean(english))).to_be_visible()
    text = main_text(pg)
    assert len(HANGUL.findall(text)) > 20, text
    left = english_words(text)
    assert not left, f"English on the page: {left}\n{text}"
    shots = os.environ.get("MNIST_SCREENSHOTS")
    if shots:
        (Path(shots) / "ko").mkdir(parents=True, exist_ok=True)
        pg.set_viewport_size({"width": 1400, "height": 1100})
        wait_idle(pg)
        pg.screenshot(path=str(Path(shots) / "ko" / f"{path or 'home'}.png"))


def pick_language(pg, name: str) -> None:
    pg.get_by_role("combobox", name=re.compile("Language")).click()
    pg.get_by_role("option", name=name, exact=True).click()
    wait_idle(pg)


def test_the_switch_keeps_its_language_across_pages_and_a_reload(korean_page, server):
    pg = korean_page
    open_page(pg, server)
    expect(nav_link(pg, korean("Overview"))).to_be_visible()

    pick_language(pg, "English")
    expect(nav_link(pg, "Overview")).to_be_visible()
    assert not HANGUL.search(pg.locator("[data-testid='stMain']").inner_text())

    nav_link(pg, "Model").click()  # another page: still English, and the address says so
    pg.wait_for_url(re.compile(r"/model\?lang=en"))
    wait_idle(pg)
    expect(nav_link(pg, "Training")).to_be_visible()
    assert not HANGUL.search(pg.locator("[data-testid='stMain']").inner_text())

    pg.reload()  # a new session: the address keeps the choice over the browser's Korean
    pg.wait_for_selector("h1")
    wait_idle(pg)
    expect(nav_link(pg, "Training")).to_be_visible()
    assert not HANGUL.search(pg.locator("[data-testid='stMain']").inner_text())

    pick_language(pg, "한국어")  # back to the browser's language: a plain address again
    expect(nav_link(pg, korean("Training"))).to_be_visible()
    assert HANGUL.search(pg.locator("[data-testid='stMain']").inner_text())
    pg.wait_for_url(re.compile(r"/model$"))
    assert not exceptions(pg)


def test_two_people_in_two_languages_each_get_their_own(browser, server):
    """What the server caches (the model's summary and diagram, the scores, the charts) is
    kept per language: a Korean session never hands its text to an English one, either way."""
    contexts = {
        code: browser.new_context(viewport={"width": 1400, "height": 1000}, locale=code)
        for code in ("ko-KR", "en-US")
    }
    try:
        pages = {code: ctx.new_page() for code, ctx in contexts.items()}
        order = ["ko-KR", "en-US"]
        for path in ("model", "evaluate", "inside"):
            for code in order:  # one session fills the caches, then the other reads them
                open_page(pages[code], server, path)
                assert not exceptions(pages[code])
            order.reverse()
            assert not HANGUL.search(main_text(pages["en-US"])), main_text(pages["en-US"])
            assert not english_on_screen(pages["ko-KR"]), english_on_screen(pages["ko-KR"])
    finally:
        for ctx in contexts.values():
            ctx.close()
