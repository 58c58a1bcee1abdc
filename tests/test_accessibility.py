"""Every student can use it: axe-core finds no critical or serious WCAG 2.1 A/AA violation on any page (light
and dark theme, desktop and phone), the class palette survives colour-vision deficiencies, and the lesson can
be done with the keyboard alone."""
import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import plotly.express as px
import pytest
from skimage.color import deltaE_ciede2000, rgb2lab

from bench.accessibility import DESKTOP, PHONE, audit_every_page, table
from bench.browser import browser_contexts, running_app, wait_until_idle
from browser_steps import ARTIFACTS, EXCEPTION, needs_chromium
from ui.maps import CLASS_COLOURS
from ui.page_table import PAGES

# Machado, Oliveira & Fernandes (2009), severity 1: the colours a dichromat sees, as a matrix on linear RGB.
DICHROMACY = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}
# CIEDE2000: about 2.3 is a just-noticeable difference; 10 is told apart at a glance between two small dots.
DISTINGUISHABLE = 10.0


def as_rgb(colour: str) -> np.ndarray:
    if colour.startswith("rgb"):
        return np.array([int(part) for part in colour[colour.index("(") + 1:-1].split(",")]) / 255
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255


def seen_with(deficiency: str, colours: np.ndarray) -> np.ndarray:
    linear = np.where(colours <= 0.04045, colours / 12.92, ((colours + 0.055) / 1.055) ** 2.4)
    simulated = np.clip(linear @ np.array(DICHROMACY[deficiency]).T, 0, 1)
    return np.where(simulated <= 0.0031308, 12.92 * simulated, 1.055 * simulated ** (1 / 2.4) - 0.055)


def closest_pair(palette, deficiency: str) -> float:
    """The smallest CIEDE2000 distance between two of the palette's colours as someone with ``deficiency`` sees them."""
    lab = rgb2lab(seen_with(deficiency, np.array([as_rgb(colour) for colour in palette]))[None])[0]
    distances = deltaE_ciede2000(lab[:, None], lab[None, :])
    np.fill_diagonal(distances, np.inf)
    return float(distances.min())


@pytest.mark.parametrize("deficiency", list(DICHROMACY))
def test_the_class_colours_stay_apart_for_dichromats(deficiency):
    assert closest_pair(CLASS_COLOURS, deficiency) > DISTINGUISHABLE


def test_the_simulation_merges_what_dichromats_confuse():
    """Plotly's default palette holds a blue and a violet a protanope cannot tell apart; grey stays grey."""
    assert closest_pair(px.colors.qualitative.Plotly, "protanopia") < 2.3
    for deficiency in DICHROMACY:
        assert np.allclose(seen_with(deficiency, np.array([0.5, 0.5, 0.5])), 0.5, atol=0.01)


@needs_chromium
def test_axe_finds_no_critical_or_serious_violation_on_any_page():
    """Each page opened fresh and idle (the Latent page a second time with its three layers on): light and
    dark theme at desktop width, and a phone (390 x 844) whose screenshots land in test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    with running_app() as (url, _):
        audits = {("light", DESKTOP): audit_every_page(url, "light", DESKTOP),
                  ("dark", DESKTOP): audit_every_page(url, "dark", DESKTOP),
                  ("light", PHONE): audit_every_page(url, "light", PHONE, str(ARTIFACTS))}
    for (theme, size), found in audits.items():
        print(f"{theme}, {size[0]} x {size[1]}\n{table(found)}")
    failing = {(theme, size, page.page): page.rules("critical") + page.rules("serious")
               for (theme, size), pages in audits.items() for page in pages
               if page.count("critical") or page.count("serious")}
    assert not failing, failing


# The keyboard lesson: only Tab, arrows, Enter and Space; a step finds its control by tabbing to it.
FOCUSED = """() => { const element = document.activeElement;
  if (!element || ['BODY', 'MAIN'].includes(element.tagName)) return '';
  const widget = element.closest('.stElementContainer');
  const label = widget && widget.querySelector('[data-testid="stWidgetLabel"]');
  return [element.getAttribute('aria-label') || (element.innerText || '').trim(), label ? label.innerText.trim() : '']
         .join(' | '); }"""


def tab_to(page, pattern: str, limit: int = 150) -> str:
    """Press Tab until the focused control's name or label matches ``pattern``; its description."""
    wanted = re.compile(pattern)
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if wanted.search(focused):
            return focused
    raise AssertionError(f"Tab never reached {pattern!r}")


def press(page, key: str) -> None:
    page.keyboard.press(key)
    wait_until_idle(page)


def view(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def open_page(page, title: str, heading: str) -> None:
    tab_to(page, rf"^\W*\w*\s*{re.escape(title)} \|")
    press(page, "Enter")
    page.get_by_role("heading", name=heading).first.wait_for()
    wait_until_idle(page)


@needs_chromium
def test_the_lesson_can_be_done_with_the_keyboard_alone(tmp_path):
    from explorer.run_store import STORE_ENV

    with running_app(environment={STORE_ENV: str(tmp_path / "store")}) as (url, _), browser_contexts(1) as (page,):
        page.goto(url)
        wait_until_idle(page)
        for spec in PAGES[1:]:
            open_page(page, spec.title, spec.heading)
            assert page.locator(EXCEPTION).count() == 0, spec.title
        open_page(page, "Corrupt & reconstruct", "Corrupt & reconstruct")
        tab_to(page, r"\| Corruption$")
        press(page, "ArrowDown")
        assert view(page)["corruption"] == ["Gaussian noise"]
        tab_to(page, r"\| Gaussian sigma")
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        wait_until_idle(page)
        assert view(page)["sigma"] == ["0.35"]

        open_page(page, "Latent space", "Latent space")
        tab_to(page, r"^Corruption trail \|")
        press(page, "Enter")
        page.keyboard.press("ArrowRight")  # the layers are one group: Tab enters it, arrows move within
        assert page.evaluate(FOCUSED).startswith("Decoded grid")
        press(page, "Enter")
        assert set(view(page)["layers"]) == {"Corruption trail", "Decoded grid"}
        tab_to(page, r"\| Projection$")
        press(page, "ArrowRight")
        assert view(page)["method"] != ["pca"]
        page.screenshot(path=str(ARTIFACTS / "keyboard-latent.png"), full_page=True)

        open_page(page, "Train", "Train a model")
        tab_to(page, r"^Train \|")
        press(page, "Enter")
        tab_to(page, r"^Stop \(keeps the best weights")
        press(page, "Enter")
        page.get_by_text(re.compile("stopped|is trained and is now the active model")).first.wait_for(timeout=120_000)

        open_page(page, "Class board", "Class board")
        tab_to(page, r"^Template \|")
        page.keyboard.type("S3")
        press(page, "Enter")
        tab_to(page, r"^Start a lesson \|")
        press(page, "Enter")
        tab_to(page, r"^Train: ")
        press(page, "Enter")
        page.get_by_text("S3 clean", exact=True).first.wait_for(state="attached", timeout=60_000)  # its board row
        page.screenshot(path=str(ARTIFACTS / "keyboard-board.png"), full_page=True)
        assert page.locator(EXCEPTION).count() == 0
