"""Every shipped checkpoint: card matches weights, and the card's figures are re-measured here."""
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.checkpoint import SHIPPED_FOLDER as SHIPPED, list_checkpoints, load_checkpoint
from explorer.datasets import load_dataset
from explorer.evaluation import CARD_SUBSET, evaluate_reconstruction, evaluate_retrieval
from explorer.models import list_models

CHECKPOINTS = list_checkpoints(SHIPPED)
ROOT = Path(__file__).resolve().parent.parent


def test_a_checkpoint_for_every_model_and_under_40_mb():
    shipped_models = {load_checkpoint(path).card["model"] for path in CHECKPOINTS}
    assert shipped_models == {info.model_id for info in list_models()}
    assert sum(f.stat().st_size for f in SHIPPED.iterdir()) < 40 * 2 ** 20


@pytest.mark.parametrize("path", CHECKPOINTS, ids=[p.name for p in CHECKPOINTS])
def test_card_figures_are_reproduced(path):
    checkpoint = load_checkpoint(path)
    card = checkpoint.card
    assert card["command"].startswith("python -m explorer train")
    subset = load_dataset(card["dataset"], need_train=False).test.subset(CARD_SUBSET, seed=0)
    metrics = card["metrics"]
    if "retrieval_accuracy" in metrics:
        classes = len(card["classes"])
        measured = evaluate_retrieval(checkpoint.model, subset, classes)[0]
        # The card was measured on another machine: one near-tie of cosine similarities may fall the other way.
        assert measured == pytest.approx(metrics[f"retrieval_accuracy_subset_{CARD_SUBSET}"], abs=1 / CARD_SUBSET)
        return
    measured = evaluate_reconstruction(checkpoint.model, subset)
    claimed = metrics[f"test_subset_{CARD_SUBSET}"]
    assert measured["ssim"] == pytest.approx(claimed["ssim"], abs=1e-4)
    assert measured["mse"] == pytest.approx(claimed["mse"], rel=1e-3)
    assert metrics["test"]["clean"]["images"] == len(load_dataset(card["dataset"], need_train=False).test)


def test_checkpoint_table_is_what_the_cards_say():
    listing = subprocess.run([sys.executable, "-m", "explorer", "checkpoints"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    readme = (ROOT / "checkpoints" / "README.md").read_text()

    def rows(text: str) -> list[list[str]]:
        return [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()
                if line.startswith("| `")]

    assert len(rows(listing)) == len(CHECKPOINTS) and rows(readme) == rows(listing)


def test_the_experiments_page_compares_the_shipped_s3_runs_in_the_seed_s_order():
    import json

    from explorer.card import ModelCard
    from explorer.experiments import shipped_comparisons
    from explorer.runs import S3_CORRUPTIONS

    shipped = {path.stem: ModelCard(json.loads(path.read_text())) for path in SHIPPED.glob("*.json")
               if path.stem != "README"}
    found = shipped_comparisons(shipped)
    assert [shipped[name].corruption for name in found.s3] == list(S3_CORRUPTIONS), "one denoiser per corruption"
    assert all(name.startswith("s3-anello-fashion-seed-") or name == "s3-anello-fashion-clean" for name in found.s3_seed)
    assert len(found.s3_seed) >= 2 and found.s1 == ["s1-dense-128-fashion", "s1-modified-256-fashion"]
