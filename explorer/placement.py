"""A student's own image placed on a latent map: where the map puts it, what the model draws back,
and which test images are nearest it in latent space, with the class they vote for.

The map does not move: PCA projects the new latent, t-SNE optimises it against the fixed map
(openTSNE's ``transform``) and UMAP puts it among its neighbours (``projection.Projector.transform``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .corruption import Corruption, corrupt
from .metrics import nearest_neighbours, ssim
from .workbench import MapResult, Workbench

VOTERS = 8


@dataclass(frozen=True)
class Placement:
    image: torch.Tensor  # (1, C, H, W): the picture as the model sees it
    point: np.ndarray  # (2,): where the map puts its latent
    neighbours: np.ndarray  # the map's images nearest its latent, nearest first
    distances: np.ndarray
    vote: int  # the class most of them hold (of equal counts, the nearer's)
    votes: int  # how many of them hold it
    reconstruction: torch.Tensor | None = None  # None when the model has no decoder
    ssim: float | None = None
    corrupted_point: np.ndarray | None = None  # with a corruption: where its corrupted version lands

    @property
    def certainty(self) -> float:
        return self.votes / len(self.neighbours)


def place(workbench: Workbench, result: MapResult, images: torch.Tensor, voters: int = VOTERS,
          corruption: Corruption | None = None, seed: int = 0) -> list[Placement]:
    """Place each of ``images`` (N, C, H, W) on the map, and with ``corruption`` its corrupted version too, in
    one transform call (t-SNE's costs about the same for one point as for twenty). Neighbours are searched
    among the map's images, the ones it shows."""
    count = len(result.coordinates)
    latents = workbench.encode(images)
    corrupted = workbench.encode(corrupt(images, corruption, seed)) if corruption is not None else latents[:0]
    # One transform for both: each new point is placed against the fixed map alone, not against the others.
    both = result.projector.transform(np.concatenate([latents, corrupted]))
    points = both[:len(images)]
    corrupted_points = both[len(images):] if corruption is not None else [None] * len(images)
    reconstructions = workbench.decode(latents) if workbench.can_decode else None
    scores = ssim(images, reconstructions) if reconstructions is not None else None
    metric = "euclidean" if workbench.can_decode else "cosine"
    labels = workbench.labels(count)
    placements = []
    for row, latent in enumerate(latents):
        neighbours, distances = nearest_neighbours(workbench.latents(count), latent, min(voters, count), metric=metric)
        vote, votes = majority_vote(labels[neighbours])
        placements.append(Placement(
            images[row:row + 1], points[row], neighbours, distances, vote, votes,
            None if reconstructions is None else reconstructions[row:row + 1],
            None if scores is None else float(scores[row]), corrupted_points[row]))
    return placements


def majority_vote(labels: np.ndarray) -> tuple[int, int]:
    """The most frequent label of neighbours listed nearest first, and its count; a tie goes to the label
    met first (the nearer neighbour's)."""
    counts = np.bincount(labels)
    tied = np.flatnonzero(counts == counts.max())
    winner = next(int(label) for label in labels if label in tied)
    return winner, int(counts[winner])
