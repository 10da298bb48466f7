"""Training, stopping, evaluating and two users at once, in a real browser."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from mnist import runs
from mnist.config import PRESETS
from mnist.models import build_model
from tests.e2e.conftest import exceptions, open_page, wait_idle
from tests.e2e.test_browser import prediction, stroke

pytestmark = pytest.mark.e2e
HEADING = re.compile(r"Run (\d{8}-\d{6}-[0-9a-f]{4}) — (\w+)")


def go(page, title: str) -> None:
    """Switch page with the sidebar, as a person would (same session)."""
    page.locator("[data-testid='stSidebarNavLink']").filter(has_text=title).click()
    page.wait_for_function(
        "t => document.querySelector('h1') && document.querySelector('h1').innerText === t",
        arg={"Overview": "MNIST CNN Studio", "Sketch": "Sketch a digit"}.get(title, title),
    )
    wait_idle(page)


def run_heading(page, timeout: float = 60) -> tuple[str, str]:
    """(run id, state) from the Training page's run heading, once it shows."""
    locator = page.locator("h4").filter(has_text="Run ")
    locator.first.wait_for(timeout=timeout * 1000)
    match = HEADING.search(locator.first.inner_text())
    assert match, locator.first.inner_text()
    return match.group(1), match.group(2)


def progress_step(page) -> int:
    """Training steps done, read off the progress line (epoch e/n · batch b/B)."""
    text = page.locator("[data-testid='stProgress']").first.inner_text()
    e = re.search(r"epoch (\d+)/\d+", text)
    b = re.search(r"batch (\d+)/(\d+)", text)
    return (int(e.group(1)) - 1) * int(b.group(2)) + int(b.group(1)) if e and b else 0


def wait_state(server, run_id: str, states: tuple[str, ...], timeout: float = 240) -> runs.Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = runs.find_run(run_id, server.runs_dir)
        if run.state in states:
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} never reached {states}")


def click_start(page, server) -> str:
    """Press Start on the open Training page; the new run's id once the page shows it."""
    before = {r.run_id for r in runs.list_runs(server.runs_dir)[0]}
    page.get_by_role("button", name="Start training").click()
    deadline = time.monotonic() + 60
    while not (new := {r.run_id for r in runs.list_runs(server.runs_dir)[0]} - before):
        assert time.monotonic() < deadline, "Start created no run"
        time.sleep(0.2)
    (run_id,) = new
    page.locator("h4").filter(has_text=run_id).first.wait_for(timeout=60_000)
    return run_id


def start_run(page, server) -> str:
    open_page(page, server, "train")
    return click_start(page, server)


def test_training_survives_sliders_page_switches_reloads_and_a_second_tab(page, server):
    run_id = start_run(page, server)
    wait_state(server, run_id, (runs.RUNNING,), timeout=120)
    # Move a slider: only the settings for the next run change.
    page.get_by_role("slider").first.focus()
    page.keyboard.press("ArrowLeft")
    wait_idle(page)
    go(page, "Data")
    go(page, "Model")
    go(page, "Training")
    assert run_heading(page)[0] == run_id
    first = progress_step(page)
    page.reload()
    wait_idle(page)
    assert run_heading(page)[0] == run_id  # a new session re-attaches from disk
    second_tab = page.context.new_page()
    open_page(second_tab, server, "train")
    assert run_heading(second_tab)[0] == run_id
    run = wait_state(server, run_id, runs.FINAL_STATES)
    assert run.state == runs.DONE, run.status
    # Both tabs saw the run grow and end; the history shows its test accuracy.
    for tab in (page, second_tab):
        tab.locator("h4").filter(has_text="— done").first.wait_for(timeout=30_000)
        assert progress_step(tab) > first
        tab.get_by_text("Test accuracy on the 10,000 test images").wait_for()
        assert exceptions(tab) == []
        shown = tab.get_by_text("Test accuracy on the 10,000 test images").first.inner_text()
        assert f"{run.status['test_accuracy']:.2%}" in shown


def test_stop_ends_the_run_and_its_model_serves_the_sketch_page(page, server):
    open_page(page, server, "train")
    epochs = page.get_by_role("slider").first
    epochs.focus()
    page.keyboard.press("End")  # 50 epochs: far longer than the test waits
    wait_idle(page)
    run_id = click_start(page, server)
    wait_state(server, run_id, (runs.RUNNING,), timeout=120)
    time.sleep(2)
    page.get_by_role("button", name="Stop").click()
    asked = time.monotonic()
    run = wait_state(server, run_id, (runs.STOPPED, runs.FAILED, runs.DONE), timeout=60)
    print(f"stopped {time.monotonic() - asked:.1f} s after the click")
    assert run.state == runs.STOPPED, run.status
    assert run.model_path is not None
    page.locator("h4").filter(has_text="— stopped").first.wait_for(timeout=30_000)
    # Select it in the history (first row) and make it the current model.
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)  # row 1's selection box
    page.get_by_role("button", name="Use for Evaluate and Sketch").click()
    wait_idle(page)
    go(page, "Sketch")
    assert page.get_by_text(f"run {run_id}").first.is_visible()
    stroke(page, [(140, 40), (140, 240)])
    assert prediction(page) in {str(d) for d in range(10)}
    assert exceptions(page) == []


def test_confusion_matrix_cell_click_shows_its_images(page, server):
    open_page(page, server, "evaluate")
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    chart.wait_for()
    box = chart.bounding_box()
    # The heatmap fills the chart below the top axis: click well inside it.
    page.mouse.click(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.55)
    heading = page.locator("h3").filter(has_text=re.compile(r"test images of \d"))
    heading.first.wait_for(timeout=30_000)
    wait_idle(page)
    shown = int(heading.first.inner_text().split()[0].replace(",", ""))
    mistakes = 20  # the gallery of confident mistakes below
    assert page.locator("[data-testid='stImage']").count() == min(shown, 40) + mistakes
    assert exceptions(page) == []


def test_an_uploaded_png_is_classified(page, server, tmp_path):
    image = Image.new("L", (300, 300), 255)  # a scan: dark ink on white paper
    ImageDraw.Draw(image).line([(150, 40), (150, 260)], fill=0, width=24)
    path = Path(tmp_path) / "one.png"
    image.save(path)
    open_page(page, server, "sketch")
    page.locator("[data-testid='stButtonGroup'] button").filter(has_text="Upload an image").click()
    wait_idle(page)
    page.locator("input[type='file']").set_input_files(str(path))
    assert prediction(page) == "1"


def test_two_users_keep_their_own_selections(browser, server):
    a = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    b = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:
        open_page(a, server, "model")
        open_page(b, server, "model")
        a.locator("[data-testid='stButtonGroup'] button").filter(has_text="Fast").click()
        wait_idle(a)
        fast = f"{build_model(PRESETS['fast'].model).count_params():,}"
        assert fast in a.locator("[data-testid='stMetric']").first.inner_text()
        b.reload()
        wait_idle(b)
        assert "5,994" in b.locator("[data-testid='stMetric']").first.inner_text()
        # B starts a (codelab) run; A sees it in the shared history, A's model is unchanged.
        run_id = start_run(b, server)
        open_page(a, server, "train")
        a.get_by_text(run_id).first.wait_for(timeout=30_000)
        open_page(a, server, "evaluate")
        assert a.get_by_text("the bundled default model").first.is_visible()
        wait_state(server, run_id, runs.FINAL_STATES)
    finally:
        a.context.close()
        b.context.close()
