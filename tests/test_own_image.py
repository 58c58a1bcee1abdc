"""A student's own image: made like the dataset's images, placed on every kind of map, and in a real browser
drawn with the mouse on the Latent page's canvas or shown to a (fake) camera."""
from __future__ import annotations

import io
import time

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench.browser import CHROMIUM, CHROMIUM_FLAGS, MAP, chromium_page, draw_on_canvas, map_trace, wait_until_idle
from browser_steps import ARTIFACTS, EXCEPTION, needs_chromium
from explorer.checkpoint import DEFAULT_CHECKPOINT, load_shipped
from explorer.corruption import GaussianNoise
from explorer.datasets import FILLED_OBJECT, MNIST_DIGIT, PHOTO, dataset_info, load_dataset
from explorer.drawing import NothingDrawn, from_canvas, from_upload
from explorer.placement import majority_vote, place
from explorer.workbench import Workbench

CANVAS = 280


def on_canvas(picture: np.ndarray) -> np.ndarray:
    """A 28 x 28 grey picture as the canvas sends it: ten times larger, RGBA, opaque."""
    large = np.kron(picture, np.ones((CANVAS // 28, CANVAS // 28), dtype=np.uint8))
    return np.dstack([large, large, large, np.full_like(large, 255)])


def blank(colour: int) -> np.ndarray:
    return np.dstack([np.full((CANVAS, CANVAS, 3), colour, np.uint8), np.full((CANVAS, CANVAS), 255, np.uint8)])


@pytest.fixture(scope="module")
def fashion() -> Workbench:
    splits = load_dataset("fashion-mnist", need_train=False)
    return Workbench(load_shipped(DEFAULT_CHECKPOINT).model, splits.test, splits.class_names,
                     dataset_info("fashion-mnist").style)


def test_an_empty_canvas_has_nothing_to_place():
    with pytest.raises(NothingDrawn, match="nothing to place"):
        from_canvas(blank(0), "#000000", FILLED_OBJECT, 1, 28)


def test_dark_ink_on_white_is_inverted_cut_to_its_box_and_fills_the_frame_like_fashion_mnist():
    picture = blank(255)
    picture[100:160, 40:120, :3] = 0  # a dark 80 x 60 block, left of centre
    image = from_canvas(picture, "#ffffff", FILLED_OBJECT, 1, 28)[0, 0].numpy()
    rows, columns = np.nonzero(image > 0.5)
    assert columns.min() == 0 and columns.max() == 27, "the longer side fills the 28 pixels"
    assert rows.max() - rows.min() + 1 == 21, "60 / 80 of 28 pixels, the aspect kept"
    assert image[0].max() == 0 and image[rows.min():rows.max() + 1].min() > 0.9, "light on black, as the dataset"


def test_a_digit_is_scaled_into_20_pixels_and_centred_by_its_mass_like_mnist():
    picture = blank(0)
    picture[20:120, 200:240, :3] = 255  # a small bar in the top right corner
    picture[20:40, 160:240, :3] = 255  # with a flag to the left: mass off the box's centre
    image = from_canvas(picture, "#000000", MNIST_DIGIT, 1, 28)[0, 0].numpy()
    rows, columns = np.nonzero(image > 0.05)
    assert max(rows.max() - rows.min(), columns.max() - columns.min()) + 1 <= 21
    weights = image / image.sum()
    centre = (weights.sum(1) @ np.arange(28), weights.sum(0) @ np.arange(28))
    assert np.allclose(centre, (14, 14), atol=0.6), f"centre of mass {centre}, MNIST puts it on (14, 14)"


def test_a_photo_dataset_keeps_a_light_photo_light_and_colour_in_colour():
    light = Image.new("L", (300, 200), 220)
    light.paste(120, (100, 50, 200, 150))
    buffer = io.BytesIO()
    light.save(buffer, format="PNG")
    grey = from_upload(buffer.getvalue(), PHOTO, 1, 28)[0, 0].numpy()
    assert grey.mean() > 0.6 and grey[14, 14] < 0.55, "Sign-MNIST's photos are not inverted"
    picture = blank(255)
    picture[60:220, 60:220, :3] = (220, 30, 30)
    coloured = from_canvas(picture, "#ffffff", PHOTO, 3, 32)[0].numpy()
    assert coloured.shape == (3, 32, 32)
    assert coloured[0, 16, 16] > 0.8 and coloured[1, 16, 16] < 0.2, "a red stroke stays red for CIFAR-10"


def through_the_canvas(workbench: Workbench, index: int) -> torch.Tensor:
    return from_canvas(on_canvas(workbench.pool.images[index, 0]), "#000000", workbench.style, 1, 28)


def test_a_test_image_drawn_on_the_canvas_comes_back_as_it_was(fashion):
    """Most Fashion-MNIST images fill 28 pixels with their longer side, centred on their box; the rest (a
    27-pixel side, a faint edge) are scaled to that convention, which moves their pixels."""
    errors = np.array([np.abs(through_the_canvas(fashion, index)[0, 0].numpy() - fashion.pool.images[index, 0] / 255).mean()
                       for index in range(200)])
    assert (errors < 0.01).mean() > 0.8


@pytest.mark.parametrize("method", ["pca", "umap", "tsne"])
def test_a_test_image_fed_through_the_drawing_path_lands_where_the_map_shows_it(fashion, method):
    result = fashion.project(method, {}, 1000)
    unchanged = (index for index in range(1000) if np.abs(
        through_the_canvas(fashion, index)[0, 0].numpy() - fashion.pool.images[index, 0] / 255).mean() < 0.01)
    chosen = np.array([next(unchanged) for _ in range(6)])
    drawn = torch.cat([through_the_canvas(fashion, index) for index in chosen])
    placements = place(fashion, result, drawn)
    coordinates = result.coordinates
    for index, placement in zip(chosen, placements):
        assert placement.neighbours[0] == index, f"image {index}'s nearest test image is itself"
        assert placement.distances[0] < 0.05 * placement.distances[1]
        # UMAP places a new point at the weighted mean of its 15 nearest fitted points, PCA and t-SNE on the spot.
        among = 15 if method == "umap" else 5
        on_map = np.sort(np.linalg.norm(coordinates - coordinates[index], axis=1))
        assert np.linalg.norm(placement.point - coordinates[index]) < on_map[among], (
            f"image {index} lands among its own {among} nearest points on the {method} map")
        assert placement.vote == fashion.pool.labels[index] or placement.votes < len(placement.neighbours)
        assert placement.ssim == pytest.approx(fashion.ssim_scores(1000)[index], abs=0.01)


def test_with_a_corruption_the_placement_has_an_arrow_to_its_corrupted_version(fashion):
    result = fashion.project("pca", {}, 1000)
    image = fashion.originals([5])
    clean, = place(fashion, result, image)
    noisy, = place(fashion, result, image, corruption=GaussianNoise(0.8), seed=1)
    assert clean.corrupted_point is None
    assert np.allclose(noisy.point, clean.point, atol=1e-3)
    assert np.linalg.norm(noisy.corrupted_point - noisy.point) > 0.1


def test_the_vote_goes_to_the_commonest_label_and_a_tie_to_the_nearer_neighbour():
    assert majority_vote(np.array([4, 2, 2, 4, 7])) == (4, 2)
    assert majority_vote(np.array([1, 3, 3, 3])) == (3, 3)


# --- In a real browser -------------------------------------------------------------------------------

# Each drawing is whole strokes: every stroke's end is placed, so a test waits for the stroke it drew.
TROUSER_OUTLINE = [[(0.34, 0.92), (0.40, 0.08), (0.60, 0.08), (0.66, 0.92)]]
TROUSER_LEGS = [[(0.5, 0.08), (0.5, 0.45)]]
SHOE = [[(0.35, 0.4), (0.14, 0.35), (0.08, 0.55), (0.08, 0.82), (0.92, 0.82), (0.92, 0.72), (0.5, 0.6), (0.08, 0.55)]]
VOTE = "[data-testid='stMain'] [data-testid='stMarkdown']:has-text('nearest test images vote')"
RECONSTRUCTION = "img[alt^=\"the model's reconstruction of your image\"]"


def shown_placement(page) -> tuple[list, str, str | None]:
    """The star's position on the map, the vote's words and the reconstruction's picture address."""
    votes, pictures = page.locator(VOTE), page.locator(RECONSTRUCTION)
    return (map_trace(page, "your image"), votes.last.inner_text() if votes.count() else "",
            pictures.first.get_attribute("src") if pictures.count() else None)


def placement_once_moved(page, previous: tuple, timeout_s: float = 60) -> tuple:
    """The placement shown once the star has moved from ``previous`` (a stroke's rerun has landed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        wait_until_idle(page)
        shown = shown_placement(page)
        if shown[0] and (not previous[0] or not np.allclose(shown[0], previous[0], atol=1e-4)):
            return shown
    raise AssertionError(f"the star stayed at {previous[0]} for {timeout_s:.0f} s")


def placement_once_at(page, expected: list, timeout_s: float = 60) -> tuple:
    """The placement shown once the star is at ``expected``: undo and redo redraw the canvas object by object,
    and each intermediate canvas may be placed on the way."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        wait_until_idle(page)
        shown = shown_placement(page)
        if shown[0] and np.allclose(shown[0], expected, atol=1e-4):
            return shown
    raise AssertionError(f"the star went to {shown_placement(page)[0]}, not back to {expected}")


@pytest.fixture(scope="module")
def drawing_page(app_url):
    with chromium_page() as page:
        page.goto(f"{app_url}/latent?layers=Your+own+image")
        page.wait_for_selector(MAP, timeout=180_000)
        wait_until_idle(page)
        yield page


@needs_chromium
def test_strokes_on_the_canvas_place_the_drawing_and_a_new_drawing_moves_it(drawing_page):
    page = drawing_page
    page.locator("canvas.upper-canvas").last.wait_for()
    draw_on_canvas(page, TROUSER_OUTLINE)
    outline = placement_once_moved(page, ([], "", None))
    draw_on_canvas(page, TROUSER_LEGS)
    trouser = placement_once_moved(page, outline)
    assert trouser[2] != outline[2], "each stroke's end moves the star and redraws the reconstruction"
    page.get_by_role("button", name="Undo").click()
    placement_once_at(page, outline[0])  # undo puts it back
    page.get_by_role("button", name="Redo").click()
    placement_once_at(page, trouser[0])
    page.get_by_role("button", name="Keep it on the map").click()
    wait_until_idle(page)
    assert np.allclose(map_trace(page, "your kept images"), trouser[0], atol=1e-4)
    assert map_trace(page, "your image") == [], "a kept image frees the canvas for the next"
    page.locator("canvas.upper-canvas").last.wait_for()
    draw_on_canvas(page, SHOE)
    shoe = placement_once_moved(page, ([], "", None))
    page.screenshot(path=str(ARTIFACTS / "own-image-drawn.png"), full_page=True)
    assert shoe[0] != trouser[0] and shoe[2] != trouser[2]
    assert shoe[1] != trouser[1], f"a shoe and a trouser do not get the same vote: {shoe[1]!r}"
    assert page.locator(EXCEPTION).count() == 0


@needs_chromium
def test_the_drawings_stay_on_the_map_when_the_method_changes(drawing_page):
    page = drawing_page
    before = map_trace(page, "your image")
    page.locator("[data-testid='stSidebar'] label:has-text('t-SNE')").click()
    wait_until_idle(page, timeout_ms=180_000)
    page.wait_for_selector(MAP)
    assert len(map_trace(page, "your image")) == 1 and map_trace(page, "your image") != before
    assert len(map_trace(page, "your kept images")) == 1
    assert "t-SNE map" in page.locator("[data-testid='stMain'] [data-testid='stCaptionContainer']:has-text('Your image is the star')").first.inner_text()
    assert page.locator(EXCEPTION).count() == 0


def fake_camera_video(path, picture: np.ndarray, frames: int = 5) -> None:
    """A Y4M file (what Chromium's fake camera plays) showing ``picture``, grey, centred on 640 x 480."""
    frame = np.full((480, 640), 205, np.uint8)
    top, left = (480 - picture.shape[0]) // 2, (640 - picture.shape[1]) // 2
    frame[top:top + picture.shape[0], left:left + picture.shape[1]] = picture
    chroma = np.full((240, 320), 128, np.uint8).tobytes()
    with open(path, "wb") as video:
        video.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(frames):
            video.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)


def take_photo(page, attempts: int = 5) -> None:
    """Press Take Photo until the photo is taken: Streamlit enables the button when the stream starts, but
    react-webcam gives no picture until the video has a frame's size, and a press before that does nothing."""
    for _ in range(attempts):
        page.get_by_role("button", name="Take Photo").click()
        try:
            page.get_by_role("button", name="Clear photo").wait_for(timeout=5_000)
            return
        except PlaywrightTimeout:
            pass
    raise AssertionError(f"no photo was taken after {attempts} presses of Take Photo")


@needs_chromium
def test_a_photo_from_the_camera_is_placed_on_the_map(app_url, drawing_page, tmp_path, fashion):
    trouser = next(index for index in range(100) if fashion.pool.labels[index] == 1)
    dark_on_paper = 205 - (np.kron(fashion.pool.images[trouser, 0], np.ones((12, 12), np.uint8)) * 0.75).astype(np.uint8)
    video = tmp_path / "trouser.y4m"
    fake_camera_video(video, dark_on_paper)
    flags = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             f"--use-file-for-fake-video-capture={video}")
    # A second browser, with a fake camera, from the Playwright the module's page runs in (one per thread).
    browser = drawing_page.context.browser.browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS + list(flags))
    try:
        page = browser.new_context(viewport={"width": 1500, "height": 1100}, permissions=["camera"]).new_page()
        page.goto(f"{app_url}/latent?layers=Your+own+image")
        page.wait_for_selector(MAP, timeout=180_000)
        wait_until_idle(page)
        page.locator("[data-testid='stButtonGroup'] button:has-text('Camera')").click()
        wait_until_idle(page)
        page.wait_for_function("""() => { const video = document.querySelector("[data-testid='stCameraInput'] video");
                                         return video && video.readyState >= 2 && video.videoWidth > 0; }""",
                               timeout=60_000)
        take_photo(page)
        placement_once_moved(page, ([], "", None))
        page.screenshot(path=str(ARTIFACTS / "own-image-camera.png"), full_page=True)
        assert len(map_trace(page, "your image")) == 1
        assert "vote Trouser" in page.locator(VOTE).last.inner_text(), "a photographed trouser is voted a trouser"
        assert page.locator(EXCEPTION).count() == 0
    finally:
        browser.close()
