"""The benchmark commands run at a tiny size in CI, so a page change cannot break them unnoticed."""
import json
import subprocess
import sys
from pathlib import Path

from browser_steps import needs_chromium
from redis_engine import needs_redis
from ui.page_table import PAGES

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_command_runs_on_a_tiny_workload(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.clicks", "--tiny", "--json", str(tmp_path / "b.json")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "b.json").read_text())
    figures = " ".join(row["figure"] for row in rows)
    for expected in ("train s1-dense-128", "with erasing", "t-SNE", "UMAP", "UMAP of all", "cached map", "SSIM",
                     "cold start", "peak RSS", "lasso to gallery", "with trail and grid"):
        assert expected in figures
    for spec in PAGES:
        assert f"click on {spec.title}," in figures, f"no click cost for {spec.title}"
    assert all(row["ours"] > 0 and row["reference"] > 0 for row in rows), [r for r in rows if r["ours"] <= 0]


def test_the_class_lesson_runs_every_step_for_three_students(tmp_path):
    """The lesson speaks the widgets' labels: a page that renames or drops one fails here, naming it."""
    from bench.sessions import LESSON

    result = subprocess.run([sys.executable, "-m", "bench.sessions", "--tiny", "--json", str(tmp_path / "s.json")],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    lesson = json.loads((tmp_path / "s.json").read_text())["classes"][0]
    assert lesson["students"] == 3 and lesson["errors"] == 0, lesson["error_messages"]
    assert set(lesson["steps"]) == {step.name for step in LESSON}
    assert all(seconds > 0 for seconds in lesson["steps"].values())
    following = json.loads((tmp_path / "s.json").read_text())["following"]
    assert following["errors"] == 0, following["error_messages"]
    assert following["students"] == 3 and 0 < following["arrival_p50_s"] <= following["arrival_p95_s"]


def test_the_replay_study_runs_through_the_queue_and_reports_each_epoch(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.replay", "--tiny", "--json", str(tmp_path / "r.json")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert row["epochs"] == 2 and len(row["knn_accuracy"]) == len(row["val_loss"]) == 2
    assert all(0.1 < accuracy <= 1 for accuracy in row["knn_accuracy"]), "above chance on ten digit classes"
    assert 1 <= row["plateau_epoch"] <= 2 and 0 < row["recording_share"] < 1


@needs_redis
def test_the_class_runs_on_each_engine_train_each_experiment_once(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.workers", "--tiny", "--json", str(tmp_path / "w.json")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads((tmp_path / "w.json").read_text())["rows"]
    assert [row["engine"].split(",")[0] for row in rows] == ["embedded queue (one process)", "RQ", "RQ"]
    assert all(row["runs_trained"] == 2 for row in rows), "4 students, 2 experiments: 2 runs on every engine"
    assert all(row["median_s"] <= row["p95_s"] <= row["last_s"] for row in rows)


@needs_chromium
def test_a_mischievous_session_beside_a_student_in_chromium_takes_nothing_of_theirs(tmp_path):
    """The abuse scenario (bench.abuse --tiny): every attempt refused in the other session's page, the student's
    run finished and kept, the server's peak memory within 300 MB of the lesson alone. Click and run-time ratios
    are timings on a shared 2-core machine (the other session's Chromium included): the table prints them."""
    result = subprocess.run([sys.executable, "-m", "bench.abuse", "--tiny", "--json", str(tmp_path / "a.json")],
                            cwd=ROOT, capture_output=True, text=True, timeout=1500)
    print(result.stdout)
    alone, abused = json.loads((tmp_path / "a.json").read_text())
    assert abused["said"] == {"oversized image": True, "damaged card": True, "most expensive run": True,
                              "bomb CSV": True}, result.stdout
    assert abused["tabs_queued"] == 3 and not alone["errors"] and not abused["errors"]
    assert alone["run_kept"] and abused["run_kept"] and abused["run_state"] == alone["run_state"] == "finished"
    assert abused["peak_rss_mb"] - alone["peak_rss_mb"] < 300
    assert result.returncode == 0, result.stderr[-3000:]
