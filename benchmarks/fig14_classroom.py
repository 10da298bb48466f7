"""Figure 14, a classroom on one server: one training run, and N people at once (one Chromium,
N contexts, each a different person through the trusted header) sketching digits with the
mouse and switching pages. Zero exceptions? Every sketch answered? How long from mouse-up to
the answer, how much memory the server takes, and what it costs the training run."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import Row, start_long_run, steps_per_second, stop_run
from benchmarks.dashboard import CHROMIUM, CHROMIUM_FLAGS, Dashboard
from benchmarks.fig5_stroke import ARM_STROKE, WS_PROBE

HEADER = "X-Forwarded-User"
SETTINGS = f'sign_in = "header"\ntrusted_header = "{HEADER}"\nmax_live_runs = 2\n'
ANSWER_SECONDS = 180.0  # a sketch not answered in this long counts as unanswered
LOST_SECONDS = 20.0  # a stroke after which the canvas sent nothing this long was lost
PAGES = ("Training", "Evaluate", "Data")  # where people wander between sketches


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class _Usage(threading.Thread):
    """Sampled every 0.5 s while a phase runs: the server's resident memory (``peak``, MiB)
    and the CPU seconds of the server and of Chromium's processes. Chromium's renderers end
    with their contexts, so their time is read while they live."""

    def __init__(self, server_pid: int) -> None:
        super().__init__(daemon=True)
        self.server_pid, self.peak, self.done = server_pid, 0.0, threading.Event()
        self.first: dict[int, float] = {}  # pid → CPU seconds when first seen
        self.last: dict[int, tuple[str, float]] = {}  # pid → (kind, CPU seconds when last seen)
        self._sample(baseline=True)  # processes already running count from now

    def _sample(self, baseline: bool = False) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            kind = "chromium" if b"chromium" in cmd else None
            kind = "server" if pid == self.server_pid else kind
            if kind is None:
                continue
            seconds = (int(fields[11]) + int(fields[12])) / tick
            self.first.setdefault(pid, seconds if baseline else 0.0)  # born since: from 0
            self.last[pid] = (kind, seconds)
        try:
            for line in Path(f"/proc/{self.server_pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak = max(self.peak, int(line.split()[1]) / 1024)
        except OSError:
            pass

    def run(self) -> None:
        while not self.done.wait(0.5):
            self._sample()

    def cores(self, kind: str, seconds: float) -> float:
        used = sum(cpu - self.first.get(pid, 0.0) for pid, (k, cpu) in self.last.items()
                   if k == kind)  # fmt: skip
        return used / seconds


async def _settled(page) -> None:
    """Until the page's script run is over (Streamlit's running indicator gone for a second):
    a stroke drawn while a page switch's run restores the canvas can be lost with it."""
    status, calm = page.locator("[data-testid='stStatusWidget']"), 0
    deadline = time.monotonic() + ANSWER_SECONDS
    while calm < 3 and time.monotonic() < deadline:
        calm = 0 if await status.count() else calm + 1
        await asyncio.sleep(0.4)


async def _clear(page, metric) -> None:
    """Press Clear and wait for the new, empty canvas: a stroke drawn on the old one while the
    rerun is under way would vanish with it (and never be answered)."""
    canvas = page.locator("canvas.upper-canvas")
    await canvas.evaluate("e => { e.__old = true; }")
    await page.get_by_role("button", name="Clear").click()
    await metric.wait_for(state="detached", timeout=ANSWER_SECONDS * 1000)
    deadline = time.monotonic() + ANSWER_SECONDS
    while time.monotonic() < deadline:
        try:
            if await canvas.count() == 1 and not await canvas.evaluate("e => !!e.__old"):
                return
        except Exception:  # replaced while we looked
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError("no new canvas after Clear")


async def _seven(page, n: int) -> None:
    """Draw a 7 with the mouse (armed to time its answer). Each a little further right: the
    28×28 input differs from the last one shown (the page's image URL is a hash of its
    content), so its change marks the answer."""
    box = await page.locator("canvas.upper-canvas").bounding_box()
    await page.evaluate(ARM_STROKE)
    x0, y0 = box["x"] + (n % 4) * 8, box["y"]
    await page.mouse.move(x0 + 50, y0 + 50)
    await page.mouse.down()
    await page.mouse.move(x0 + 200, y0 + 50, steps=6)
    await page.mouse.move(x0 + 110, y0 + 250, steps=8)
    await page.mouse.up()


