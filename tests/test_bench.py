import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_command_runs_on_a_tiny_workload(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.run", "--tiny", "--json", str(tmp_path / "b.json")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "b.json").read_text())
    figures = " ".join(row["figure"] for row in rows)
    for expected in ("train s1-dense-128", "with erasing", "t-SNE", "UMAP", "UMAP of all", "cached map", "SSIM",
                     "cold start", "peak RSS", "lasso to gallery"):
        assert expected in figures
    assert all(row["ours"] > 0 and row["reference"] > 0 for row in rows), [r for r in rows if r["ours"] <= 0]
