import threading
import time

import numpy as np
import pytest
import torch

from explorer.datasets import load_dataset
from explorer.memo import SingleFlightMemo
from explorer.models import create_model
from explorer.workbench import Workbench


def test_concurrent_requests_for_one_value_compute_it_once():
    memo = SingleFlightMemo(max_entries=4)
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.3)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(memo.get("map", slow))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_oldest_entries_go_beyond_the_bound_and_failures_are_not_kept():
    memo = SingleFlightMemo(max_entries=2)
    for key in "abc":
        memo.get(key, lambda: key)
    assert len(memo) == 2
    assert [memo.get(key, lambda: "computed again") for key in "cba"] == ["c", "b", "computed again"], "a went first"
    with pytest.raises(RuntimeError):
        memo.get("d", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert memo.get("d", lambda: "ok") == "ok"


def test_sessions_asking_for_the_same_map_at_once_share_one_computation(monkeypatch):
    torch.manual_seed(0)
    digits = load_dataset("digits")
    workbench = Workbench(create_model("s4-conv-392").eval(), digits.test.subset(150), digits.class_names)
    fits = []
    original = workbench._fit_map
    monkeypatch.setattr(workbench, "_fit_map", lambda *args: fits.append(args) or original(*args))
    maps = []
    threads = [threading.Thread(target=lambda: maps.append(workbench.project("pca", {}, 150))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fits) == 1 and all(result is maps[0] for result in maps)
    assert np.array_equal(maps[0].coordinates, workbench.project("pca", {}, 150).coordinates)


def test_a_caller_who_leaves_mid_computation_loses_nothing():
    """Streamlit stops a script by raising from its next st call; the value is computed and kept anyway."""
    memo = SingleFlightMemo(max_entries=4)
    calls, finished = [], threading.Event()

    def slow():
        calls.append(1)
        time.sleep(0.8)
        finished.set()
        return "map"

    class LeftThePage(Exception):
        pass

    def leave():
        raise LeftThePage

    with pytest.raises(LeftThePage):
        memo.get("map", slow, wait=leave)
    assert not finished.is_set(), "the caller is released at its first wait, not at the end"
    assert finished.wait(5) and memo.get("map", lambda: "recomputed") == "map" and len(calls) == 1
    waits = []
    assert memo.get("other", lambda: time.sleep(0.6) or "value", wait=lambda: waits.append(1)) == "value"
    assert len(waits) >= 2, "a caller who stays hears from the wait while the work runs"
