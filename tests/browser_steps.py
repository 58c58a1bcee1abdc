"""What the browser tests share: where screenshots go, what the pages show, how a student fills the Train form."""
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from bench.browser import CHROMIUM, ROOT, wait_until_idle

ARTIFACTS = ROOT / "test-artifacts"
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/run installs it)")
EXCEPTION = "[data-testid='stException']"
TRAINED = "is trained and is now the active model"
TRAINING = re.compile(r"epoch \d+/200")
PAST_FIRST_EPOCH = re.compile(r"epoch ([2-9]|\d\d+)/200")


def workspace_token(page) -> str:
    return parse_qs(urlparse(page.url).query)["ws"][0]


def active_model(page) -> str:
    return page.get_by_role("combobox", name="Active model").input_value()


def fill(page, settings: dict[str, str]) -> None:
    """Type into labelled inputs as a student does (Enter commits each), then wait for the page."""
    for label, value in settings.items():
        page.get_by_label(label, exact=True).fill(value)
        page.get_by_label(label, exact=True).press("Enter")
    wait_until_idle(page)


def open_train_page(page, url: str, **settings: str) -> None:
    page.goto(f"{url}/train")
    wait_until_idle(page)
    fill(page, settings)
