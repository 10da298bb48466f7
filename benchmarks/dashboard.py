"""A real dashboard and a real browser: `streamlit run app.py` on a free loopback port with
its own runs folder, and Debian's Chromium (never `playwright install`). The benchmarks and
the browser tests (tests/e2e) use these same two."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.common import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dashboard:
    """A dashboard process with its own runs folder; its output to ``log_path`` (or nowhere).
    ``command``: what follows ``streamlit`` (``("hello",)`` runs Streamlit's own demo);
    ``address``: ``--server.address`` (None: as ``.streamlit/config.toml`` says); ``env``:
    more environment variables (``MNIST_CLASSROOM``…); ``args``: more options for ``streamlit``;
    ``port``: the port (default: a free one)."""

    def __init__(
        self,
        runs_dir: str | os.PathLike,
        log_path: Path | None = None,
        command: tuple[str, ...] = ("run", "app.py"),
        address: str | None = "127.0.0.1",
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runs_dir = Path(runs_dir)
        self.log_path = log_path
        env = {**os.environ, "MNIST_RUNS_DIR": str(runs_dir), "PYTHONUNBUFFERED": "1",
               **(env or {})}  # fmt: skip
        where = ["--server.address", address] if address else []
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", *command,
             "--server.headless", "true", *where,
             "--server.port", str(self.port), "--browser.gatherUsageStats", "false", *args],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def wait_healthy(self, timeout: float = 60) -> float:
        """Seconds from start until the server answers its health check."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log_path.read_text()[-2000:] if self.log_path else ""
                raise RuntimeError(f"streamlit exited: {log}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - self.started
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"streamlit not healthy after {timeout} s")

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self._log is not subprocess.DEVNULL:
            self._log.close()


def launch_chromium(playwright):
    """Debian's Chromium, headless, with the machine's closed network in mind."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is needed (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


def dashboard_cpu_split() -> dict[str, float]:
    """CPU seconds (user + system) used so far by the Streamlit server and by Chromium's
    processes (browser, renderers, GPU and utility processes), apart."""
    total = {"server": 0.0, "chromium": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        for name, marker in (("server", "streamlit"), ("chromium", "chromium")):
            if marker in cmd:
                total[name] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                break
    return total
