"""My digits in Chromium: a person draws every digit with the mouse until the page is ready,
fine-tunes, and reads the before/after figures; the samples survive a reload and a server's
worth of page switches; Sketch's "save it as" adds to the same set."""

from __future__ import annotations

import math
import re

import numpy as np
from playwright.sync_api import expect

from tests.e2e.conftest import (
    exceptions,
    go,
    open_page,
    readme_screenshot,
    select_rows,
    stop_all_runs,
    wait_idle,
    wait_until,
)
from tests.e2e.test_browser import stroke


def _circle(cx, cy, rx, ry, n=20):
    return [
        (cx + rx * math.sin(2 * math.pi * i / n), cy - ry * math.cos(2 * math.pi * i / n))
        for i in range(n + 1)
    ]


# Strokes of each digit on the 280×280 canvas, as a person might draw them.
DIGITS = {
    0: [_circle(140, 140, 65, 95)],
    1: [[(130, 60), (150, 40), (150, 240)]],
    2: [[(80, 90), (140, 45), (200, 90), (80, 235), (210, 235)]],
    3: [[(80, 60), (200, 60), (130, 135), (200, 190), (140, 240), (80, 220)]],
    4: [[(160, 40), (60, 170), (220, 170)], [(180, 110), (180, 245)]],
    5: [[(200, 50), (100, 50), (90, 130), (190, 140), (180, 230), (80, 230)]],
    6: [[(190, 50), (100, 130), (80, 200), (140, 240), (200, 200), (180, 150), (100, 160)]],
    7: [[(70, 50), (210, 50), (120, 240)]],
    8: [_circle(140, 90, 45, 45), _circle(140, 190, 55, 50)],
    9: [_circle(140, 90, 50, 45), [(190, 90), (180, 240)]],
}


def _draw(page, digit: int, k: int) -> None:
    """Digit ``digit``, the ``k``-th time: shifted and scaled a little each time."""
    dx, dy, s = (k % 3 - 1) * 10, (k % 2) * 8 - 4, 0.9 + 0.05 * (k % 3)
    for points in DIGITS[digit]:
        stroke(page, [(140 + (x - 140) * s + dx, 140 + (y - 140) * s + dy) for x, y in points])


def _asked(page) -> int:
    heading = page.locator("h4").filter(has_text="Draw a ").first
    return int(re.search(r"Draw a (\d)", heading.inner_text()).group(1))


def _on_disk(server) -> int:
    from mnist.personal import PersonalSet

    return len(PersonalSet(server.runs_dir / "personal").samples())


def test_collect_every_digit_fine_tune_and_compare(page, server):
    from mnist import runs
    from mnist.finetune import comparison
    from mnist.personal import PersonalSet

    samples = PersonalSet(server.runs_dir / "personal")
    open_page(page, server, "digits")
    save = page.locator(".st-key-digits-save button").first
    ready = page.get_by_text("Fine-tuning needs at least")
    drawn = 0
    while ready.count():  # the page asks for the digit with the fewest samples
        digit = _asked(page)
        before = _on_disk(server)
        _draw(page, digit, drawn)
        expect(page.get_by_text("28×28: cropped to the ink")).to_be_visible()
        wait_idle(page)
        expect(save).to_be_enabled()
        expect(save).to_contain_text(f"Save as {digit}")
        save.click()
        wait_until(lambda b=before: _on_disk(server) == b + 1, 60, "the sample to be saved")
        wait_idle(page)
        drawn += 1
        assert drawn <= 60, "the page still asks for digits after 60 samples"
    counts = samples.counts()
    assert counts.sum(axis=1).min() >= 5 and counts[:, 1].min() >= 1, counts
    assert drawn >= 50 or counts.sum() > drawn  # every digit drawn (or some saved before)

    # The samples table lists them all; a reload keeps them.
    page.reload()
    page.wait_for_selector("h1")
    wait_idle(page)
    expect(page.get_by_text("Fine-tuning needs at least")).to_have_count(0)

    existing = {r.run_id for r in runs.list_runs(server.runs_dir)[0]}
    page.locator(".st-key-digits-start button").click()
    run_id = wait_until(
        lambda: {r.run_id for r in runs.list_runs(server.runs_dir)[0]} - existing,
        120,
        "Fine-tune to create a run",
    ).pop()
    expect(page.get_by_text("Did it help?")).to_be_visible(timeout=900_000)
    run = runs.find_run(run_id, server.runs_dir)
    assert run.state == runs.DONE and run.config.finetune.mode == "features"
    result = comparison(run.evaluation()["finetune"])
    assert result.count == int(counts[:, 1].sum())
    shown = page.locator("[data-testid='stMetric']")
    personal = shown.filter(has_text="held-out digits").locator("[data-testid='stMetricValue']")
    expect(personal).to_have_text(f"{result.personal_after:.0%}")
    mnist = shown.filter(has_text="10,000 test images").locator("[data-testid='stMetricValue']")
    expect(mnist).to_have_text(f"{result.mnist_after:.2%}")
    expect(page.get_by_text(f"was {result.personal_before:.0%}")).to_be_visible()
    readme_screenshot(page, "digits.png", 3400)

    # Use it: Evaluate names the fine-tuned run; coming back shows the same figures.
    page.get_by_role("button", name="Use the fine-tuned model").click()
    wait_idle(page)
    go(page, "Evaluate")
    expect(page.get_by_text(f"run {run_id}").first).to_be_visible()
    go(page, "My digits")
    expect(personal).to_have_text(f"{result.personal_after:.0%}")
    assert exceptions(page) == []
    stop_all_runs(server)


