"""Model cards and model references: what a checkpoint is, what it can do, and how the app names it.

A card is the JSON written beside every checkpoint's weights (architecture, data, recipe, measured
metrics, the command that re-runs it). ``ModelCard`` reads it in one place, so "can this model decode?"
and "what is its headline figure?" have one answer everywhere: sidebar, CLI, pages.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .models import model_info
from .names import plain_name

CONDITION_LABELS = {"clean": "clean", "gaussian:0.01": "sigma 0.01", "gaussian:0.1": "sigma 0.1", "gaussian:0.5": "sigma 0.5",
                    "gaussian:1": "sigma 1", "erasing:0.5": "erasing 0.5", "erasing:1": "erased"}


@dataclass(frozen=True)
class ModelRef:
    """Where a model comes from: a shipped checkpoint (``key`` is its file stem), or one trained or uploaded in a
    workspace, or opened from the class board (``key`` is its run id in the run store)."""

    source: Literal["shipped", "trained", "uploaded", "shared"]
    key: str

    @property
    def shipped(self) -> bool:
        return self.source == "shipped"


@dataclass(frozen=True)
class ModelCard:
    data: dict

    @property
    def model_id(self) -> str:
        return self.data["model"]

    @property
    def name(self) -> str:
        """As others may see it (an uploaded card's name is anybody's text): plain, one line."""
        return plain_name(str(self.data.get("name") or "")) or self.model_id

    @property
    def dataset(self) -> str:
        return self.data.get("dataset", "fashion-mnist")

    @property
    def seed_system(self) -> str | None:
        return model_info(self.model_id).seed_system

    @property
    def corruption(self) -> str:
        """How the training inputs were corrupted (``clean``, ``gaussian:0.5``, ``erasing:0.5``)."""
        return self.data.get("corruption") or "clean"

    @property
    def trained_classes(self) -> int:
        return len(self.data.get("classes") or self.data.get("class_names") or range(10))

    @property
    def can_decode(self) -> bool:
        """Autoencoders decode latents back to images; S2's embedding network only encodes (and retrieves)."""
        return model_info(self.model_id).is_autoencoder

    @property
    def can_retrieve(self) -> bool:
        """Trained for image similarity (S2): its card measures retrieval accuracy."""
        return not self.can_decode

    @property
    def metrics(self) -> dict:
        return self.data.get("metrics", {})

    @property
    def training(self) -> dict:
        return self.data.get("training", {})

    @property
    def target(self) -> str:
        """What a corrupted input was scored against in training: "clean" (denoising) or "corrupted" (S3's seed)."""
        return self.training.get("target", "clean")

    @property
    def history(self) -> list[dict]:
        return self.data.get("history", [])

    def ssim(self, condition: str = "clean") -> float | None:
        """Mean test SSIM under a card condition, or None when the card does not record it."""
        measured = self.metrics.get("test", {}).get(condition)
        return measured["ssim"] if measured else None

    @property
    def retrieval_accuracy(self) -> dict[int, float]:
        return {int(k): v for k, v in self.metrics.get("retrieval_accuracy", {}).items()}

    def headline(self) -> str:
        """The one figure that says how good this model is, with what it was measured on."""
        if self.retrieval_accuracy:
            classes, accuracy = max(self.retrieval_accuracy.items())
            return f"retrieval {accuracy:.1%} ({classes} classes)"
        clean = self.metrics.get("test", {}).get("clean")
        if clean is None:
            return f"not measured ({self.dataset})"
        return f"SSIM {clean['ssim']:.3f} on {self.dataset}"
