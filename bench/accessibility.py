"""Audit every page with axe-core (WCAG 2.1 A and AA rules) in Debian's Chromium, and print the violations by
page and impact: element counts, as the accessibility issue's table gives them.

    python -m bench.accessibility                 # every page, light theme, desktop width
    python -m bench.accessibility --theme dark    # the dark theme
    python -m bench.accessibility --phone         # 390 x 844, a phone held upright

Each page is opened fresh and audited once it is idle; the Latent page a second time with its layers on
(neighbour trail and decoded grid). tests/test_accessibility.py runs it and requires no critical and no
serious violation.
"""
from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass, field

from bench.browser import browser_contexts, measured_commit, running_app, wait_for_charts_drawn, wait_until_idle
from ui.page_table import PAGES

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Rules the project switches off, each with its reason. None today.
DISABLED_RULES: dict[str, str] = {}
PHONE = (390, 844)
DESKTOP = (1500, 1100)
LATENT_WITH_LAYERS = "latent?layers=Corruption+trail&layers=Decoded+grid&layers=Interpolation+path"


@dataclass
class PageAudit:
    """One page's violations: element counts per (impact, rule), and a few offending selectors per rule."""
    page: str
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def count(self, impact: str) -> int:
        return sum(number for (level, _), number in self.counts.items() if level == impact)

    def rules(self, impact: str) -> list[str]:
        return sorted(rule for level, rule in self.counts if level == impact)


def audit(page, name: str) -> PageAudit:
    """axe-core's WCAG 2.1 A/AA violations on ``page`` as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"],
               "rules": {rule: {"enabled": False} for rule in DISABLED_RULES}}
    result = Axe().run(page, options=options).response
    found = PageAudit(name)
    for violation in result["violations"]:
        key = (violation["impact"], violation["id"])
        found.counts[key] += len(violation["nodes"])
        found.examples[violation["id"]] = [", ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
    return found


def audit_every_page(url: str, theme: str = "light", size: tuple[int, int] = DESKTOP,
                     screenshots: str | None = None) -> list[PageAudit]:
    """Each page opened in a fresh session and audited once idle; the Latent page again with its layers on."""
    visits = [(spec.title, spec.url_path) for spec in PAGES]
    visits.insert(3, ("Latent space, layers on", LATENT_WITH_LAYERS))
    audits = []
    with browser_contexts(1, width=size[0], height=size[1], color_scheme=theme) as (page,):
        for title, path in visits:
            page.goto(f"{url}/{path}")
            wait_until_idle(page)
            wait_for_charts_drawn(page)
            if screenshots:
                chart = page.locator("[data-testid='stPlotlyChart']")
                if chart.count():  # the page's scroll container holds the rest: show the first chart
                    chart.first.scroll_into_view_if_needed()
                page.screenshot(path=f"{screenshots}/{size[0]}px-{theme}-{path.split('?')[0] or 'home'}"
                                     f"{'-layers' if '?' in path else ''}.png", full_page=True)
            audits.append(audit(page, title))
    return audits


def table(audits: list[PageAudit]) -> str:
    lines = ["| page | critical | serious | moderate | minor | rules (critical, serious) |", "|---|---:|---:|---:|---:|---|"]
    for found in audits:
        rules = ", ".join(found.rules("critical") + found.rules("serious")) or "-"
        lines.append(f"| {found.page} | " + " | ".join(str(found.count(level)) for level in
                                                      ("critical", "serious", "moderate", "minor")) + f" | {rules} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--theme", choices=["light", "dark"], default="light")
    parser.add_argument("--phone", action="store_true", help=f"a {PHONE[0]} x {PHONE[1]} viewport")
    parser.add_argument("--screenshots", help="a folder for a full-page screenshot of each page")
    parser.add_argument("--details", action="store_true", help="print up to 3 offending elements per rule")
    arguments = parser.parse_args()
    size = PHONE if arguments.phone else DESKTOP
    with running_app() as (url, _):
        audits = audit_every_page(url, arguments.theme, size, arguments.screenshots)
    print(f"axe-core, WCAG 2.1 A/AA, {arguments.theme} theme, {size[0]}x{size[1]}, commit {measured_commit()}")
    print(table(audits))
    if arguments.details:
        for found in audits:
            for rule, examples in found.examples.items():
                print(f"{found.page} · {rule}: {'; '.join(examples)}")


if __name__ == "__main__":
    main()
