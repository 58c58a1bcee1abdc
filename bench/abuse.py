"""One student beside another who tries to hurt the class, on a freshly started server each time.

    python -m bench.abuse [--tabs 14] [--tiny] [--json FILE]

The student (Streamlit's websocket protocol, as in bench.sessions, from address 198.51.100.7 through the
trusted-proxy header) presses Train on a lesson-sized run, then takes the lesson twice while it trains. First
alone; then while a mischievous session in Chromium (address 203.0.113.9) uploads a 30,000 x 60 pixel PNG as
its own image, a model card asking for a billion-wide latent, a gzip of two million short lines as the
Sign-MNIST CSVs, asks for the most expensive run the Train form allows (200 epochs at batch size 1), and opens
tabs (new workspaces) that each queue a 200-epoch run. Printed side by side: the student's click p95, their
run's time from Train to finished, the server's peak memory, whether their run and workspace survived, and
what the page told the other session at each attempt.
"""
from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.browser import CHROMIUM, CHROMIUM_FLAGS, measured_commit, memory_mb, running_app, wait_until_idle
from bench.sessions import LESSON, Interaction, Student, _percentile

STUDENT_ADDRESS, MISCHIEF_ADDRESS = "198.51.100.7", "203.0.113.9"
STUDENT_EPOCHS = 15  # the Train page's default model and data (S4 on scikit-learn's digits): ~10-20 s on 2 cores
REFUSALS = {
    "oversized image": "uploads may have at most",
    "damaged card": "Upload refused",
    "bomb CSV": "a Sign-MNIST CSV has at most",
    "most expensive run": "a run on this server may cost at most",
}


def mischief_files(folder: Path) -> dict[str, Path]:
    """The files a mischievous student uploads, each tiny on disk."""
    import torch
    from PIL import Image

    from explorer.checkpoint import checkpoint_files, make_card
    from explorer.models import create_model

    files = {"image": folder / "strip.png", "weights": folder / "huge.safetensors", "card": folder / "huge.json",
             "train_csv": folder / "sign_mnist_train.csv.gz", "test_csv": folder / "sign_mnist_test.csv.gz"}
    Image.new("L", (30_000, 60), 255).save(files["image"], optimize=True)
    torch.manual_seed(0)
    model = create_model("s1-dense-128")
    weights, card = checkpoint_files(model, make_card(model, dataset="fashion-mnist"))
    files["weights"].write_bytes(weights)
    files["card"].write_text(json.dumps({**json.loads(card), "config": {"channels": 1, "size": 28,
                                                                        "latent_dim": 10**9}}))
    bomb = gzip.compress(b"1\n" * 2_000_000)
    files["train_csv"].write_bytes(bomb)
    files["test_csv"].write_bytes(bomb)
    return files


def _uploader(page, label: str):
    return page.locator("[data-testid='stFileUploader']").filter(has_text=label).locator("input[type=file]")


def _said(page, text: str, timeout_ms: int = 60_000) -> bool:
    try:
        page.get_by_text(text).first.wait_for(timeout=timeout_ms)
        return True
    except Exception:  # Playwright's TimeoutError: the page never said it
        return False


def _fill(page, settings: dict[str, str]) -> None:
    for label, value in settings.items():
        page.get_by_label(label, exact=True).fill(value)
        page.get_by_label(label, exact=True).press("Enter")
    wait_until_idle(page)


def mischief(url: str, files: dict[str, Path], tabs: int) -> dict:
    """Everything the other session tries, in Chromium; what the page said to each attempt."""
    from playwright.sync_api import sync_playwright

    said: dict[str, bool] = {}
    queued = refused_tabs = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            def new_page():
                return browser.new_context(viewport={"width": 1400, "height": 1000},
                                           extra_http_headers={"X-Forwarded-For": MISCHIEF_ADDRESS}).new_page()

            for tab in range(tabs):  # first, so their runs stand in the queue before the student's
                page = new_page()
                page.goto(f"{url}/train")
                wait_until_idle(page)
                _fill(page, {"Epochs": "200", "Seed": str(100 + tab)})
                page.get_by_role("button", name="Train", exact=True).click()
                wait_until_idle(page)
                if page.get_by_text("runs from your network are already queued").count():
                    refused_tabs += 1
                else:
                    queued += 1
                page.context.close()  # a closed tab's run still waits its turn for minutes
            page = new_page()
            page.goto(f"{url}/latent?layers=Your+own+image")
            wait_until_idle(page)
            page.locator("[data-testid='stButtonGroup'] button:has-text('File')").click()
            wait_until_idle(page)
            _uploader(page, "An image file").set_input_files(str(files["image"]))
            said["oversized image"] = _said(page, REFUSALS["oversized image"])
            page.get_by_text("Upload a checkpoint", exact=True).first.click()
            _uploader(page, "Weights").first.set_input_files(str(files["weights"]))
            _uploader(page, "Model card").first.set_input_files(str(files["card"]))
            said["damaged card"] = _said(page, REFUSALS["damaged card"])
            page.goto(f"{url}/train")
            wait_until_idle(page)
            _fill(page, {"Epochs": "200", "Batch size": "1"})
            page.get_by_role("button", name="Train", exact=True).click()
            said["most expensive run"] = _said(page, REFUSALS["most expensive run"])
            page.locator("[data-testid='stSelectbox']").filter(has_text="Dataset").locator("input").click()
            page.keyboard.type("sign-mnist")
            page.keyboard.press("Enter")
            wait_until_idle(page)
            uploader = _uploader(page, "Sign Language MNIST files")
            if uploader.count():
                uploader.set_input_files([str(files["train_csv"]), str(files["test_csv"])])
                page.get_by_role("button", name="Train", exact=True).click()
                said["bomb CSV"] = _said(page, REFUSALS["bomb CSV"])
        finally:
            browser.close()
    return {"said": said, "tabs_queued": queued, "tabs_refused": refused_tabs}


