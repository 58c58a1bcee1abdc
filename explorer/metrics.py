"""Image-quality and latent-space metrics: MSE, PSNR, SSIM, kNN and retrieval accuracy, trustworthiness.

SSIM follows scikit-image's ``structural_similarity`` defaults (7x7 uniform window, K1 = 0.01,
K2 = 0.03, sample covariance, mean over the window positions that lie inside the image) computed for
a whole batch at once; the tests check it against scikit-image itself.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

SSIM_WINDOW = 7
_K1, _K2 = 0.01, 0.03
SSIM_CHUNK = 512
# Similarity rows of 512 queries at a time: 10,000 test images cost 20 MB per block, not a 400 MB matrix.
RETRIEVAL_BLOCK = 512


@lru_cache(maxsize=16)
def _window_band(size: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(size, size - 6) matrix whose column j averages rows j..j+6: one matrix product per image axis."""
    positions = torch.arange(size, device=device)[:, None] - torch.arange(size - SSIM_WINDOW + 1, device=device)
    return ((positions >= 0) & (positions < SSIM_WINDOW)).to(dtype) / SSIM_WINDOW


def _window_means(images: torch.Tensor) -> torch.Tensor:
    """Mean over every 7x7 window inside the image, as two matrix products.

    Four times faster here than ``avg_pool2d`` on CPU, in float64 as in float32, and exact to 1e-15.
    """
    height, width = images.shape[-2:]
    rows = _window_band(height, images.dtype, images.device)
    columns = rows if width == height else _window_band(width, images.dtype, images.device)
    return rows.T @ images @ columns


def ssim_map(first: torch.Tensor, second: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-pixel SSIM for (N, C, H, W) batches over the valid window positions, differentiable."""
    if first.shape != second.shape:
        raise ValueError(f"SSIM needs equal shapes, got {tuple(first.shape)} and {tuple(second.shape)}")
    if min(first.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW}")
    covariance_norm = SSIM_WINDOW ** 2 / (SSIM_WINDOW ** 2 - 1)
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    means = _window_means(torch.cat([first, second, first * first, second * second, first * second], dim=1))
    mu_x, mu_y, xx, yy, xy = means.chunk(5, dim=1)
    mu_xy = mu_x * mu_y
    squares = mu_x * mu_x + mu_y * mu_y
    numerator = (2 * mu_xy + c1) * ((xy - mu_xy) * (2 * covariance_norm) + c2)
    denominator = (squares + c1) * ((xx + yy - squares) * covariance_norm + c2)
    return numerator / denominator


@torch.no_grad()
def ssim(first: torch.Tensor, second: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM of each image pair: a tensor of N values (channels averaged, as scikit-image does).

    Float64 like scikit-image, in chunks small enough for the intermediate maps to stay in cache.
    """
    if first.shape != second.shape:
        raise ValueError(f"SSIM needs equal shapes, got {tuple(first.shape)} and {tuple(second.shape)}")
    return torch.cat([ssim_map(first[start:start + SSIM_CHUNK].double(), second[start:start + SSIM_CHUNK].double(),
                               data_range).mean(dim=(1, 2, 3))
                      for start in range(0, max(len(first), 1), SSIM_CHUNK)])


def mse(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    return (first.double() - second.double()).pow(2).mean(dim=(1, 2, 3))


def psnr(first: torch.Tensor, second: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB; a perfect copy is capped at 100 dB rather than infinity."""
    error = mse(first, second).clamp(min=1e-10)
    return 10 * torch.log10(data_range ** 2 / error)


def reconstruction_scores(originals: torch.Tensor, reconstructions: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-image MSE, PSNR and SSIM as NumPy arrays (the form the pages and cards use)."""
    return {"mse": mse(originals, reconstructions).numpy(), "psnr": psnr(originals, reconstructions).numpy(),
            "ssim": ssim(originals, reconstructions).numpy()}


def summarise(scores: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: float(np.mean(values)) for name, values in scores.items()}


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = 5, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated k-nearest-neighbour classification accuracy: how well classes separate."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    class_sizes = np.bincount(labels)
    folds = max(2, min(folds, int(class_sizes[class_sizes > 0].min())))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(KNeighborsClassifier(n_neighbors=k), points, labels, cv=splitter).mean())


def nearest_neighbours(points: np.ndarray, query: np.ndarray, k: int, metric: str = "euclidean",
                       exclude: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices and distances of the ``k`` points nearest to ``query`` (optionally leaving one index out)."""
    if metric == "cosine":
        distances = 1.0 - (points @ query) / (np.linalg.norm(points, axis=1) * np.linalg.norm(query) + 1e-12)
    else:
        distances = np.linalg.norm(points - query, axis=1)
    if exclude is not None:
        distances = distances.copy()
        distances[exclude] = np.inf
    order = np.argsort(distances, kind="stable")[:k]
    return order, distances[order]


def retrieval(embeddings: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[float, np.ndarray]:
    """Top-1 retrieval accuracy and confusion matrix: each image queries all others by cosine similarity.

    Row = the query's class, column = the class of its most similar other image (S2's evaluation).
    """
    normalised = embeddings / (np.linalg.norm(embeddings, axis=1, keepdims=True) + 1e-12)
    predicted = np.empty(len(labels), dtype=np.int64)
    for start in range(0, len(labels), RETRIEVAL_BLOCK):
        block = normalised[start:start + RETRIEVAL_BLOCK] @ normalised.T
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
        predicted[start:start + RETRIEVAL_BLOCK] = labels[block.argmax(1)]
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    return float((predicted == labels).mean()), confusion


def anchor_positive_accuracy(embeddings: np.ndarray, labels: np.ndarray, n_classes: int, batches: int = 500,
                             seed: int = 0) -> float:
    """S2's own measure: in a batch of one anchor and one positive per class, how often an anchor's most
    similar positive (cosine) is the one of its class; the mean over ``batches`` random batches."""
    rng = np.random.default_rng(seed)
    normalised = embeddings / (np.linalg.norm(embeddings, axis=1, keepdims=True) + 1e-12)
    members = [np.flatnonzero(labels == label) for label in range(n_classes)]
    if any(len(found) < 2 for found in members):
        raise ValueError("every class needs at least two images for an anchor and a positive")
    pairs = np.stack([[rng.choice(found, 2, replace=False) for found in members] for _ in range(batches)])
    anchors, positives = normalised[pairs[..., 0]], normalised[pairs[..., 1]]
    similarity = anchors @ positives.transpose(0, 2, 1)
    return float((similarity.argmax(axis=2) == np.arange(n_classes)).mean())


def trustworthiness(high: np.ndarray, low: np.ndarray, k: int = 5) -> float:
    """How far the 2-D map keeps each point's latent-space neighbours (1 = perfectly)."""
    from sklearn.manifold import trustworthiness as sklearn_trustworthiness

    return float(sklearn_trustworthiness(high, low, n_neighbors=k))
