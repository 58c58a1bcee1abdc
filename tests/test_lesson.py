"""Lessons on disk: a board per lesson, nicknames not tokens, runs kept out by their owner only, templates."""
import json
import multiprocessing

import pytest

from explorer.lesson import (TEMPLATES, BoardEntry, add_run, load_lesson, owner_of, set_hidden, start_lesson)
from explorer.run_store import RunStore
from explorer.runs import S3_CORRUPTIONS, run_id
from explorer.workspace import new_token


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path, cap_bytes=2**30)


def test_a_lesson_shows_its_runs_once_each_and_only_its_own(store):
    first, second = start_lesson(store)[0], start_lesson(store, "S3 in class")[0]
    alice, bob = owner_of(new_token()), owner_of(new_token())
    add_run(store, first.code, BoardEntry("a" * 20, "Alice", alice))
    add_run(store, first.code, BoardEntry("b" * 20, "Bob", bob))
    add_run(store, first.code, BoardEntry("a" * 20, "Bob", bob))  # Bob asked for Alice's run too: one row
    add_run(store, first.code, BoardEntry("a" * 20, "Alice", alice))  # pressed Train again: still one entry
    rows = load_lesson(store, first.code).rows()
    assert [(row.run, row.nicknames) for row in rows] == [("a" * 20, ["Alice", "Bob"]), ("b" * 20, ["Bob"])]
    assert load_lesson(store, second.code).rows() == [] and load_lesson(store, second.code).template == "S3 in class"
    assert load_lesson(store, start_lesson(store)[0].code.replace("a", "b") + "x") is None


def test_only_its_owner_keeps_a_run_out_of_the_board(store):
    lesson, _ = start_lesson(store)
    alice, bob = owner_of(new_token()), owner_of(new_token())
    add_run(store, lesson.code, BoardEntry("a" * 20, "Alice", alice))
    add_run(store, lesson.code, BoardEntry("a" * 20, "Bob", bob))
    set_hidden(store, lesson.code, "a" * 20, alice, True)
    assert [row.nicknames for row in load_lesson(store, lesson.code).rows()] == [["Bob"]]
    set_hidden(store, lesson.code, "a" * 20, bob, True)
    assert load_lesson(store, lesson.code).rows() == []
    set_hidden(store, lesson.code, "a" * 20, alice, False)
    assert [row.nicknames for row in load_lesson(store, lesson.code).rows()] == [["Alice"]]


def test_templates_give_each_group_its_own_quick_run():
    s3 = TEMPLATES["S3 in class"]
    assert len(s3) == len(S3_CORRUPTIONS) == len({run_id(request) for request in s3.values()})
    assert {request.noise for request in s3.values()} == {None if c == "clean" else c for c in S3_CORRUPTIONS}
    assert all(request.subset == 10_000 and not request.settings for request in s3.values()), "the seed's recipe"
    assert [request.classes for request in TEMPLATES["S2 in class"].values()] == [4, 7, 10]
    with pytest.raises(ValueError, match="unknown lesson template"):
        start_lesson(RunStore.__new__(RunStore), "S9 in class")


def test_a_token_is_never_what_the_board_stores(store):
    """The workspace's token goes in (as the Train and board pages hand it over); only its digest is kept, and
    that digest still tells the student's own entry apart."""
    token = new_token()
    lesson, _ = start_lesson(store)
    add_run(store, lesson.code, BoardEntry.of_workspace("a" * 20, "Alice", token))
    assert token not in (store.root / "lessons" / f"{lesson.code}.json").read_text()
    assert load_lesson(store, lesson.code).entries[0].owner == owner_of(token) != token


def _add_runs(root: str, code: str, owner: str, count: int, go) -> None:
    store = RunStore(root, cap_bytes=2**30)
    go.wait()
    for i in range(count):
        add_run(store, code, BoardEntry(f"{i:020x}", owner, owner))


def test_app_replicas_adding_runs_at_once_lose_no_entry(store):
    """Two processes (two app replicas on one store) add 100 runs each to one board at the same moment."""
    lesson, _ = start_lesson(store)
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    replicas = [context.Process(target=_add_runs, args=(str(store.root), lesson.code, owner, 100, go))
                for owner in ("replica-one", "replica-two")]
    for replica in replicas:
        replica.start()
    go.set()
    for replica in replicas:
        replica.join(120)
    assert [replica.exitcode for replica in replicas] == [0, 0]
    entries = load_lesson(store, lesson.code).entries
    assert sorted((e.owner, e.run) for e in entries) == sorted(
        (owner, f"{i:020x}") for owner in ("replica-one", "replica-two") for i in range(100))


def test_only_the_teacher_key_moderates_and_the_lesson_file_never_holds_it(store):
    from explorer.lesson import NotTheTeacher, end_lesson, hide_entry, moderate, remove_run, rename_run

    lesson, key = start_lesson(store)
    for run, nickname in (("a" * 20, "Ada"), ("a" * 20, "Troll"), ("b" * 20, "Bob"), ("c" * 20, "Cy")):
        add_run(store, lesson.code, BoardEntry(run, nickname, owner_of(nickname * 8)))
    for wrong in (None, "", "guess", lesson.code):
        with pytest.raises(NotTheTeacher):
            moderate(store, lesson.code, wrong, end_lesson)
    moderate(store, lesson.code, key, hide_entry("a" * 20, "Troll"))
    moderate(store, lesson.code, key, rename_run("b" * 20, "[a link](http://x)"))
    moderate(store, lesson.code, key, remove_run("c" * 20))
    add_run(store, lesson.code, BoardEntry("c" * 20, "Cy", owner_of("Cy" * 8)))  # pressed Train again
    add_run(store, lesson.code, BoardEntry("a" * 20, "Troll", owner_of("Troll" * 8)))
    rows = load_lesson(store, lesson.code).rows()
    assert [(row.run, row.nicknames, row.title) for row in rows] == [
        ("a" * 20, ["Ada"], None), ("b" * 20, ["Bob"], "a link http //x")]
    moderate(store, lesson.code, key, end_lesson)
    add_run(store, lesson.code, BoardEntry("d" * 20, "Di", owner_of("Di" * 8)))
    ended = load_lesson(store, lesson.code)
    assert ended.ended and len(ended.rows()) == 2, "an ended lesson takes no runs; its board stays readable"
    assert key not in (store.root / "lessons" / f"{lesson.code}.json").read_text()


def test_a_damaged_entry_costs_its_own_row_and_open_lessons_protect_their_runs(store):
    from explorer.lesson import end_lesson, moderate, runs_on_open_lessons

    lesson, key = start_lesson(store)
    add_run(store, lesson.code, BoardEntry("a" * 20, "Ada", "o"))
    path = store.root / "lessons" / f"{lesson.code}.json"
    saved = json.loads(path.read_text())
    saved["entries"] += [{"run": "b" * 20}, "garbage", {"run": 5, "nickname": "x", "owner": "y"}]
    path.write_text(json.dumps(saved))
    loaded = load_lesson(store, lesson.code)
    assert [row.run for row in loaded.rows()] == ["a" * 20] and loaded.damaged == 3
    assert runs_on_open_lessons(store) == {"a" * 20}
    moderate(store, lesson.code, key, end_lesson)
    assert runs_on_open_lessons(store) == set()
