"""Follow the teacher: the presented view in the store, and in Chromium a teacher presenting to two students,
one of whom steps away and comes back."""
from __future__ import annotations

import json
import time

import pytest

from bench.browser import MAP, browser_contexts, running_app, wait_until_idle
from browser_steps import ARTIFACTS, EXCEPTION, needs_chromium, workspace_token
from explorer.lesson import NotTheTeacher, start_lesson
from explorer.presentation import (View, follower_counts, note_follower, present, presented, presented_stamp,
                                   stop_presenting)
from explorer.run_store import STORE_ENV, RunStore


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "store", 10**9)


def test_only_the_teacher_presents_and_a_view_gets_a_new_version_only_when_it_changes(store):
    lesson, key = start_lesson(store)
    with pytest.raises(NotTheTeacher):
        present(store, lesson, None, View("latent", {}))
    with pytest.raises(NotTheTeacher):
        present(store, lesson, "not-the-key", View("latent", {}))
    assert presented(store, lesson.code) is None and presented_stamp(store, lesson.code) is None
    first = present(store, lesson, key, View("latent", {"method": ["t-SNE"]}))
    again = present(store, lesson, key, View("latent", {"method": ["t-SNE"]}))
    moved = present(store, lesson, key, View("reconstruct", {"sigma": ["0.5"]}))
    assert (first.version, again.version, moved.version) == (1, 1, 2)
    assert presented(store, lesson.code) == View("reconstruct", {"sigma": ["0.5"]}, 2)
    stop_presenting(store, lesson, key)
    assert presented(store, lesson.code) is None


def test_the_teacher_counts_followers_heard_recently(store):
    lesson, _ = start_lesson(store)
    for number, following in enumerate((True, True, False)):
        note_follower(store, lesson.code, f"follower-number-{number:07d}", following)
    assert follower_counts(store, lesson.code) == (2, 1)
    assert follower_counts(store, lesson.code, now=time.time() + 60) == (0, 0), "gone quiet: left"
    with pytest.raises(ValueError):
        note_follower(store, lesson.code, "../../escape", True)


# --- In a real browser -------------------------------------------------------------------------------

def sidebar_choice(page, label: str) -> None:
    page.locator(f"[data-testid='stSidebar'] label:has-text('{label}')").click()


def address_has(page, key: str, value: str, timeout_ms: int = 30_000) -> None:
    """Wait until the page's address has ``key=value`` (a followed view arrives by history navigation: no load)."""
    page.wait_for_function("([key, value]) => new URL(location.href).searchParams.getAll(key).includes(value)",
                           arg=[key, value], timeout=timeout_ms)


@needs_chromium
def test_students_follow_a_presenting_teacher_and_one_steps_away_and_back(tmp_path):
    store = RunStore(tmp_path / "store", 10**9)
    lesson, key = start_lesson(store)
    with running_app(environment={STORE_ENV: str(store.root)}) as (url, _), \
            browser_contexts(3) as (teacher, first, second):
        for page in (teacher, first, second):
            page.goto(f"{url}/?lesson={lesson.code}" + (f"&teacher={key}" if page is teacher else ""))
            wait_until_idle(page)
        assert first.locator("text=Present to the class").count() == 0, "a student cannot present"
        teacher.get_by_text("Present to the class").click()
        wait_until_idle(teacher)

        teacher.get_by_role("link", name="Latent space").click()
        teacher.wait_for_selector(MAP, timeout=180_000)
        for student in (first, second):
            student.wait_for_function("() => location.pathname.endsWith('/latent')", timeout=30_000)
            student.wait_for_selector(MAP, timeout=180_000)
        sidebar_choice(teacher, "UMAP")
        wait_until_idle(teacher, timeout_ms=180_000)
        started = time.monotonic()
        for student in (first, second):
            address_has(student, "method", "UMAP")
        print(f"method switch reached both students in {time.monotonic() - started:.1f} s")
        for student in (first, second):
            wait_until_idle(student, timeout_ms=180_000)
            assert student.locator("[data-testid='stSidebar'] input[type=radio]:checked + div:has-text('UMAP')").count() \
                + student.locator("[data-testid='stSidebar'] label:has(input:checked):has-text('UMAP')").count() >= 1
            assert student.get_by_text("Following the teacher").count() == 1

        teacher.get_by_role("link", name="Corrupt & reconstruct").click()
        wait_until_idle(teacher)
        teacher.locator("label:has-text('Gaussian noise')").first.click()
        wait_until_idle(teacher)
        for student in (first, second):
            address_has(student, "corruption", "Gaussian noise")
            wait_until_idle(student)
            assert student.get_by_text("Gaussian sigma").count() >= 1

        track = second.locator("[data-testid='stMain'] [data-testid='stSlider']").first.bounding_box()  # Gaussian sigma
        second.mouse.click(track["x"] + 0.8 * track["width"], track["y"] + track["height"] - 8)
        wait_until_idle(second)
        second.get_by_text("You stepped away from the teacher's view").wait_for(timeout=30_000)
        own_sigma = second.evaluate("() => new URL(location.href).searchParams.get('sigma')")
        teacher.locator("label:has-text('Random erasing')").first.click()
        wait_until_idle(teacher)
        address_has(first, "corruption", "Random erasing")
        second.wait_for_timeout(4_000)  # two polls
        assert second.evaluate("() => new URL(location.href).searchParams.get('corruption')") == "Gaussian noise", (
            "a student who stepped away stays on their own view")
        assert second.evaluate("() => new URL(location.href).searchParams.get('sigma')") == own_sigma
        counts = teacher.locator("[data-testid='stSidebar'] [data-testid='stCaptionContainer']:has-text('Presenting')")
        counts.filter(has_text="1 following, 1 stepped away").wait_for(timeout=30_000)
        teacher.screenshot(path=str(ARTIFACTS / "follow-teacher.png"), full_page=True)
        second.screenshot(path=str(ARTIFACTS / "follow-stepped-away.png"), full_page=True)

        second.get_by_role("button", name="Back to the teacher").click()
        address_has(second, "corruption", "Random erasing")
        wait_until_idle(second)
        assert second.get_by_text("Following the teacher").count() == 1

        shown = json.loads((store.root / "lessons" / f"{lesson.code}.view").read_text())
        assert key not in json.dumps(shown) and workspace_token(teacher) not in json.dumps(shown)
        assert not {"ws", "teacher", "lesson"} & set(shown["params"])
        for student in (first, second):
            assert key not in student.url, "a student's address never holds the teacher key"
            assert workspace_token(teacher) not in student.url
            assert student.locator(EXCEPTION).count() == 0
        assert teacher.locator(EXCEPTION).count() == 0
