"""The real app in a real browser: pages render with no exception box, and a lasso on the map fills the gallery.

Screenshots land in test-artifacts/ for a person to look at.
"""
import pytest

from bench.browser import MAP, chromium_page, hover_until_preview, lasso, wait_for_gallery, wait_until_idle
from browser_steps import ARTIFACTS, EXCEPTION, needs_chromium
from ui.page_table import PAGES

pytestmark = needs_chromium


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
    assert page.locator(EXCEPTION).count() == 0
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
    assert gallery.count() >= min(count, 40) + 1, "the selection's originals, then its reconstructions as one strip"
    assert page.locator(EXCEPTION).count() == 0


def test_teaching_views_keep_their_context_and_travel_in_a_link(app_url, page):
    """Trail, decoded grid, hover preview, a selection that survives a method switch, and a copied link
    that opens the same view in a fresh session."""
    page.goto(f"{app_url}/latent?layers=Corruption+trail&sigma=0.5")
    wait_until_idle(page)
    page.locator(MAP).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "view-corruption-trail.png"))
    assert page.get_by_text("neighbours' label flipped").count() == 1, "the trail's legend names the flipped arrows"

    page.get_by_role("button", name="Corruption trail").click()
    page.get_by_role("button", name="Decoded grid").click()
    wait_until_idle(page)
    assert grid_layers(page) == 1, "grid drawn under the map"
    assert hover_until_preview(page), "hovering a point shows its image"
    assert page.locator("#hover-preview canvas").count() == 2, "the image and its reconstruction"
    page.screenshot(path=str(ARTIFACTS / "view-decoded-grid-and-hover.png"))

    lasso(page, [(0.3, 0.3), (0.6, 0.3), (0.6, 0.6), (0.3, 0.6)])
    count = wait_for_gallery(page)
    page.get_by_text("UMAP", exact=True).click()
    wait_until_idle(page)
    assert wait_for_gallery(page) == count, "the same images stay selected on the UMAP map"
    assert page.get_by_text("not selected").count() >= 1, "the other points stay on the map in grey"
    page.locator(MAP).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "view-selection-after-switch.png"))

    page.get_by_role("button", name="Copy link to this view").click()
    link = page.locator("[data-testid='stPopoverBody'] code").first.inner_text().strip()
    assert "method=UMAP" in link and "selection=" in link and "Decoded+grid" in link
    fresh_session = page.context.browser.new_context(viewport={"width": 1500, "height": 1100})
    try:
        student = fresh_session.new_page()
        student.goto(link)
        wait_until_idle(student)
        assert wait_for_gallery(student) == count, "a student opening the link sees the same selection"
        assert student.get_by_role("radio", name="UMAP").is_checked()
        assert grid_layers(student) == 1
        assert student.locator(EXCEPTION).count() == 0
    finally:
        fresh_session.close()


def grid_layers(page) -> int:
    """Layout images under the map: Plotly draws one once its picture has loaded, a moment after the chart."""
    page.wait_for_selector(GRID_IMAGE, state="attached", timeout=30_000)
    return page.locator(GRID_IMAGE).count()


GRID_IMAGE = "[data-testid='stPlotlyChart'] .imagelayer image"