async def student_lesson(url: str, token: str, passes: int) -> tuple[list[float], float, list[str]]:
    """Train, then the lesson ``passes`` times while it trains: click seconds, when Train was pressed, errors."""
    headers = {"X-Forwarded-For": STUDENT_ADDRESS}
    clicks, errors = [], []
    async with Student(0, url, headers) as student:
        await student.do(Interaction("open Train", page="train", query=f"ws={token}"))
        await student.do(Interaction("set the epochs", widgets={"Epochs": STUDENT_EPOCHS}))
        pressed = time.time()
        errors += (await student.do(Interaction("press Train", press="Train")))[1]
        for _ in range(passes):
            for step in LESSON:
                seconds, shown = await student.do(Interaction(step.name, step.page, step.widgets, step.select_class,
                                                              step.press, f"ws={token}" if step.page is not None else ""))
                clicks.append(seconds)
                errors += shown
    return clicks, pressed, errors


def _run_end(store_root: Path, token: str, timeout: float = 900.0) -> tuple[str | None, dict]:
    from explorer.run_store import RunStore
    from explorer.workspace import load_workspace

    store, deadline = RunStore(store_root, 2**40), time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = load_workspace(store, token).current_run
        status = store.status(run) if run else None
        if status and status["state"] not in ("queued", "running"):
            return run, status
        time.sleep(0.5)
    return None, {}


def measure(mischievous: bool, tabs: int, passes: int) -> dict:
    from explorer.run_store import STORE_ENV, RunStore
    from explorer.workspace import load_workspace, new_token

    token = new_token()
    with tempfile.TemporaryDirectory(prefix="abuse-") as folder, \
            running_app(environment={STORE_ENV: str(Path(folder) / "store")}) as (url, server):
        files = mischief_files(Path(folder))

        async def scenario():
            other = (asyncio.get_running_loop().run_in_executor(None, mischief, url, files, tabs)
                     if mischievous else None)
            lesson = await student_lesson(url, token, passes)
            return lesson, (await other if other else {})

        (clicks, pressed, errors), attempts = asyncio.run(scenario())
        run, status = _run_end(Path(folder) / "store", token)
        peak = memory_mb(server.pid)
        store = RunStore(Path(folder) / "store", 2**40)
        kept = bool(run) and run in load_workspace(store, token).runs and store.has_model(run)
    return {"scenario": "with mischief" if mischievous else "alone", "clicks": len(clicks),
            "p50_s": statistics.median(clicks), "p95_s": _percentile(clicks, 95),
            "run_s": status.get("updated", float("nan")) - pressed, "run_state": status.get("state"),
            "run_kept": kept, "peak_rss_mb": peak, "errors": sorted(set(errors))[:5], **attempts}


def print_table(rows: list[dict]) -> None:
    print(f"{'scenario':>14} {'clicks':>6} {'p50 s':>6} {'p95 s':>6} {'own run s':>9} {'run kept':>8} {'peak MB':>8}")
    for row in rows:
        print(f"{row['scenario']:>14} {row['clicks']:>6} {row['p50_s']:>6.2f} {row['p95_s']:>6.2f} {row['run_s']:>9.1f} "
              f"{str(row['run_kept']):>8} {row['peak_rss_mb']:>8.0f}")
    alone, abused = rows
    print(f"with mischief / alone: click p95 x{abused['p95_s'] / alone['p95_s']:.2f}, own run x"
          f"{abused['run_s'] / alone['run_s']:.2f}, peak memory {abused['peak_rss_mb'] - alone['peak_rss_mb']:+.0f} MB "
          "(targets: x1.5, x1.5, +300 MB)")
    print(f"the other session: {abused['tabs_queued']} tabs queued a run, {abused['tabs_refused']} refused; told: "
          + ", ".join(f"{what} {'refused' if told else 'NOT REFUSED'}" for what, told in abused["said"].items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, default=14, help="tabs the other session opens, each queueing a run")
    parser.add_argument("--tiny", action="store_true", help="3 tabs, one pass of the lesson (CI)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    tabs, passes = (3, 1) if args.tiny else (args.tabs, 2)
    print(f"commit {measured_commit()}")
    rows = [measure(False, tabs, passes), measure(True, tabs, passes)]
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    broken = any(row["errors"] or not row["run_kept"] for row in rows) or not all(rows[1]["said"].values())
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
