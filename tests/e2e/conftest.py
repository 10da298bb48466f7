"""End-to-end fixtures: a real `streamlit run app.py` on a free port, driven by Debian's Chromium.

Chromium comes from Debian (`apt-get install chromium`), never from `playwright install`.
Without it these tests skip locally and fail under CI=true. A failing test leaves a
screenshot and the server log in `artifacts/e2e/`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from benchmarks.dashboard import CHROMIUM, Dashboard, launch_chromium
from tests.conftest import ROOT, wait_for

ARTIFACTS = ROOT / "artifacts" / "e2e"
BUSY = "[data-testid='stSkeleton'], [data-testid='stSpinner'], [data-testid='stStatusWidget']"


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} not found: install it with `apt-get install chromium`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: the browser tests must run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    _require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    root = tmp_path_factory.mktemp("e2e")
    srv = Dashboard(root / "runs", ARTIFACTS / "server.log")
    try:
        srv.wait_healthy()
        yield srv
    finally:
        srv.close()
        # Stop any sweep and any worker a test left behind: both are their own sessions.
        from mnist import sweeps

        for sweep in sweeps.list_sweeps(root / "runs")[0]:
            sweeps.request_stop(sweep.path)
        for status in (root / "runs").glob("*/status.json"):
            try:
                pid = __import__("json").loads(status.read_text()).get("pid")
                if pid:
                    os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                pass


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect

    # Assertions on the page wait for their condition; a loaded machine is late, not wrong.
    expect.set_options(timeout=60_000)
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash_report = report
    return report


@contextlib.contextmanager
def browser_page(browser, server, request, locale: str):
    """A fresh browser context (a new user whose browser asks for ``locale``) and its page;
    screenshots of its pages and the server log saved if the test failed."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale=locale)
    try:
        yield context.new_page()
        report = getattr(request.node, "stash_report", None)
        if report is not None and report.failed:
            name = request.node.name.replace("/", "_")
            for i, p in enumerate(context.pages):
                p.screenshot(path=str(ARTIFACTS / f"{name}-{i}.png"), full_page=True)
            shutil.copy(server.log_path, ARTIFACTS / f"{name}-server.log")
    finally:
        context.close()


@pytest.fixture
def page(browser, server, request):
    """A new user per test, whose browser asks for English."""
    with browser_page(browser, server, request, "en-US") as pg:
        yield pg


def wait_idle(pg, timeout: float = 90) -> None:
    """Until the app has stopped running scripts and drawing placeholders for ~2 s."""
    deadline = time.monotonic() + timeout
    calm = 0
    while time.monotonic() < deadline:
        calm = 0 if pg.locator(BUSY).count() else calm + 1
        if calm >= 4:
            return
        time.sleep(0.5)
    raise AssertionError(f"the page was still busy after {timeout} s")


def open_page(pg, server: Dashboard, path: str = "") -> None:
    pg.goto(f"{server.url}/{path}")
    pg.wait_for_selector("[data-testid='stApp']")
    pg.wait_for_selector("h1", timeout=60_000)
    wait_idle(pg)


def readme_screenshot(pg, name: str, height: int) -> None:
    """With $MNIST_SCREENSHOTS (e.g. docs/screenshots), save the page as the README shows it."""
    shots = os.environ.get("MNIST_SCREENSHOTS")
    if not shots:
        return
    size = pg.viewport_size
    pg.set_viewport_size({"width": 1400, "height": height})
    wait_idle(pg)
    pg.screenshot(path=str(Path(shots) / name))
    pg.set_viewport_size(size)


def exceptions(pg) -> list[str]:
    return [e.inner_text() for e in pg.locator("[data-testid='stException']").all()]


# -- what a person does and reads on the pages -------------------------------------------------
HEADING = re.compile(r"Run (\d{8}-\d{6}-[0-9a-f]{4}) — (\w+)")


def go(pg, title: str) -> None:
    """Switch page with the sidebar, as a person would (same session)."""
    pg.locator("[data-testid='stSidebarNavLink']").filter(has_text=title).click()
    pg.wait_for_function(
        "t => document.querySelector('h1') && document.querySelector('h1').innerText === t",
        arg={"Overview": "MNIST CNN Studio", "Sketch": "Sketch a digit"}.get(title, title),
    )
    wait_idle(pg)


def wait_until(predicate, timeout: float = 120, what: str = "a condition"):
    """Poll ``predicate`` until it is truthy (returned); fail after ``timeout`` seconds."""
    return wait_for(predicate, timeout, interval=0.25, what=what)


