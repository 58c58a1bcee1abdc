"""The run store and workspaces on disk: ids from what decides the weights, atomic files, the size cap."""
import os
import time
from dataclasses import replace

import numpy as np
import pytest

from explorer.run_store import RunNotFound, RunStore
from explorer.runs import TrainingRequest, run_id
from job_steps import finished_run, stored_model
from explorer.workspace import Workspace, is_token, load_workspace, new_token, save_workspace

REQUEST = TrainingRequest("s4-conv-392", "digits", settings={"epochs": 2}, subset=300)


def test_the_run_id_names_what_decides_the_weights():
    assert run_id(replace(REQUEST, name="mine")) == run_id(REQUEST), "a display name is not part of the run"
    explicit = replace(REQUEST, settings={"epochs": 2, "batch_size": 64})  # s4's recipe batch size, said aloud
    assert run_id(explicit) == run_id(REQUEST)
    for changed in (replace(REQUEST, seed=1), replace(REQUEST, subset=500), replace(REQUEST, noise="gaussian:0.1"),
                    replace(REQUEST, settings={"epochs": 3}), replace(REQUEST, dataset="mnist"),
                    replace(REQUEST, sources={"train_csv": b"a", "test_csv": b"b"})):
        assert run_id(changed) != run_id(REQUEST), changed
    uploads = replace(REQUEST, sources={"train_csv": b"a", "test_csv": b"c"})
    assert run_id(uploads) != run_id(replace(REQUEST, sources={"train_csv": b"a", "test_csv": b"b"}))


def test_a_finished_run_reads_back_whole_and_leaves_no_temporary_files(tmp_path):
    store = RunStore(tmp_path, cap_bytes=2**30)
    run = finished_run(store, REQUEST)
    loaded = store.load(run)
    original = stored_model()
    assert np.array_equal(loaded.test.images, original.test.images) and loaded.class_names == original.class_names
    assert store.request(run)["subset"] == 300 and "sources" in store.request(run)
    assert sorted(path.name for path in store.folder(run).iterdir()) == [
        "model.json", "model.safetensors", "request.json", "status.json", "test.npz"]
    with pytest.raises(RunNotFound):
        store.load("0" * 20)
    with pytest.raises(RunNotFound):
        store.folder("../../etc")


def test_past_its_cap_the_store_removes_the_runs_used_least_recently(tmp_path):
    store = RunStore(tmp_path, cap_bytes=2**30)
    runs = [finished_run(store, replace(REQUEST, seed=seed), images=200) for seed in range(4)]
    active = run_id(replace(REQUEST, seed=99))
    store.start(active, replace(REQUEST, seed=99))
    for age, run in enumerate(runs):
        os.utime(store.folder(run), (time.time() - 1000 + age, time.time() - 1000 + age))
    store.load(runs[0])  # used just now: the newest
    store.cap_bytes = store.total_size() - store.size(runs[1])  # room for all runs but the oldest
    assert store.keep_under_cap() == [runs[1]]
    store.cap_bytes = 0
    assert set(store.keep_under_cap()) == {runs[0], runs[2], runs[3]}
    assert store.run_ids() == [active], "a queued or running run is never removed"


def test_an_upload_is_kept_once_under_the_digest_of_its_files(tmp_path):
    store = RunStore(tmp_path, cap_bytes=2**30)
    model = stored_model("uploaded")
    first = store.add_upload(model)
    assert store.add_upload(model) == first and store.status(first)["origin"] == "uploaded"
    assert store.add_upload(stored_model("another name")) != first


def test_a_workspace_keeps_its_runs_and_form_and_forgets_runs_the_store_removed(tmp_path):
    store = RunStore(tmp_path, cap_bytes=2**30)
    kept, gone = finished_run(store, REQUEST), finished_run(store, replace(REQUEST, seed=1))
    token = new_token()
    assert is_token(token) and not is_token("short") and not is_token("../../x" * 4) and not is_token(None)
    save_workspace(store, Workspace(token, runs=[kept, gone], current_run=gone, form={"train_epochs": 3}))
    store.remove(gone)
    loaded = load_workspace(store, token)
    assert loaded.runs == [kept] and loaded.current_run is None and loaded.form == {"train_epochs": 3}
    assert load_workspace(store, new_token()).runs == [], "a new token is an empty workspace"
    with pytest.raises(ValueError):
        save_workspace(store, Workspace("../escape"))


def test_two_tabs_saving_at_once_lose_neither_the_run_nor_the_form(tmp_path):
    store = RunStore(tmp_path, cap_bytes=2**30)
    run = finished_run(store, REQUEST)
    token = new_token()
    save_workspace(store, Workspace(token, form={"train_epochs": 3}))
    training_tab, form_tab = load_workspace(store, token), load_workspace(store, token)
    training_tab.add_run(run)
    training_tab.current_run = run
    save_workspace(store, training_tab)
    form_tab.form = {"train_epochs": 5}
    save_workspace(store, form_tab)  # saved its whole, older copy before: dropped the run
    merged = load_workspace(store, token)
    assert merged.runs == [run] and merged.current_run == run and merged.form == {"train_epochs": 5}


def test_a_damaged_workspace_file_is_set_aside_not_overwritten(tmp_path):
    store = RunStore(tmp_path, cap_bytes=2**30)
    token = new_token()
    path = store.root / "workspaces" / f"{token}.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"runs": ["0123456789abcdef0123"], "form": {"train_ep')
    loaded = load_workspace(store, token)
    assert loaded.runs == [] and loaded.damaged and (path.parent / loaded.damaged).read_text().startswith('{"runs"')
    save_workspace(store, loaded)
    assert (path.parent / loaded.damaged).exists()
