"""The benchmark commands run at a tiny size in CI, so a page change cannot break them unnoticed."""
import json
import subprocess
import sys
from pathlib import Path

from ui.page_table import PAGES

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_command_runs_on_a_tiny_workload(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.run", "--tiny", "--json", str(tmp_path / "b.json")],
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
