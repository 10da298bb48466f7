"""Figure 7, start-up: `streamlit run app.py` to the home page painted in Chromium, against
Streamlit's own `streamlit hello` to its first page painted, alternated in one run."""

from __future__ import annotations

import tempfile
import time

from benchmarks.common import Row, median
from benchmarks.dashboard import Dashboard, launch_chromium

PAINTED = """
new MutationObserver((_, observer) => {
  if (!document.body?.textContent.includes(%r)) return;
  observer.disconnect();
  requestAnimationFrame(() => { window.__painted = performance.timeOrigin + performance.now(); });
}).observe(document, {childList: true, subtree: true, characterData: true});
"""
APPS = {  # name → (what follows `streamlit`, a text its first page paints)
    "app": (("run", "app.py"), "Where to go next"),
    "hello": (("hello",), "Welcome to Streamlit"),
}
TARGET = 1.2


def painted_after(browser, command: tuple[str, ...], text: str) -> float:
    """Seconds from launching the server to ``text`` painted, timed to the frame in the page
    (not by polling: Playwright's waits back off to 500 ms)."""
    with tempfile.TemporaryDirectory() as tmp:
        page = browser.new_page()
        page.add_init_script(PAINTED % text)
        t0 = time.time()  # the page's clock below is the same wall clock
        app = Dashboard(tmp, command=command)
        try:
            app.wait_healthy()
            page.goto(app.url)
            page.wait_for_function("() => window.__painted !== undefined", timeout=60_000)
            return page.evaluate("() => window.__painted") / 1000 - t0
        finally:
            page.close()
            app.close()


def start_up(quick: bool, reps: int) -> Row:
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {name: [] for name in APPS}
    pw = sync_playwright().start()
    browser = launch_chromium(pw)
    try:
        for _ in range(reps):
            for name, (command, text) in APPS.items():
                times[name].append(painted_after(browser, command, text))
    finally:
        browser.close()
        pw.stop()
    ratios = [a / h for a, h in zip(times["app"], times["hello"], strict=True)]
    ratio = median(ratios)
    return Row(
        "7 start-up",
        f"`streamlit run app.py` → home page painted in Chromium, median "
        f"{median(times['app']):.2f} s, vs `streamlit hello` → its first page painted, median "
        f"{median(times['hello']):.2f} s; started in turn, {reps} of each; median of the "
        f"{reps} ratios",
        f"{ratio:.2f}",
        f"≤ {TARGET}",
        ratio <= TARGET,
    )
