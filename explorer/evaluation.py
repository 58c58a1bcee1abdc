"""Measuring a trained model on a test split: the figures every model card and page shows."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .corruption import Corruption, corrupt, parse_corruption
from .datasets import ImageSet
from .metrics import anchor_positive_accuracy, reconstruction_scores, retrieval, summarise
from .inference import encode_all, reconstruct_all
from .training import LOSSES, TrainConfig

# S3's seed tests every model on clean inputs, Gaussian sigma 0.01 / 0.1 / 0.5 / 1 and torchvision's
# RandomErasing (p 0.5); erasing every image (p 1) is the app's own harder condition.
CARD_CONDITIONS = ("clean", "gaussian:0.01", "gaussian:0.1", "gaussian:0.5", "gaussian:1", "erasing:0.5", "erasing:1")
RETRIEVAL_CLASS_COUNTS = (4, 7, 10)
CARD_SUBSET = 500
EVALUATION_SEED = 0


def reconstruct_and_score(model: nn.Module, clean: torch.Tensor, corruption: Corruption | None = None,
                          seed: int = EVALUATION_SEED) -> tuple[torch.Tensor, torch.Tensor, dict[str, np.ndarray]]:
    """Corrupted inputs (identical for every model given the seed), reconstructions, and per-image
    MSE, PSNR and SSIM of the reconstructions against the clean images."""
    inputs = corrupt(clean, corruption, seed)
    outputs = reconstruct_all(model, inputs)
    return inputs, outputs, reconstruction_scores(clean, outputs)


def evaluate_reconstruction(model: nn.Module, images: ImageSet, corruption: Corruption | None = None,
                            seed: int = EVALUATION_SEED) -> dict[str, float]:
    """Mean MSE, PSNR and SSIM of reconstructions of (corrupted) test images against the clean ones."""
    scores = reconstruct_and_score(model, images.as_tensor(), corruption, seed)[2]
    return {**summarise(scores), "images": len(images)}


def evaluate_retrieval(model: nn.Module, images: ImageSet, class_count: int) -> tuple[float, np.ndarray, float]:
    """S2's evaluation on the first ``class_count`` classes: top-1 retrieval accuracy, its confusion matrix,
    and the seed's own anchor/positive batch accuracy."""
    chosen = images.of_classes(tuple(range(class_count)))
    embeddings = encode_all(model, chosen.as_tensor())
    return (*retrieval(embeddings, chosen.labels, class_count),
            anchor_positive_accuracy(embeddings, chosen.labels, class_count))


def loss_as_trained(model: nn.Module, images: ImageSet, config: TrainConfig) -> float:
    """The training loss on test images: the model's own corruption on the input, scored against its
    training target (the clean image, or under S3's seed protocol the corrupted one), as in the seed's
    train/test loss table."""
    clean = images.as_tensor()
    inputs = corrupt(clean, config.corruption, EVALUATION_SEED)
    return float(LOSSES[config.loss](reconstruct_all(model, inputs), config.targets(clean, inputs)))


def card_metrics(model: nn.Module, test: ImageSet, is_autoencoder: bool, trained_classes: int,
                 config: TrainConfig) -> dict:
    """Everything a model card records, on the full test split and on a fixed 500-image subset."""
    subset = test.subset(CARD_SUBSET, seed=EVALUATION_SEED)
    if not is_autoencoder:
        counts = [n for n in RETRIEVAL_CLASS_COUNTS if n <= trained_classes] or [trained_classes]
        measured = {n: evaluate_retrieval(model, test, n) for n in counts}
        return {"retrieval_accuracy": {str(n): figures[0] for n, figures in measured.items()},
                "anchor_positive_accuracy": {str(n): figures[2] for n, figures in measured.items()},
                f"retrieval_accuracy_subset_{CARD_SUBSET}": evaluate_retrieval(model, subset, trained_classes)[0]}
    return {"test": {condition: evaluate_reconstruction(model, test, parse_corruption(condition))
                     for condition in CARD_CONDITIONS},
            f"test_subset_{CARD_SUBSET}": evaluate_reconstruction(model, subset),
            "test_loss": loss_as_trained(model, test, config)}