def run_heading(pg, timeout: float = 60) -> tuple[str, str]:
    """(run id, state) from the Training page's run heading, once it shows."""
    locator = pg.locator("h4").filter(has_text="Run ")
    locator.first.wait_for(timeout=timeout * 1000)
    match = HEADING.search(locator.first.inner_text())
    assert match, locator.first.inner_text()
    return match.group(1), match.group(2)


def progress_step(pg) -> int:
    """Training steps done, read off the progress line (epoch e/n · batch b/B)."""
    bar = pg.locator("[data-testid='stProgress']")
    if not bar.count():
        return 0
    text = bar.first.inner_text()
    e = re.search(r"epoch (\d+)/\d+", text)
    b = re.search(r"batch (\d+)/(\d+)", text)
    return (int(e.group(1)) - 1) * int(b.group(2)) + int(b.group(1)) if e and b else 0


def wait_state(server, run_id: str, states: tuple[str, ...], timeout: float = 300):
    from mnist import runs

    return wait_until(
        lambda: (run := runs.find_run(run_id, server.runs_dir)).state in states and run,
        timeout,
        f"run {run_id} to reach {states}",
    )


def run_ids(server) -> set[str]:
    from mnist import runs

    return {r.run_id for r in runs.list_runs(server.runs_dir)[0]}


def click_start(pg, server) -> str:
    """Press Start on the open Training page; the new run's id once the page shows it."""
    before = run_ids(server)
    pg.get_by_role("button", name="Start training").click()
    new = wait_until(lambda: run_ids(server) - before, 60, "Start to create a run")
    (run_id,) = new
    pg.locator("h4").filter(has_text=run_id).first.wait_for(timeout=60_000)
    return run_id


def slider(pg, label: str):
    """The range input of the (first visible) slider called ``label``."""
    handle = f"input[type='range'][aria-label='{label}']"
    box = pg.locator("[data-testid='stSlider']").filter(visible=True).filter(has=pg.locator(handle))
    return box.first.locator(handle)


def slider_value(pg, label: str) -> str:
    return slider(pg, label).get_attribute("aria-valuetext")


def set_slider(pg, label: str, key: str, presses: int = 1) -> None:
    """Move a slider with the keyboard (``key``: ArrowLeft, ArrowRight, Home, End)."""
    handle = slider(pg, label)
    handle.focus()
    for _ in range(presses):
        pg.keyboard.press(key)
    wait_idle(pg)


# A dataframe's rows as its accessible table tells them (Glide draws the grid on a canvas and
# mirrors it in an offscreen <table>): [row number (1 = first), its cells' texts, selected?].
_ROWS = """g => [...g.querySelectorAll("table[role=grid] tbody tr")].map(r => [
    Number(r.getAttribute("aria-rowindex")) - 1, [...r.cells].map(c => c.textContent),
    r.getAttribute("aria-selected") === "true"])"""
ROW_HEIGHT = 35  # px, the header's and each row's


def select_rows(pg, grid, texts=(), numbers=(), timeout: float = 90) -> None:
    """Make exactly these rows of the dataframe ``grid`` selected: those with a cell that
    reads one of ``texts`` (a run id) and those numbered in ``numbers`` (1 = first), by
    clicking their selection boxes as a person would. Each click is checked against the
    grid's own selection and made again if it was lost or hit another row: the page above
    can move (a live panel drawing its first chart) and a table redrawn with new rows
    clears its selection."""
    deadline = time.monotonic() + timeout
    while True:
        rows = grid.evaluate(_ROWS)
        wanted = {n for n, cells, _ in rows if n in numbers or set(texts) & set(cells)}
        wrong = [n for n, _, selected in rows if selected != (n in wanted)]
        if len(wanted) == len(texts) + len(numbers) and not wrong:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"could not select rows {texts or numbers} in {rows}")
        if len(wanted) < len(texts) + len(numbers):
            time.sleep(0.5)  # the rows asked for are not in the table yet
            continue
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        pg.mouse.click(box["x"] + 14, box["y"] + ROW_HEIGHT * wrong[0] + ROW_HEIGHT // 2)
        wait_idle(pg)


def stop_all_runs(server) -> None:
    """Ask every live run to stop and wait until none is live (tests clean up after themselves)."""
    from mnist import runs

    for run in runs.list_runs(server.runs_dir)[0]:
        runs.request_stop(run.path)
    wait_until(
        lambda: not [r for r in runs.list_runs(server.runs_dir)[0] if r.is_live],
        300,
        "every run to end",
    )