async def _person(browser, url: str, who: str, until: float, out: dict) -> None:
    """One person: sketch a 7, wait for the answer, clear; every third sketch visit a page.
    The first sketch is always drawn, however late the page came (a person who arrives)."""
    arrived = time.monotonic()
    context = await browser.new_context(
        viewport={"width": 1400, "height": 1000}, extra_http_headers={HEADER: who}
    )
    page = await context.new_page()
    await page.add_init_script(WS_PROBE)  # window.__sent: what the page sends, when
    page.on("pageerror", lambda exc: out["errors"].append(f"{who}: {exc}"))
    nav = page.locator("[data-testid='stSidebarNavLink']")
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Prediction")
    try:
        await page.goto(url + "/sketch", timeout=180_000)
        await page.wait_for_selector("canvas.upper-canvas", timeout=180_000)
        await _settled(page)
        n, switched = 0, False
        while n == 0 or time.monotonic() < until:
            if await metric.count():
                await _clear(page, metric)
                await _settled(page)  # as a person waits to see the empty square
            answered = False
            for _ in range(2):  # a stroke the canvas never took is drawn again
                await _seven(page, n)
                try:  # the canvas sends a drawing 200 ms after mouse-up
                    await page.wait_for_function("() => window.__sent.length > 0",
                                                 timeout=LOST_SECONDS * 1000)  # fmt: skip
                except Exception:
                    out["lost"] += 1  # drawn while the new canvas was not ready: nothing sent
                    continue
                try:
                    await page.wait_for_function("() => window.__stroke.painted !== undefined",
                                                 timeout=ANSWER_SECONDS * 1000)  # fmt: skip
                    answered = True
                except Exception:
                    pass
                break
            out["strokes"] += 1
            if not answered:
                out["unanswered"] += 1
                out["unanswered_at"].append(
                    f"{who} sketch {n + 1}" + (" (after a page switch)" if switched else "")
                )
                if out.get("debug_dir"):
                    await page.screenshot(path=f"{out['debug_dir']}/{who}-{n}.png", full_page=True)
            else:
                t = await page.evaluate("() => window.__stroke")
                if n:  # a person's first answer waits for the model to load: a warm-up
                    out["latency_ms"].append(t["painted"] - t["up"])
                else:  # from opening the page to the first answer
                    out["first_answer_s"].append(time.monotonic() - arrived)
            out["exceptions"] += await page.locator("[data-testid='stException']").count()
            n, switched = n + 1, False
            if n % 3 == 0 and time.monotonic() < until:
                await nav.filter(has_text=PAGES[(n // 3) % len(PAGES)]).click()
                await page.wait_for_selector("h1", timeout=180_000)
                await asyncio.sleep(1.0)
                out["exceptions"] += await page.locator("[data-testid='stException']").count()
                out["switches"] += 1
                await nav.filter(has_text="Sketch").click()
                await page.wait_for_selector("canvas.upper-canvas", timeout=180_000)
                await _settled(page)
                switched = True
    except Exception as exc:  # a person who got stuck (a page that never came) is a failure
        out["errors"].append(f"{who}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        await context.close()


async def _class(url: str, people: int, seconds: float) -> dict:
    from playwright.async_api import async_playwright

    out = {"strokes": 0, "unanswered": 0, "lost": 0, "exceptions": 0, "switches": 0,
           "latency_ms": [], "first_answer_s": [], "errors": [], "unanswered_at": [],
           # $FIG14_DEBUG_DIR: a folder for screenshots of unanswered sketches
           "debug_dir": os.environ.get("FIG14_DEBUG_DIR")}  # fmt: skip
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        until = time.monotonic() + seconds
        await asyncio.gather(*(_person(browser, url, f"student{i:02d}", until, out)
                               for i in range(people)))  # fmt: skip
        await browser.close()
    return out


def _speed(tail, since: float) -> float:
    """Training steps per second over the worker's batches after ``since`` (its clock)."""
    tail.poll()
    return steps_per_second([b for b in tail.batches if b.elapsed >= since])


def classroom_load(quick: bool, reps: int) -> Row:
    sizes = ((2, 20.0),) if quick else ((8, 120.0), (16, 60.0), (32, 60.0))
    baseline_seconds = 10.0 if quick else 30.0
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Path(tmp) / "classroom.toml"
        settings.write_text(SETTINGS)
        app = Dashboard(Path(tmp) / "runs", Path(tmp) / "server.log",
                        env={"MNIST_CLASSROOM": str(settings)})  # fmt: skip
        app.wait_healthy()
        path = None
        try:
            path, tail = start_long_run(app.runs_dir, quick, owner="teacher")
            # The teacher opens the Sketch page first: the server loads TensorFlow and the
            # model once, before the class arrives.
            warm = asyncio.run(_class(app.url, 1, 0.0))
            if warm["unanswered"] or warm["errors"]:
                raise RuntimeError(f"the first sketch was not answered: {warm}")
            tail.poll()
            mark = tail.batches[-1].elapsed
            time.sleep(baseline_seconds)
            alone = _speed(tail, mark)
            for people, seconds in sizes:
                usage = _Usage(app.proc.pid)
                usage.start()
                tail.poll()
                mark, t0 = tail.batches[-1].elapsed, time.monotonic()
                result = asyncio.run(_class(app.url, people, seconds))
                elapsed = time.monotonic() - t0
                usage.done.set()
                usage.join()
                result["seconds"] = elapsed
                result["server_cores"] = usage.cores("server", elapsed)
                result["chromium_cores"] = usage.cores("chromium", elapsed)
                result["speed_ratio"] = _speed(tail, mark) / alone
                result["peak_mib"] = usage.peak
                found[people] = result
                time.sleep(5.0)  # the sessions' ends settle before the next phase
            log = (Path(tmp) / "server.log").read_text(errors="replace")
            tracebacks = log.count("Traceback")
        finally:
            stop_run(path)
            app.close()

    def describe(people: int, r: dict) -> str:
        lat = r["latency_ms"]
        timing = (f"stroke → answer p50 {_percentile(lat, 0.5):,.0f} ms, p95 "
                  f"{_percentile(lat, 0.95):,.0f} ms" if lat else "no answers")  # fmt: skip
        first = r["first_answer_s"]
        arrival = (f"page opened → first answer median {_percentile(first, 0.5):.0f} s, max "
                   f"{max(first):.0f} s" if first else "no first answer")  # fmt: skip
        return (
            f"**{people} people** ({r['seconds']:.0f} s): {r['strokes']} sketches, "
            f"{r['unanswered']} unanswered (> {ANSWER_SECONDS:.0f} s"
            + (f": {', '.join(r['unanswered_at'])}" if r["unanswered_at"] else "")
            + f"), {r['lost']} strokes lost "
            "and drawn again (the canvas, new after Clear, not yet taking the mouse), "
            f"{r['exceptions']} "
            f"exceptions shown, {len(r['errors'])} stuck or failing pages, {r['switches']} "
            f"page switches; {arrival}; then {timing}; server peak {r['peak_mib']:,.0f} MiB, "
            f"{r['server_cores']:.2f} cores, Chromium {r['chromium_cores']:.2f} cores; "
            f"training at {r['speed_ratio']:.2f}× its speed alone"
        )

    first_size = sizes[0][0]
    first = found[first_size]
    lat = first["latency_ms"]
    ok = (first["exceptions"] == 0 and first["unanswered"] == 0 and not first["errors"]
          and tracebacks == 0 and bool(lat))  # fmt: skip
    return Row(
        "14 a classroom",
        "one training run (fast preset) and N people at once in one Chromium (a context "
        "each, signed in through the trusted header), each sketching a 7 with the mouse, "
        "waiting for the answer, and every third sketch visiting Training, Evaluate or Data "
        f"({', '.join(f'{n} people for {s:.0f} s' for n, s in sizes)}, in turn, after one "
        "person's sketch loaded the model; each person's first answer, which waits for their "
        "page to load, is not in the stroke → answer times): "
        + "; ".join(describe(n, r) for n, r in found.items())
        + f"; tracebacks in the server log: {tracebacks}",
        f"{first_size}: p95 {_percentile(lat, 0.95):,.0f} ms" if lat else "no answers",
        f"{first_size} people: 0 exceptions, every sketch answered",
        ok,
    )