def test_sketch_saves_a_misread_drawing_to_my_digits(page, server):
    from mnist.personal import PersonalSet

    samples = PersonalSet(server.runs_dir / "personal")
    open_page(page, server, "sketch")
    before = _on_disk(server)
    ids = {s.id for s in samples.samples()}
    _draw(page, 7, 0)
    box = page.get_by_role("combobox", name="Wrong answer? Save it to My digits as")
    expect(box).to_be_visible()
    box.click()
    page.get_by_role("option", name="1", exact=True).click()
    page.locator(".st-key-sketch-save_as-canvas-button button").click()
    wait_until(lambda: _on_disk(server) == before + 1, 60, "the drawing to be saved")
    (new,) = [s for s in samples.samples() if s.id not in ids]
    assert new.digit == 1  # saved under the label the person chose, not the answer
    assert exceptions(page) == []


def test_saved_digits_survive_a_server_restart(browser, tmp_path):
    """Save a digit on one server, kill it outright, and find it on a new server."""
    from benchmarks.dashboard import Dashboard
    from mnist.personal import PersonalSet

    folder = tmp_path / "runs"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    first = Dashboard(folder)
    try:
        first.wait_healthy()
        open_page(page, first, "digits")
        _draw(page, _asked(page), 0)
        expect(page.get_by_text("28×28: cropped to the ink")).to_be_visible()
        wait_idle(page)
        save = page.locator(".st-key-digits-save button").first
        expect(save).to_be_enabled()
        save.click()
        wait_until(lambda: PersonalSet(folder / "personal").samples(), 60, "the sample on disk")
    finally:
        first.proc.kill()  # no clean shutdown
        first.proc.wait()
        first.close()
    (saved,) = PersonalSet(folder / "personal").samples()
    second = Dashboard(folder)
    try:
        second.wait_healthy()
        open_page(page, second, "digits")
        expect(
            page.get_by_text("1 more to go").or_(page.get_by_text("49 more to go"))
        ).to_be_visible()
        grid = page.locator("[data-testid='stDataFrame']").first
        expect(grid).to_be_visible()
        assert PersonalSet(folder / "personal").samples() == [saved]
        assert exceptions(page) == []
    finally:
        second.close()
        context.close()


def test_browse_relabel_delete_and_move_samples_as_a_zip(browser, tmp_path):
    from benchmarks.dashboard import Dashboard
    from mnist.personal import PersonalSet

    folder = tmp_path / "runs"
    samples = PersonalSet(folder / "personal")
    ones = [samples.add(np.rot90(np.eye(28, dtype=np.uint8) * 255), 1) for _ in range(3)]
    four = samples.add(np.eye(28, dtype=np.uint8) * 255, 4)
    context = browser.new_context(viewport={"width": 1400, "height": 1400}, accept_downloads=True)
    page = context.new_page()
    server = Dashboard(folder)
    try:
        server.wait_healthy()
        open_page(page, server, "digits")
        page.locator(".st-key-digits-show").get_by_role("radio", name="1", exact=True).click()
        wait_idle(page)
        grid = page.locator("[data-testid='stDataFrame']").first
        select_rows(page, grid, numbers=[1])
        relabel = page.get_by_role("combobox", name="Relabel as")
        expect(relabel).to_be_visible()
        relabel.click()
        page.get_by_role("option", name="7", exact=True).click()
        page.locator(".st-key-digits-relabel button").first.click()
        wait_until(lambda: samples.counts()[7].sum() == 1, 60, "the relabel on disk")
        assert samples.counts()[1].sum() == 2
        wait_idle(page)
        select_rows(page, grid, numbers=[1])
        page.get_by_role("button", name="Delete 1").click()  # asks first
        assert samples.counts()[1].sum() == 2
        page.locator(".st-key-digits-delete button").first.click()
        wait_until(lambda: samples.counts()[1].sum() == 1, 60, "the delete on disk")
        left = {s.id for s in samples.samples()}
        assert len(left) == 3 and four.id in left and len(left & {s.id for s in ones}) == 2

        with page.expect_download(timeout=120_000) as info:
            page.get_by_role("button", name="Download your digits (.zip)").click()
        archive = tmp_path / "mine.zip"
        info.value.save_as(archive)
        other = PersonalSet(tmp_path / "elsewhere")
        assert other.import_zip(archive).added == 3 and other.fingerprint() == samples.fingerprint()

        for s in samples.samples():
            samples.delete(s.id)
        page.reload()
        page.wait_for_selector("h1")
        wait_idle(page)
        page.locator(".st-key-digits-upload input[type='file']").set_input_files(str(archive))
        add = page.locator(".st-key-digits-import button").first
        expect(add).to_be_enabled()
        add.click()
        wait_until(lambda: {s.id for s in samples.samples()} == left, 60, "the zip's samples back")
        assert exceptions(page) == []
    finally:
        server.close()
        context.close()
