"""A student's work in a real browser: it survives a reload and a server restart, identical runs are trained
once for the whole class, and a zip bomb is refused before it costs the server memory.

Each test starts its own server on its own run store. Screenshots land in test-artifacts/.
"""
import json
import re
import time
from pathlib import Path

import pytest

from bench.browser import browser_contexts, free_port, memory_mb, running_app, wait_until_idle
from browser_steps import (ARTIFACTS, EXCEPTION, PAST_FIRST_EPOCH, TRAINED, TRAINING, active_model, fill,
                           needs_chromium, open_train_page, workspace_token)
from explorer.datasets import MAX_SIGN_CSV_BYTES
from explorer.run_store import CAP_ENV, STORE_ENV, RunStore
from explorer.workspace import load_workspace

pytestmark = needs_chromium


@pytest.fixture
def store(tmp_path) -> RunStore:
    ARTIFACTS.mkdir(exist_ok=True)
    return RunStore(tmp_path / "store", cap_bytes=2**30)


def server_with(store: RunStore, port: int | None = None):
    return running_app(port=port, environment={STORE_ENV: str(store.root), CAP_ENV: str(store.cap_bytes / 2**20)})


def test_a_reload_during_a_run_shows_the_run_again_and_its_model_after(store):
    with server_with(store) as (url, _), browser_contexts(1) as (page,):
        open_train_page(page, url, Epochs="200", Seed="21", Name="reloaded digits")
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_text(PAST_FIRST_EPOCH).first.wait_for(timeout=120_000)
        token = workspace_token(page)
        page.reload()
        started = time.monotonic()
        page.get_by_text(TRAINING).first.wait_for(timeout=20_000)
        shown_after = time.monotonic() - started
        wait_until_idle(page)
        page.screenshot(path=str(ARTIFACTS / "workspace-reloaded-during-run.png"), full_page=True)
        assert workspace_token(page) == token, "the reload kept the workspace"
        assert page.get_by_label("Name", exact=True).input_value() == "reloaded digits", "and the Train form"
        page.get_by_role("button", name="Stop (keeps the best weights so far)").click()
        page.get_by_text(TRAINED).wait_for(timeout=120_000)
        page.reload()
        wait_until_idle(page)
        assert active_model(page).startswith("reloaded digits (trained in this workspace)")
        assert page.get_by_text(TRAINED).count() == 1 and page.locator(EXCEPTION).count() == 0
    print(f"run shown again {shown_after:.1f} s after the reload")


def test_a_model_survives_a_server_restart_and_a_run_it_cut_short_is_shown_interrupted(store):
    port = free_port()
    with server_with(store, port) as (url, _), browser_contexts(1) as (page,):
        open_train_page(page, url, Epochs="1", Seed="22", Name="before the restart")
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_text(TRAINED).wait_for(timeout=120_000)
        wait_until_idle(page)
        finished_link = page.url
        fill(page, {"Epochs": "200", "Name": "cut short"})
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_text(TRAINING).first.wait_for(timeout=120_000)
    with server_with(store, port) as (url, _), browser_contexts(1) as (page,):
        page.goto(finished_link)
        wait_until_idle(page)
        page.screenshot(path=str(ARTIFACTS / "workspace-after-restart.png"), full_page=True)
        assert active_model(page).startswith("before the restart (trained in this workspace)")
        assert "Interrupted: the server stopped" in page.locator("[data-testid='stMain']").inner_text()
        assert page.get_by_label("Name", exact=True).input_value() == "cut short"
        page.get_by_role("combobox", name="Active model").click()
        options = page.get_by_role("option").all_inner_texts()
        assert sum("(trained in this workspace)" in option for option in options) == 1, options
        assert page.locator(EXCEPTION).count() == 0


