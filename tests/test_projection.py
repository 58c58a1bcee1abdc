import numpy as np
import pytest

from explorer.projection import Projector


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
    centres = np.array([first[labels == c].mean(0) for c in range(3)])
    spread = max(first[labels == c].std() for c in range(3))
    assert min(np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3)) > 2 * spread


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
