"""End-to-end fixtures: a real `streamlit run app.py` on a free port, driven by Debian's Chromium.

Chromium comes from Debian (`apt-get install chromium`), never from `playwright install`.
Without it these tests skip locally and fail under CI=true. A failing test leaves a
screenshot and the server log in `artifacts/e2e/`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts" / "e2e"
BUSY = "[data-testid='stSkeleton'], [data-testid='stSpinner'], [data-testid='stStatusWidget']"


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} not found: install it with `apt-get install chromium`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: the browser tests must run)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A dashboard process with its own runs folder."""

    def __init__(self, runs_dir: Path, log_path: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runs_dir = runs_dir
        self.log_path = log_path
        env = {**os.environ, "MNIST_RUNS_DIR": str(runs_dir), "PYTHONUNBUFFERED": "1"}
        self._log = open(log_path, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py",
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--server.port", str(self.port), "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def wait_healthy(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - self.started
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"streamlit not healthy after {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    _require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    root = tmp_path_factory.mktemp("e2e")
    srv = Server(root / "runs", ARTIFACTS / "server.log")
    try:
        srv.wait_healthy()
        yield srv
    finally:
        srv.stop()
        # Stop any worker a test left behind: runs are their own process groups.
        for status in (root / "runs").glob("*/status.json"):
            try:
                pid = __import__("json").loads(status.read_text()).get("pid")
                if pid:
                    os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                pass


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash_report = report
    return report


@pytest.fixture
def page(browser, server, request):
    """A fresh browser context (a new user) per test; artefacts saved on failure."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    report = getattr(request.node, "stash_report", None)
    if report is not None and report.failed:
        name = request.node.name.replace("/", "_")
        for i, p in enumerate(context.pages):
            p.screenshot(path=str(ARTIFACTS / f"{name}-{i}.png"), full_page=True)
        shutil.copy(server.log_path, ARTIFACTS / f"{name}-server.log")
    context.close()


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


def open_page(pg, server: Server, path: str = "") -> None:
    pg.goto(f"{server.url}/{path}")
    pg.wait_for_selector("[data-testid='stApp']")
    pg.wait_for_selector("h1", timeout=60_000)
    wait_idle(pg)


def exceptions(pg) -> list[str]:
    return [e.inner_text() for e in pg.locator("[data-testid='stException']").all()]
