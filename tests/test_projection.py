import numpy as np
import pytest

from explorer.metrics import knn_accuracy
from explorer.projection import Projector, exact_neighbours


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 100)
    return rng.normal(size=(300, 16)) + np.eye(16)[labels] * 8, labels


def test_pca_inverse_recovers_the_plane(blobs):
    latents, _ = blobs
    projector = Projector("pca")
    points = projector.fit_transform(latents)
    assert points.shape == (300, 2)
    again = projector.fit_transform(projector.inverse_transform(points))
    assert np.allclose(np.abs(again), np.abs(points), atol=1e-3)


@pytest.mark.parametrize("method, params", [("tsne", {"perplexity": 20}), ("umap", {"n_neighbors": 10, "min_dist": 0.2})])
def test_nonlinear_maps_are_seeded_and_keep_clusters(blobs, method, params):
    latents, labels = blobs
    first = Projector(method, params, random_state=3).fit_transform(latents)
    second = Projector(method, params, random_state=3).fit_transform(latents)
    assert first.shape == (300, 2) and np.allclose(first, second)
    assert knn_accuracy(first, labels) > 0.98, "the three blobs stay three clusters on the map"


def test_umap_inverse_and_tsne_has_none(blobs):
    latents, _ = blobs
    umap = Projector("umap", {"n_neighbors": 10})
    points = umap.fit_transform(latents)
    assert umap.inverse_transform(points[:2]).shape == (2, 16)
    with pytest.raises(ValueError, match="no inverse"):
        Projector("tsne").inverse_transform(points)


@pytest.mark.parametrize("method, params, message", [
    ("lle", {}, "unknown projection 'lle'"), ("tsne", {"n_neighbors": 3}, "allowed: perplexity"),
    ("umap", {"min_dist": 3.0}, "min_dist must be in"), ("tsne", {"perplexity": 500}, "perplexity must be between"),
])
def test_bad_parameters(blobs, method, params, message):
    with pytest.raises(ValueError, match=message):
        Projector(method, params).fit_transform(blobs[0])


def test_umap_neighbours_are_exact_and_start_with_the_point_itself(blobs):
    latents, _ = blobs
    indices, distances, _ = exact_neighbours(latents, 5)
    brute = np.argsort(np.linalg.norm(latents[:, None] - latents[None], axis=2), axis=1, kind="stable")[:, :5]
    assert np.array_equal(indices[:, 0], np.arange(len(latents))) and np.allclose(distances[:, 0], 0, atol=1e-3)
    assert np.array_equal(np.sort(indices, axis=1), np.sort(brute, axis=1))


@pytest.mark.parametrize("method", ["pca", "umap", "tsne"])
def test_every_method_places_new_points_in_their_cluster_without_moving_the_map(blobs, method):
    latents, labels = blobs
    projector = Projector(method, {"n_neighbors": 10} if method == "umap" else {}, random_state=0)
    points = projector.fit_transform(latents)
    before = points.copy()
    placed = projector.transform(latents[::50] + 0.05)
    centres = np.stack([points[labels == label].mean(0) for label in range(3)])
    nearest_centre = np.linalg.norm(placed[:, None] - centres[None], axis=2).argmin(1)
    assert np.array_equal(nearest_centre, labels[::50]) and np.array_equal(points, before)
    with pytest.raises(ValueError, match="fit the projection"):
        Projector(method).transform(latents[:3])


def test_tsne_reports_progress_from_neighbours_to_the_last_iteration(blobs):
    latents, _ = blobs
    heard = []
    projector = Projector("tsne")
    projector.fit_transform(latents, lambda fraction, stage: heard.append((fraction, stage)))
    fractions = [fraction for fraction, _ in heard]
    assert fractions[0] == 0 and "neighbours" in heard[0][1] and fractions[-1] == 1.0
    assert fractions == sorted(fractions) and len(heard) == 1 + (125 + 400) // 25
    projector.transform(latents[:5] + 0.1)
    assert len(heard) == 1 + (125 + 400) // 25, "placing points later reports nothing to the finished fit"


def test_a_large_tsne_map_works_in_principal_components_and_still_places_new_points(blobs, monkeypatch):
    from explorer import projection

    latents, labels = blobs
    wide = np.hstack([latents, latents[:, ::-1] * 0.5, latents * 0.25, latents[:, ::2]])  # 56 dimensions
    monkeypatch.setattr(projection, "LARGE_MAP", 100)
    monkeypatch.setattr(projection, "LARGE_TSNE_DIMENSIONS", 10)
    projector = Projector("tsne", random_state=0)
    points = projector.fit_transform(wide)
    assert projector._reducer is not None and projector._reducer.n_components_ == 10
    assert knn_accuracy(points, labels) > 0.95
    placed = projector.transform(wide[::50])
    centres = np.stack([points[labels == label].mean(0) for label in range(3)])
    assert np.array_equal(np.linalg.norm(placed[:, None] - centres[None], axis=2).argmin(1), labels[::50])
