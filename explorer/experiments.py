"""The Experiments page's comparisons: which shipped checkpoints answer each seed's question, in its order."""
from __future__ import annotations

from dataclasses import dataclass

from .card import ModelCard
from .runs import S3_CORRUPTIONS


@dataclass(frozen=True)
class Comparisons:
    """Checkpoint names (file stems). ``s3``: S3's model trained on each corruption and scored against the clean
    image (denoising); ``s3_seed``: as the seed trained it, scored against its own corrupted input; ``s1``:
    the seed S1's two networks."""

    s3: list[str]
    s3_seed: list[str]
    s1: list[str]


def shipped_comparisons(shipped: dict[str, ModelCard]) -> Comparisons:
    """The comparisons the shipped checkpoints on Fashion-MNIST make, S3's in the order of S3_CORRUPTIONS."""
    def corruption_order(name: str) -> int:
        corruption = shipped[name].corruption
        return S3_CORRUPTIONS.index(corruption) if corruption in S3_CORRUPTIONS else len(S3_CORRUPTIONS)

    fashion = {name: card for name, card in shipped.items() if card.dataset == "fashion-mnist"}
    s3_runs = sorted((name for name, card in fashion.items() if card.model_id == "s3-anello"), key=corruption_order)
    return Comparisons(
        s3=[name for name in s3_runs if shipped[name].target == "clean"],
        s3_seed=[name for name in s3_runs if shipped[name].corruption == "clean" or shipped[name].target == "corrupted"],
        s1=sorted(name for name, card in fashion.items() if card.seed_system == "S1"))
