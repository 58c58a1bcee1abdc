"""One student cannot hurt the class: every untrusted input has a budget checked before anything large is
allocated, runs have a cost and a time limit and take turns, the store keeps the class's work, every failure
ends a run's status, and names reach others as short plain text. Each case failed on the code before them."""
import gzip
import io
import json
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from PIL import Image

from explorer import datasets
from explorer.checkpoint import CheckpointError, checkpoint_files, load_checkpoint_bytes, make_card
from explorer.datasets import PHOTO, DatasetFormatError, read_sign_mnist_csv
from explorer.housekeeping import keep_upload
from explorer.drawing import from_upload
from explorer.images import ImageFormatError
from explorer.jobs import JobQueue
from explorer.lesson import BoardEntry, add_run, start_lesson
from explorer.limits import LimitReached, Limits, fair_position, run_images
from explorer.models import create_model
from explorer.names import plain_name
from explorer.run_store import JobState, RunStore
from explorer.runs import TrainingRequest
from job_steps import LONG, SHORT, finished_run, stored_model, wait_for
from redis_engine import forget_runs, needs_redis


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# --- inputs ---------------------------------------------------------------------------------------------

def test_an_image_past_the_upload_budget_is_refused_from_its_header():
    strip = png(30_000, 60)
    assert len(strip) < 4_000, "a tiny file declaring a huge picture"
    started = time.perf_counter()
    with pytest.raises(ImageFormatError, match="30000 x 60 pixels; uploads may have at most 10,000 pixels a side"):
        from_upload(strip, PHOTO, 1, 28)
    assert time.perf_counter() - started < 1.0


