"""Corruption trails: where a corrupted image lands on a map, and whether its neighbourhood changes class.

Each followed image is encoded twice, clean and corrupted. The corrupted latent is placed on the map
already fitted to the clean latents (``Projector.transform``), so the arrow from one to the other is
the drift the corruption causes. Whether that drift matters is judged in latent space, not on the
approximate 2-D map: an image *flips* when the majority label of its nearest clean neighbours differs
before and after corruption.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .projection import Projector

NEIGHBOURS = 5


@dataclass(frozen=True)
class Trail:
    clean: np.ndarray
    corrupted: np.ndarray
    flipped: np.ndarray
    latent_shift: float
    map_shift: float
    accuracy_clean: float
    accuracy_corrupted: float

    @property
    def flip_share(self) -> float:
        return float(self.flipped.mean()) if len(self.flipped) else 0.0


def neighbour_vote(reference: np.ndarray, labels: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The majority label of each query's ``NEIGHBOURS`` nearest reference latents, leaving out the query's
    own clean latent (query ``i`` is a version of reference image ``i``): a lightly corrupted image's
    nearest neighbour is its own clean self, whose label it would otherwise copy. Ties: the nearer label."""
    from sklearn.neighbors import NearestNeighbors

    candidates = NearestNeighbors(n_neighbors=NEIGHBOURS + 1).fit(reference).kneighbors(
        queries, return_distance=False)
    is_own = candidates == np.arange(len(queries))[:, None]
    is_own[~is_own.any(axis=1), -1] = True
    found = candidates[~is_own].reshape(len(queries), NEIGHBOURS)
    # A nearer neighbour's vote weighs a little more (all extras together < 1 vote), so ties go to the nearer label.
    weights = 1 + np.arange(NEIGHBOURS, 0, -1) / (NEIGHBOURS * (NEIGHBOURS + 1))
    tally = np.zeros((len(queries), labels.max() + 1))
    np.add.at(tally, (np.arange(len(queries))[:, None], labels[found]), weights)
    return tally.argmax(axis=1)


def typical_neighbour_distance(latents: np.ndarray) -> float:
    """Median distance from a latent to its ``NEIGHBOURS``-th nearest other latent: the unit shifts are
    measured in, so models with latent spaces of different scales can be compared."""
    from sklearn.neighbors import NearestNeighbors

    sample = latents[:3000]
    distances, _ = NearestNeighbors(n_neighbors=NEIGHBOURS + 1).fit(latents).kneighbors(sample)
    return float(np.median(distances[:, -1]))


def follow_corruption(latents: np.ndarray, labels: np.ndarray, coordinates: np.ndarray, projector: Projector,
                      corrupted: np.ndarray, unit: float) -> Trail:
    """The trail of the first ``len(corrupted)`` map points, whose corrupted latents are ``corrupted``.

    ``latents``, ``labels`` and ``coordinates`` describe every clean point of the fitted map; ``unit`` is
    its ``typical_neighbour_distance`` (the same for every trail on the map, so the caller keeps it).
    """
    followed = len(corrupted)
    if not 0 < followed <= len(latents):
        raise ValueError(f"follow between 1 and {len(latents)} images, got {followed}")
    clean_vote = neighbour_vote(latents, labels, latents[:followed])
    corrupted_vote = neighbour_vote(latents, labels, corrupted)
    landed = projector.transform(corrupted)
    extent = np.linalg.norm(coordinates.max(axis=0) - coordinates.min(axis=0))
    return Trail(
        clean=coordinates[:followed], corrupted=landed, flipped=clean_vote != corrupted_vote,
        latent_shift=float(np.linalg.norm(corrupted - latents[:followed], axis=1).mean() / unit),
        map_shift=float(np.linalg.norm(landed - coordinates[:followed], axis=1).mean() / extent),
        accuracy_clean=float((clean_vote == labels[:followed]).mean()),
        accuracy_corrupted=float((corrupted_vote == labels[:followed]).mean()))
