"""The real app in a real browser: pages render with no exception box, and a lasso on the map fills the gallery.

Screenshots land in test-artifacts/ for a person to look at.
"""
from pathlib import Path

import pytest

from ui.page_table import PAGES
from bench.browser import CHROMIUM, MAP, ROOT, chromium_page, lasso, running_app, wait_for_gallery, wait_until_idle

ARTIFACTS = ROOT / "test-artifacts"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/run installs it)")


@pytest.fixture(scope="module")
def app_url():
    ARTIFACTS.mkdir(exist_ok=True)
    with running_app() as (url, _):
        yield url


@pytest.fixture(scope="module")
def page():
    with chromium_page() as browser_page:
        yield browser_page


@pytest.mark.parametrize("spec", PAGES, ids=[spec.url_path or "home" for spec in PAGES])
def test_page_renders_without_exception(app_url, page, spec):
    page.goto(f"{app_url}/{spec.url_path}")
    wait_until_idle(page)
    page.screenshot(path=str(ARTIFACTS / f"page-{spec.url_path or 'home'}.png"), full_page=True)
    assert page.locator("[data-testid='stMain'] h1").first.inner_text() == spec.heading
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").count() >= 1


def test_lasso_on_the_map_shows_the_selected_images(app_url, page):
    page.goto(f"{app_url}/latent")
    wait_until_idle(page)
    page.wait_for_selector(MAP)
    lasso(page, [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)])
    count = wait_for_gallery(page)
    wait_until_idle(page)
    page.screenshot(path=str(ARTIFACTS / "lasso-selection.png"), full_page=True)
    assert 10 < count < 2000, "a lasso over the middle of the map selects some of the 2,000 points"
    gallery = page.locator("[data-testid='stMain'] [data-testid='stImage'] img")
    assert gallery.count() >= 2 * min(count, 40), "originals and reconstructions of the selection"
    assert page.locator("[data-testid='stException']").count() == 0
