"""Corruption trails on a shipped model: placed where encoding the corrupted images directly puts them."""
import numpy as np
import pytest
from sklearn.decomposition import PCA

from explorer.checkpoint import load_shipped
from explorer.corruption import GaussianNoise, RandomErasing, corrupt
from explorer.datasets import load_dataset
from explorer.trail import NEIGHBOURS, neighbour_vote
from explorer.workbench import Workbench
from tolerance import FLOAT32_SCORE


@pytest.fixture(scope="module")
def workbench():
    digits = load_dataset("digits")
    return Workbench(load_shipped("s4-conv-392-digits").model, digits.test, digits.class_names)


def test_pca_trail_lands_where_the_directly_encoded_corrupted_images_project(workbench):
    result = workbench.project("pca", {}, 180)
    trail = workbench.trail(result, GaussianNoise(0.3), seed=5, followed=40)
    direct = workbench.encode(corrupt(workbench.images(40), GaussianNoise(0.3), 5))
    reference = PCA(n_components=2, random_state=0).fit(workbench.latents(180))
    assert np.allclose(np.abs(trail.corrupted), np.abs(reference.transform(direct)), atol=1e-3)
    assert np.array_equal(trail.clean, result.coordinates[:40])


@pytest.mark.parametrize("method", ["umap", "tsne"])
def test_an_uncorrupted_image_is_placed_on_its_own_point(workbench, method):
    result = workbench.project(method, {}, 180)
    placed = result.projector.transform(workbench.latents(180)[:50])
    spread = np.linalg.norm(result.coordinates.max(0) - result.coordinates.min(0))
    assert np.median(np.linalg.norm(placed - result.coordinates[:50], axis=1)) < 0.03 * spread


def test_no_corruption_flips_nothing_and_stronger_noise_moves_and_flips_more(workbench):
    result = workbench.project("pca", {}, 180)
    none, light, heavy = (workbench.trail(result, GaussianNoise(sigma), 0, 150) for sigma in (0.0, 0.1, 0.8))
    assert none.flip_share == 0 and none.latent_shift == pytest.approx(0, abs=FLOAT32_SCORE)
    assert light.latent_shift < heavy.latent_shift and light.flip_share < heavy.flip_share
    assert heavy.accuracy_corrupted < heavy.accuracy_clean
    assert len(heavy.flipped) == 150 and heavy.corrupted.shape == (150, 2)


def test_trails_are_kept_with_their_map(workbench):
    result = workbench.project("pca", {}, 180)
    erasing = RandomErasing(1.0)
    assert workbench.trail(result, erasing, 1, 30) is workbench.trail(result, erasing, 1, 30)
    assert workbench.trail(result, erasing, 2, 30) is not workbench.trail(result, erasing, 1, 30)


def test_a_vote_leaves_out_the_query_s_own_clean_image():
    reference = np.array([[0.0], [0.1], [5.0], [5.1], [5.2], [5.3], [5.4], [9.0]])
    labels = np.array([0, 0, 1, 1, 1, 1, 1, 2])
    # Query 0 is a copy of reference 0 (label 0): without its own point, its neighbours are mostly label 1.
    assert neighbour_vote(reference, labels, reference[:1]).tolist() == [1]


def test_the_vote_asks_exactly_the_nearest_neighbours():
    """NEIGHBOURS points of class 1 nearest the query, one more of class 2 just behind them: a vote that
    asked more neighbours than NEIGHBOURS would turn to class 2."""
    query = np.zeros((1, 1))
    reference = np.concatenate([query, np.arange(1, NEIGHBOURS + 1)[:, None],
                                np.arange(NEIGHBOURS + 1, 2 * NEIGHBOURS + 2)[:, None]]).astype(float)
    labels = np.array([0] + [1] * NEIGHBOURS + [2] * (NEIGHBOURS + 1))
    assert neighbour_vote(reference, labels, query).tolist() == [1]


def test_decoded_grid_has_one_image_per_grid_position(workbench):
    result = workbench.project("pca", {}, 180)
    grid = workbench.decoded_grid(result, 4)
    assert grid.shape == (16, *workbench.images(1).shape[1:])
    positions = result.grid_positions(4)
    assert np.allclose(positions[0], [result.coordinates[:, 0].min(), result.coordinates[:, 1].max()])
    assert np.allclose(positions[-1], [result.coordinates[:, 0].max(), result.coordinates[:, 1].min()])