def test_five_students_pressing_train_on_one_experiment_share_one_run(store):
    """The default quick run (S4 on the digits); one student alone first, on another seed, for comparison."""
    with server_with(store) as (url, _), browser_contexts(6) as pages:
        alone, *students = pages
        open_train_page(alone, url, Seed="31")
        started = time.monotonic()
        alone.get_by_role("button", name="Train", exact=True).click()
        alone.get_by_text(TRAINED).wait_for(timeout=240_000)
        seconds_alone = time.monotonic() - started
        for page in students:
            open_train_page(page, url, Seed="32")
        started = time.monotonic()
        for page in students:
            page.get_by_role("button", name="Train", exact=True).click()
        students[-1].get_by_text("watched by 5 students").first.wait_for(timeout=120_000)
        students[-1].screenshot(path=str(ARTIFACTS / "workspace-one-run-five-students.png"))
        for page in students:
            page.get_by_text(TRAINED).wait_for(timeout=240_000)
        seconds_five = time.monotonic() - started
        runs = {load_workspace(store, workspace_token(page)).current_run for page in students}
        assert len(runs) == 1, "every student got the one run"
        assert sorted(store.request(run)["seed"] for run in store.run_ids()) == [31, 32], "two runs trained in all"
        for page in students:
            assert page.locator(EXCEPTION).count() == 0
    timings = {"one student alone_s": round(seconds_alone, 1), "five students, last model_s": round(seconds_five, 1),
               "ratio": round(seconds_five / seconds_alone, 2)}
    (ARTIFACTS / "workspace-five-students.json").write_text(json.dumps(timings, indent=2))
    print(timings)