PEAK_SCRIPT = """
import resource, sys
from explorer.datasets import PHOTO
from explorer.drawing import from_upload
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(tuple(from_upload(data, PHOTO, 1, 28).shape), (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_a_long_strip_within_the_budget_is_shrunk_before_it_is_padded(tmp_path):
    """9,000 x 60 pixels padded to a square first would take 81 MB; shrunk first, next to nothing."""
    path = tmp_path / "strip.png"
    path.write_bytes(png(9_000, 60))
    printed = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path)], capture_output=True, text=True,
                             check=True).stdout.split()
    shape, megabytes = " ".join(printed[:-1]), int(printed[-1])
    assert shape == "(1, 1, 28, 28)" and megabytes < 30


def _card_bytes(card: dict) -> bytes:
    return json.dumps(card).encode()


def test_a_card_asking_for_a_huge_model_is_refused_before_anything_is_built():
    model = create_model("s1-dense-128")
    weights, card = checkpoint_files(model, make_card(model))
    huge = {**json.loads(card), "config": {"channels": 1, "size": 28, "latent_dim": 10**9}}
    huge.pop("weights_sha256")
    with pytest.raises(CheckpointError, match="latent_dim is 1000000000; this app builds models with latent_dim a "
                                              "whole number from 1 to 4096"):
        load_checkpoint_bytes(weights, _card_bytes(huge))
    with pytest.raises(CheckpointError, match="unknown setting 'layers'"):
        load_checkpoint_bytes(weights, _card_bytes({**huge, "config": {"layers": 10**6}}))


def test_weights_are_checked_against_the_card_from_the_header_before_the_model_is_built(monkeypatch):
    small = create_model("s1-dense-128", latent_dim=8)
    weights, _ = checkpoint_files(small, make_card(small))
    wide = {"model": "resconv-128", "config": {"channels": 1, "size": 28, "latent_dim": 4096, "width": 256}}
    built = []
    import explorer.checkpoint as checkpoint

    real = checkpoint.create_model
    monkeypatch.setattr(checkpoint, "create_model", lambda *a, **k: built.append(str(next(
        iter(real(*a, **k).parameters())).device)) or real(*a, **k))
    with pytest.raises(CheckpointError, match="missing .* tensors"):
        load_checkpoint_bytes(weights, _card_bytes(wide))
    assert built == ["meta"], "only the shapes were built: nothing was allocated for the mismatched model"
    with pytest.raises(CheckpointError, match="header declares"):
        load_checkpoint_bytes((10**12).to_bytes(8, "little") + b"{}", _card_bytes(wide))


def test_a_plain_csv_is_bounded_like_a_gzipped_one(monkeypatch):
    monkeypatch.setattr(datasets, "MAX_SIGN_CSV_BYTES", 10_000)
    with pytest.raises(DatasetFormatError, match="unpacks to more than"):
        read_sign_mnist_csv(b"label," + b"0," * 10_000, "train.csv")


def test_a_csv_of_many_short_lines_is_refused_by_its_line_count_before_parsing():
    bomb = gzip.compress(b"1\n" * 2_000_000)  # 4 MB of lines: ~12 GB for the line-by-line parser's rows
    assert len(bomb) < 20_000
    started = time.perf_counter()
    with pytest.raises(DatasetFormatError, match="2,000,000 lines; a Sign-MNIST CSV has at most 60,000 image rows"):
        read_sign_mnist_csv(bomb, "train.csv.gz")
    assert time.perf_counter() - started < 2.0


def test_names_others_see_are_short_plain_text():
    name = plain_name("[click me](http://evil.example) ![x](y.png) <b>hi</b>\u202e" + "x" * 100)
    assert not set(name) & set("[]()<>!:*_`\u202e") and len(name) <= 60
    assert TrainingRequest("s4-conv-392", "digits", name="**[S3](http://a.b)**").name == "S3 http //a.b"
    assert BoardEntry("a" * 20, "<img src=x>" * 10, "o").nickname == "img src=x img src=x img src=x img src=x"
    assert BoardEntry("a" * 20, "\n\t", "o").nickname == "anonymous"


# --- the training slot ----------------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "store", cap_bytes=2**30)


def test_the_most_expensive_run_the_form_allows_is_refused_but_every_seed_recipe_fits(store):
    from explorer.runs import SEED_PRESETS

    queue = JobQueue(store, slots=1)
    greedy = TrainingRequest("resconv-128", "fashion-mnist", settings={"epochs": 200, "batch_size": 1})
    with pytest.raises(LimitReached, match="image passes .* at most 3,000,000"):
        queue.submit(greedy, "mallory")
    assert store.run_ids() == [], "nothing half started"
    assert run_images(1, 54_000, 1) == run_images(1, 54_000, 32), "batch size 1 is billed like 32"
    assert all(request.cost() <= Limits().max_run_images for request in SEED_PRESETS.values())


def test_a_run_past_the_time_limit_stops_and_keeps_its_best_weights(store):
    queue = JobQueue(store, slots=1, limits=Limits(run_seconds=1.0))
    run = queue.submit(LONG, "student")
    wait_for(lambda: not queue.status(run).state.active)
    status = queue.status(run)
    assert status.state is JobState.STOPPED and status.has_model
    assert "time limit: 0.0166667 minutes a run" in status.message
    assert store.card(run)["training"]["epochs_run"] < 200


def test_one_address_queues_a_bounded_number_of_runs_however_many_tabs_it_opens(store):
    queue = JobQueue(store, slots=1, limits=Limits(runs_per_address=2))
    for tab in range(2):
        queue.submit(replace(LONG, seed=tab), f"tab-{tab}", "203.0.113.9")
    with pytest.raises(LimitReached, match="2 runs from your network are already queued or training"):
        queue.submit(replace(LONG, seed=7), "tab-7", "203.0.113.9")
    other = queue.submit(replace(LONG, seed=8), "classmate", "198.51.100.4")
    for run in list(queue._jobs):
        queue.cancel(run, next(iter(queue._jobs[run].watchers)))
    wait_for(lambda: not queue.status(other).state.active)


def test_owners_take_turns_in_the_queue():
    assert fair_position(["a", "a", "a"], [], "b") == 1
    assert fair_position(["a", "b", "a", "a"], [], "b") == 3
    assert fair_position(["a", "a"], ["a"], "c") == 0
    assert fair_position([], [], "a") == 0


def test_a_short_run_goes_before_a_long_one_and_holders_of_one_size_take_turns():
    from explorer.limits import Turns

    turns = Turns(minimum_turn=5.0)
    turns.charge("marathon", 600.0)
    assert turns.order([("marathon", 300_000), ("student", 25_000)], {}) == [1, 0]
    assert turns.order([("student", 300_000), ("fresh", 300_000)], {"student": 30.0}) == [1, 0]
    assert turns.should_yield(("marathon", 300_000), 5.0, [("student", 25_000)], {})
    assert not turns.should_yield(("marathon", 300_000), 4.9, [("student", 25_000)], {}), "a turn lasts 5 s"
    assert not turns.should_yield(("student", 25_000), 60.0, [("marathon", 300_000)], {"student": 60.0})
    assert not turns.should_yield(("marathon", 300_000), 60.0, [("marathon", 1_000)], {}), "not for its own"


def test_a_classmate_waits_behind_one_run_of_a_student_with_many_tabs(store):
    queue = JobQueue(store, slots=1)
    runs = [queue.submit(replace(LONG, seed=tab), f"tab-{tab}", "203.0.113.9") for tab in range(4)]
    wait_for(lambda: queue.status(runs[0]).state is JobState.RUNNING)
    classmate = queue.submit(SHORT, "classmate", "198.51.100.4")
    assert queue.status(classmate).ahead == 1, "only the running run stands before the classmate's"
    assert [queue.status(run).ahead for run in runs[1:]] == [2, 3, 4]
    for tab, run in enumerate(runs):
        queue.cancel(run, f"tab-{tab}")
    wait_for(lambda: not queue.status(classmate).state.active)
    assert queue.status(classmate).state is JobState.FINISHED


def test_a_lesson_sized_run_takes_the_slot_from_a_long_one_which_goes_on_after(store):
    from explorer.jobs import PAUSED
    from explorer.limits import Turns

    queue = JobQueue(store, slots=1)
    queue.turns = Turns(minimum_turn=0.5)
    marathon = queue.submit(LONG, "marathon", "203.0.113.9")
    wait_for(lambda: queue.status(marathon).progress.step >= 1)
    classmate = queue.submit(SHORT, "classmate", "198.51.100.4")
    wait_for(lambda: queue.status(marathon).message == PAUSED)
    assert queue.status(marathon).state is JobState.RUNNING
    wait_for(lambda: queue.status(classmate).state is JobState.FINISHED)
    epoch = queue.status(marathon).progress.epoch
    wait_for(lambda: queue.status(marathon).progress.epoch > epoch and not queue.status(marathon).message)
    queue.cancel(marathon, "marathon")
    wait_for(lambda: not queue.status(marathon).state.active)


# --- the store ------------------------------------------------------------------------------------------

def test_uploads_count_against_the_cap_and_the_heavy_holder_loses_its_own_runs_first(tmp_path):
    store = RunStore(tmp_path / "store", cap_bytes=2**30)
    limits = Limits(recent_seconds=0)
    classmate = finished_run(store, TrainingRequest("s4-conv-392", "digits", subset=300))
    store.write_status(classmate, **{**store.status(classmate), "owner": "c", "holder": "c"})
    uploads = [keep_upload(store, stored_model(f"upload {i}"), "m", "m", limits) for i in range(3)]
    one = store.size(uploads[0])
    assert store.total_size() > 4 * one - 1, "uploads are in the store's size"
    store.cap_bytes = 3 * one + one // 2
    newest = keep_upload(store, stored_model("upload 3"), "m", "m", limits)
    assert store.status(classmate) is not None, "the classmate's run stays"
    assert uploads[0] not in store.run_ids() and newest in store.run_ids()


def test_runs_on_an_open_lesson_and_runs_viewed_recently_are_protected(tmp_path):
    store = RunStore(tmp_path / "store", cap_bytes=2**30)
    runs = [finished_run(store, TrainingRequest("s4-conv-392", "digits", subset=300, seed=seed)) for seed in range(3)]
    lesson, _ = start_lesson(store)
    add_run(store, lesson.code, BoardEntry(runs[0], "Ada", "o"))
    store.cap_bytes = 0
    from explorer.housekeeping import make_room

    assert make_room(store, Limits(recent_seconds=3600)) == [], "all three viewed within the hour"
    assert set(make_room(store, Limits(recent_seconds=0))) == {runs[1], runs[2]}
    assert store.run_ids() == [runs[0]], "the lesson's run is kept"


def test_a_workspace_over_its_share_makes_room_from_its_own_runs_or_is_refused(tmp_path):
    store = RunStore(tmp_path / "store", cap_bytes=2**30)
    limits = Limits(workspace_bytes=1)
    first = keep_upload(store, stored_model("one"), "me", "me", limits)
    second = keep_upload(store, stored_model("two"), "me", "me", limits)
    assert store.run_ids() == [second] and first != second
    lesson, _ = start_lesson(store)
    add_run(store, lesson.code, BoardEntry(second, "me", "me"))
    with pytest.raises(LimitReached, match="your workspace keeps more than 0 MB"):
        keep_upload(store, stored_model("three"), "me", "me", limits)


# --- runs that end --------------------------------------------------------------------------------------

def test_a_run_whose_model_cannot_be_saved_ends_failed_with_the_reason(store, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "save_model", disk_full)
    queue = JobQueue(store, slots=1)
    run = queue.submit(SHORT, "student")
    wait_for(lambda: not queue.status(run).state.active)
    status = queue.status(run)
    assert status.state is JobState.FAILED and "could not be saved (No space left on device)" in status.message
    assert queue.stop(run, "student") and queue.cancel(run, "student")


def test_a_run_whose_end_cannot_be_written_at_all_is_not_shown_as_running_forever(store, monkeypatch):
    queue = JobQueue(store, slots=1)
    real_write = store.write_status

    def fails_once_ended(run, **status):
        if status.get("state") not in ("queued", "running"):
            raise OSError(28, "No space left on device")
        real_write(run, **status)

    monkeypatch.setattr(store, "write_status", fails_once_ended)
    monkeypatch.setattr(store, "save_model", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left")))
    run = queue.submit(SHORT, "student")
    wait_for(lambda: queue.job(run) is None)
    monkeypatch.setattr(store, "write_status", real_write)
    assert queue.status(run).state is JobState.FAILED and store.status(run)["state"] == "failed"


def test_a_stopped_run_keeps_its_weights_when_someone_asks_for_it_again(store):
    queue = JobQueue(store, slots=1)
    run = queue.submit(LONG, "first")
    wait_for(lambda: len(queue.status(run).progress.history) >= 1)
    queue.stop(run, "first")
    wait_for(lambda: not queue.status(run).state.active)
    weights = store.checkpoint_paths(run)[0].read_bytes()
    assert queue.submit(LONG, "second") == run
    assert queue.status(run).state is JobState.STOPPED and store.checkpoint_paths(run)[0].read_bytes() == weights


@needs_redis
def test_a_redis_run_whose_request_cannot_be_read_ends_failed_not_queued_forever(store, redis_with_a_worker,
                                                                                  monkeypatch):
    """Its own queue, no worker on it, so the request is damaged before any worker reads it; then one worker
    (in this process, told the store's path alone, as a worker on another machine is)."""
    from redis import Redis
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from explorer.redis_jobs import RedisJobQueue

    monkeypatch.delenv("EXPLORER_STORE")
    forget_runs(redis_with_a_worker)
    queue = RedisJobQueue(store, redis_with_a_worker, queue="damaged-requests")
    run = queue.submit(SHORT, "student")
    (store.folder(run) / "request.json").write_text("{damaged")
    SimpleWorker([queue.queue], connection=Redis.from_url(redis_with_a_worker),
                 serializer=JSONSerializer).work(burst=True)
    status = wait_for(lambda: (s := queue.status(run)) and not s.state.active and s)
    assert status.state is JobState.FAILED and "its request cannot be read from the store" in status.message
