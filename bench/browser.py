"""Start the real app on a free local port and drive Debian's Chromium through Playwright (benchmarks and browser tests)."""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]


def measured_commit() -> str:
    """The commit a benchmark ran on ('-dirty' when the work tree differs), printed beside its figures."""
    described = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return described.stdout.strip() or "unknown"


def memory_mb(pid: int, field: str = "VmHWM") -> float:
    """A process's memory from /proc (Linux): ``VmHWM`` its peak resident set, ``VmRSS`` the current one."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":")) / 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_app(timeout: float = 90.0, port: int | None = None, environment: dict[str, str] | None = None):
    """Yield the base URL of ``streamlit run app.py`` once /_stcore/health answers; ``port`` starts it where a
    previous server was (a restart: students' links stay valid), ``environment`` adds variables (a run store)."""
    port = port or free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    log = open(ROOT / "test-artifacts" / f"streamlit-{port}.log", "a") if (ROOT / "test-artifacts").is_dir() else subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(environment or {})})
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() - started > timeout:
                raise RuntimeError(f"streamlit did not become healthy (exit code {process.poll()})")
            time.sleep(0.3)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def chromium_page(width: int = 1500, height: int = 1100, flags: tuple[str, ...] = ()):
    """One page of a fresh headless Chromium; ``flags`` add command-line switches (a fake camera)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS + list(flags))
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


@contextlib.contextmanager
def browser_contexts(count: int, width: int = 1500, height: int = 1100, color_scheme: str = "light"):
    """``count`` pages in separate browser contexts: separate cookies, so separate Streamlit sessions.
    ``color_scheme`` is what the browser says the user prefers (Streamlit follows it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield tuple(browser.new_context(viewport={"width": width, "height": height}, color_scheme=color_scheme).new_page()
                        for _ in range(count))
        finally:
            browser.close()


# Streamlit's own run state on the app (its end-to-end tests read it): its status widget shows only runs
# longer than about half a second, so it cannot tell a short run from none.
IDLE = "[data-testid='stApp'][data-test-connection-state='CONNECTED'][data-test-script-state='notRunning']"
SETTLE_SECONDS = 0.3  # widgets send their values after a debounce (~200 ms); a finished run may ask for the next


def wait_until_idle(page, timeout_ms: int = 120_000, settle_seconds: float = SETTLE_SECONDS) -> None:
    """Wait until the page has a title and has run every script run it asked for: connected and not running,
    for ``settle_seconds`` in a row."""
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    idle_since = None
    while time.monotonic() < deadline:
        if page.locator(IDLE).count() == 0:
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= settle_seconds:
            return
        page.wait_for_timeout(50)
    raise TimeoutError("the app kept running past the timeout")


def wait_for_charts_drawn(page, timeout_ms: int = 60_000) -> None:
    """Plotly draws a chart in the browser after the run that sent it has ended: wait until every chart has."""
    page.wait_for_function("[...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
                           ".every(chart => chart.querySelector('.main-svg'))", timeout=timeout_ms)


MAP = "[data-testid='stPlotlyChart'] .nsewdrag"
SELECTION_HEADING = re.compile(r"(\d+) images selected")


def lasso(page, points: list[tuple[float, float]]) -> None:
    """Draw a closed lasso through ``points`` given as fractions of the map's plotting area."""
    box = page.locator(MAP).first.bounding_box()
    coordinates = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*coordinates[0])
    page.mouse.down()
    for x, y in coordinates[1:] + coordinates[:1]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()


def wait_for_gallery(page, timeout_ms: int = 120_000) -> int:
    """Wait until the selection heading and its gallery are drawn: the originals one by one (captioned with
    their indices), the reconstructions as one strip beneath them."""
    heading = page.get_by_text(SELECTION_HEADING)
    heading.wait_for(timeout=timeout_ms)
    count = int(SELECTION_HEADING.match(heading.inner_text()).group(1))
    gallery = page.locator("[data-testid='stMain'] [data-testid='stImage'] img")
    deadline = time.monotonic() + timeout_ms / 1000
    while gallery.count() < min(count, 40) + 1:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} images selected, but only {gallery.count()} pictures drawn")
        page.wait_for_timeout(20)
    return count


def hover_until_preview(page) -> bool:
    """Sweep the pointer over the map until the hover preview of some point shows; False if none did."""
    page.locator(MAP).first.scroll_into_view_if_needed()
    box = page.locator(MAP).first.bounding_box()
    preview = page.locator("#hover-preview")
    for across in range(3, 18):
        for down in range(2, 11):
            page.mouse.move(box["x"] + across / 20 * box["width"], box["y"] + down / 12 * box["height"])
            page.wait_for_timeout(60)
            if preview.count() and preview.is_visible():
                return True
    return False


def draw_on_canvas(page, strokes: list[list[tuple[float, float]]]) -> None:
    """Mouse strokes on the page's drawing canvas, each a list of (x, y) as shares of its width and height."""
    box = page.locator("canvas.upper-canvas").last.bounding_box()
    for points in strokes:
        page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
        page.mouse.up()


def map_trace(page, name: str) -> list[tuple[float, float]]:
    """The points of the map's trace called ``name`` (as Plotly holds them in the page), [] when it has none."""
    return page.evaluate("""name => {
        const plot = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
        const trace = plot && (plot._fullData || []).find(t => t.name === name);  // decoded arrays, unlike .data
        if (!trace) return [];
        const xs = Array.from(trace.x), ys = Array.from(trace.y);
        return xs.map((x, i) => [x, ys[i]]);
    }""", name)