def test_a_zip_bomb_is_refused_before_it_costs_the_server_memory(store, tmp_path):
    """A 1 MB archive holding a CSV of 3x the upload limit (all zeros): refused with a message, the server's
    peak memory no higher than after a harmless refused upload (which warms the upload path first)."""
    from conftest import kaggle_sign_zip

    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785)) + "\n"
    row = "0," + ",".join(["0"] * 784) + "\n"
    bomb = tmp_path / "sign-language-mnist.zip"
    bomb.write_bytes(kaggle_sign_zip(header + row * (3 * MAX_SIGN_CSV_BYTES // len(row)), header + row))
    assert bomb.stat().st_size < 2 * 2**20
    harmless = tmp_path / "sign_mnist_test.csv"
    harmless.write_text(header + row * 100)
    with server_with(store) as (url, server), browser_contexts(1) as (page,):
        page.goto(f"{url}/train")
        wait_until_idle(page)
        page.get_by_role("combobox", name="Dataset", exact=True).click()
        page.get_by_role("option", name=re.compile("^sign-mnist")).first.click()
        wait_until_idle(page)
        uploader = page.locator("[data-testid='stFileUploaderDropzoneInput'][accept*='.zip']")
        uploader.set_input_files(str(harmless))
        page.get_by_text("not among the uploaded files").first.wait_for(timeout=60_000)
        wait_until_idle(page)
        before = settled_peak_memory_mb(server.pid)
        uploader.set_input_files(str(bomb))
        page.get_by_text("unpacks to more than").first.wait_for(timeout=60_000)
        wait_until_idle(page)
        after = settled_peak_memory_mb(server.pid)
        page.screenshot(path=str(ARTIFACTS / "workspace-zip-bomb-refused.png"), full_page=True)
        print(f"server peak RSS {before:.0f} MB after a harmless refused upload, {after:.0f} MB after the bomb")
        assert after - before < 50, f"peak RSS rose from {before:.0f} MB to {after:.0f} MB"
        assert page.locator(EXCEPTION).count() == 0


def settled_peak_memory_mb(pid: int, quiet_seconds: float = 3.0, timeout: float = 120.0) -> float:
    """The server's peak memory once it stopped growing: a fresh server compiles UMAP in a child process and
    then imports it itself (~200 MB), so the child must be gone and the peak still for `quiet_seconds`."""
    deadline = time.monotonic() + timeout
    while child_processes(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    peak, since = memory_mb(pid), time.monotonic()
    while time.monotonic() - since < quiet_seconds and time.monotonic() < deadline:
        time.sleep(0.5)
        if memory_mb(pid) > peak + 1:
            peak, since = memory_mb(pid), time.monotonic()
    return peak


def child_processes(pid: int) -> list[str]:
    tasks = Path(f"/proc/{pid}/task")
    return [child for task in tasks.iterdir() for child in (task / "children").read_text().split()]


def test_a_finished_run_replays_its_latent_space_forming(store):
    with server_with(store) as (url, _), browser_contexts(1) as (page,):
        open_train_page(page, url, Epochs="4", Seed="41", Name="replayed digits")
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_text(TRAINED).wait_for(timeout=180_000)
        wait_until_idle(page)
        title = page.locator("[data-testid='stPlotlyChart'] .gtitle").filter(has_text="5-NN accuracy of the probe")
        assert title.first.text_content().startswith("Epoch 1:")
        page.locator("[data-testid='stPlotlyChart'] .updatemenu-button").filter(has_text="Play").first.click()
        page.wait_for_function("() => [...document.querySelectorAll('.gtitle')].some(t => t.textContent.startsWith('Epoch 4:'))",
                               timeout=30_000)
        title.first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "replay-after-play.png"))
        assert "of the training time" in page.locator("[data-testid='stMain']").inner_text()
        assert page.locator(EXCEPTION).count() == 0


def test_three_groups_train_s3_on_the_class_board_and_a_fourth_student_compares_them(store):
    """A lesson from the S3 template: three students, one click each; the teacher's board fills with their
    figures and compares two runs; a student of another lesson sees none of it."""
    with server_with(store) as (url, _), browser_contexts(5) as (teacher, first, second, third, stranger):
        teacher.goto(f"{url}/board")
        wait_until_idle(teacher)
        teacher.get_by_role("combobox", name="Template").click()
        teacher.get_by_role("option", name="S3 in class").click()
        teacher.get_by_role("button", name="Start a lesson").click()
        teacher.get_by_text("S3 in class: one click per group").wait_for(timeout=30_000)
        code = load_workspace(store, workspace_token(teacher)).lesson
        for student, nickname, group in ((first, "Ada", "clean"), (second, "Ben", "sigma 0.1"),
                                         (third, "Cy", "sigma 0.5")):
            student.goto(f"{url}/board?lesson={code}")
            wait_until_idle(student)
            fill(student, {"Your name on the board": nickname})
            student.get_by_role("button", name=f"Train: S3, trained on {group}", exact=True).click()
            wait_until_idle(student)
        for nickname in ("Ada", "Ben", "Cy"):  # the table's cells, in the grid's accessible copy of it
            teacher.get_by_text(nickname, exact=True).first.wait_for(state="attached", timeout=30_000)
        teacher.get_by_text("SSIM on the test images under each corruption").wait_for(timeout=600_000)
        teacher.wait_for_function("() => document.body.innerText.split('\\n').filter(l => l.startsWith('trained on')).length >= 3",
                                  timeout=600_000)
        wait_until_idle(teacher)
        teacher.screenshot(path=str(ARTIFACTS / "board-s3-in-class.png"), full_page=True)
        teacher.reload()
        wait_until_idle(teacher)
        compare = teacher.get_by_role("combobox", name="Runs to compare")
        for nickname in ("Ada", "Cy"):
            compare.click()
            teacher.get_by_role("option", name=re.compile(f"\\({nickname}\\)")).click()
            teacher.keyboard.press("Escape")
            wait_until_idle(teacher)
        teacher.get_by_text("reconstructed by each run").wait_for(timeout=120_000)
        teacher.get_by_text("t-SNE", exact=True).click()
        wait_until_idle(teacher)
        teacher.get_by_text("S3 clean (Ada), t-SNE").first.wait_for(state="attached", timeout=60_000)
        teacher.get_by_role("button", name="Open as the active model").first.scroll_into_view_if_needed()
        teacher.screenshot(path=str(ARTIFACTS / "board-compare.png"))
        assert teacher.get_by_role("button", name="Open as the active model").count() == 2
        teacher.get_by_role("button", name="Open as the active model").first.click()
        wait_until_idle(teacher)
        assert "(from the class board)" in active_model(teacher)
        stranger.goto(f"{url}/board")
        wait_until_idle(stranger)
        stranger.get_by_role("button", name="Start a lesson").click()
        stranger.get_by_text("No runs on the board yet").wait_for(timeout=30_000)
        assert "Ada" not in stranger.locator("[data-testid='stMain']").text_content()
        for page in (teacher, first, second, third, stranger):
            assert page.locator(EXCEPTION).count() == 0
