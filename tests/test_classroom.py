"""A class in a real browser: many sessions open a fresh server at once; training runs in the background,
survive navigation, stop with a model, and wait their turn. Screenshots land in test-artifacts/."""
import re

from bench.browser import browser_contexts, running_app, wait_until_idle
from browser_steps import ARTIFACTS, EXCEPTION, PAST_FIRST_EPOCH, TRAINED, TRAINING, needs_chromium, open_train_page

pytestmark = needs_chromium
SIDEBAR_MODEL = "[data-testid='stSidebar'] [data-testid='stSelectbox']"


def test_a_class_opening_a_fresh_server_at_once_sees_no_exception():
    ARTIFACTS.mkdir(exist_ok=True)
    paths = ["", "latent", "", "reconstruct", "", "latent"]
    with running_app() as (url, _), browser_contexts(len(paths)) as pages:
        for page, path in zip(pages, paths):
            page.goto(f"{url}/{path}", wait_until="commit")
        for number, (page, path) in enumerate(zip(pages, paths)):
            wait_until_idle(page, timeout_ms=240_000)
            # a cold server may still be sending a page's widgets after its status widget went quiet
            page.locator(SIDEBAR_MODEL).wait_for(timeout=60_000)
            wait_until_idle(page, timeout_ms=240_000)
            page.screenshot(path=str(ARTIFACTS / f"class-{number}-{path or 'home'}.png"))
            assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()
            assert page.locator(SIDEBAR_MODEL).count() == 1, "every student sees the shared sidebar"
        expected = {"": "Latent-space explorer", "latent": "Latent space", "reconstruct": "Corrupt & reconstruct"}
        assert [page.locator("[data-testid='stMain'] h1").first.inner_text() for page in pages] == [
            expected[path] for path in paths]


def start_long_run(page, url: str, name: str, seed: int) -> None:
    """A 200-epoch run on the digits: long enough to press buttons while it trains. Runs of equal seeds are
    one run (the name does not change the weights)."""
    open_train_page(page, url, Epochs="200", Seed=str(seed), Name=name)
    page.get_by_role("button", name="Train", exact=True).click()


def open_in_sidebar(page, title: str) -> None:
    """Go to another page as a student does (a reload would start a new session)."""
    page.locator("[data-testid='stSidebarNav']").get_by_text(title, exact=True).click()
    page.locator("[data-testid='stMain'] h1").get_by_text(title).first.wait_for(timeout=60_000)


def test_stop_keeps_a_model_and_a_run_survives_leaving_the_page(app_url):
    with browser_contexts(1) as (page,):
        start_long_run(page, app_url, "stopped digits", seed=1)
        page.get_by_text(PAST_FIRST_EPOCH).first.wait_for(timeout=120_000)
        open_in_sidebar(page, "Latent space")
        page.get_by_text("stopped digits").first.wait_for(timeout=30_000)  # the sidebar shows the run
        open_in_sidebar(page, "Train")
        page.get_by_text(TRAINING).first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "training-running.png"), full_page=True)
        page.get_by_role("button", name="Stop (keeps the best weights so far)").click()
        page.get_by_text(TRAINED).wait_for(timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "training-stopped.png"), full_page=True)
        assert "stopped by the user" in page.locator("[data-testid='stMain']").inner_text()
        assert page.get_by_role("combobox", name="Active model").input_value().startswith("stopped digits (trained in this workspace)")
        assert page.get_by_label("Name").input_value() == "stopped digits", "the form survived the trip"
        assert page.locator(EXCEPTION).count() == 0


def test_a_second_students_run_waits_its_turn_then_trains(app_url):
    with browser_contexts(2) as (first, second):
        start_long_run(first, app_url, "first run", seed=2)
        first.get_by_text(TRAINING).first.wait_for(timeout=120_000)
        start_long_run(second, app_url, "second run", seed=3)
        second.get_by_text("waits for its turn: 1 run(s) ahead").first.wait_for(timeout=60_000)
        second.screenshot(path=str(ARTIFACTS / "training-queued.png"), full_page=True)
        assert "second run" not in first.locator("[data-testid='stMain']").inner_text(), "sessions stay isolated"
        first.get_by_role("button", name="Cancel (discards the run)").click()
        second.get_by_text(TRAINING).first.wait_for(timeout=120_000)
        second.get_by_role("button", name="Cancel (discards the run)").click()
        first.get_by_text("Cancelled").first.wait_for(timeout=60_000)
        for page in (first, second):
            assert page.locator(EXCEPTION).count() == 0


def test_a_student_trains_s0_on_a_kaggle_sized_sign_mnist_upload_and_sees_letters_on_the_map(app_url, tmp_path):
    """Kaggle's archive at full size (27,455 + 7,172 rows, random pixels) through the browser's file input."""
    from conftest import kaggle_sign_zip, sign_csv

    archive = tmp_path / "sign-language-mnist.zip"
    archive.write_bytes(kaggle_sign_zip(sign_csv(27_455, seed=1), sign_csv(7_172, seed=2)))
    with browser_contexts(1) as (page,):
        page.goto(f"{app_url}/train")
        wait_until_idle(page)
        for label, option in (("Model", "S0 · s0-cnn-ae"), ("Dataset", "sign-mnist")):
            page.get_by_role("combobox", name=label, exact=True).click()
            page.get_by_role("option", name=re.compile("^" + re.escape(option))).first.click()
            wait_until_idle(page)
        page.locator("[data-testid='stFileUploaderDropzoneInput'][accept*='.zip']").set_input_files(str(archive))
        page.locator("[data-testid='stFileChipName']").first.wait_for()  # the file is listed, then uploaded
        page.locator("[data-testid='stFileChipIconSpinner']").wait_for(state="detached", timeout=60_000)
        wait_until_idle(page)
        assert page.locator("[data-testid='stAlertContentError']").count() == 0
        page.get_by_label("Epochs").fill("1")
        page.get_by_label("Epochs").press("Enter")
        page.get_by_label("Name").fill("letters")
        page.get_by_label("Name").press("Enter")
        wait_until_idle(page)
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_text(TRAINED).wait_for(timeout=240_000)
        open_in_sidebar(page, "Latent space")
        wait_until_idle(page)
        page.screenshot(path=str(ARTIFACTS / "sign-mnist-letters-map.png"))
        legend = page.locator("[data-testid='stPlotlyChart'] .legend .legendtext").all_text_contents()
        assert {"A", "B", "Y"} <= set(legend) and "J" not in legend, legend
        assert page.locator(EXCEPTION).count() == 0
