import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from explorer.metrics import SSIM_CHUNK, knn_accuracy, psnr, retrieval, ssim, trustworthiness


def _pairs(count=300, seed=0):
    rng = np.random.default_rng(seed)
    clean = rng.random((count, 1, 28, 28))
    noisy = np.clip(clean * rng.random((count, 1, 1, 1)) + 0.2 * rng.normal(size=clean.shape), 0, 1)
    return clean, noisy


def test_ssim_equals_scikit_image():
    clean, noisy = _pairs()
    ours = ssim(torch.from_numpy(clean), torch.from_numpy(noisy)).numpy()
    reference = np.array([structural_similarity(a[0], b[0], data_range=1.0) for a, b in zip(clean, noisy)])
    assert abs(ours.mean() - reference.mean()) < 1e-6
    assert np.max(np.abs(ours - reference)) < 1e-6


def test_ssim_of_colour_images_averages_channels_like_scikit_image():
    rng = np.random.default_rng(1)
    first, second = rng.random((2, 3, 32, 32)), rng.random((2, 3, 32, 32))
    ours = ssim(torch.from_numpy(first), torch.from_numpy(second)).numpy()
    reference = [structural_similarity(a, b, data_range=1.0, channel_axis=0) for a, b in zip(first, second)]
    assert np.allclose(ours, reference, atol=1e-6)


def test_ssim_of_non_square_images_across_chunks_equals_scikit_image():
    rng = np.random.default_rng(2)
    first = rng.random((SSIM_CHUNK + 3, 1, 20, 33))
    second = np.clip(first + rng.normal(scale=0.2, size=first.shape), 0, 1)
    ours = ssim(torch.from_numpy(first), torch.from_numpy(second)).numpy()
    reference = [structural_similarity(a[0], b[0], data_range=1.0) for a, b in zip(first, second)]
    assert ours.shape == (SSIM_CHUNK + 3,) and np.max(np.abs(ours - reference)) < 1e-6


def test_ssim_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="equal shapes"):
        ssim(torch.zeros(1, 1, 28, 28), torch.zeros(1, 1, 27, 28))


def test_psnr_matches_scikit_image():
    clean, noisy = _pairs(5)
    ours = psnr(torch.from_numpy(clean), torch.from_numpy(noisy)).numpy()
    assert np.allclose(ours, [peak_signal_noise_ratio(a, b, data_range=1.0) for a, b in zip(clean, noisy)])


def test_retrieval_and_knn_on_separable_clusters():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    centres = np.eye(4) * 10
    points = centres[labels] + rng.normal(size=(200, 4))
    accuracy, confusion = retrieval(points, labels, 4)
    assert accuracy > 0.95 and confusion.sum() == 200 and np.trace(confusion) == round(accuracy * 200)
    assert knn_accuracy(points, labels) > 0.95
    shuffled = rng.permutation(labels)
    assert knn_accuracy(points, shuffled) < 0.5


def test_trustworthiness_is_one_for_an_isometry_and_lower_for_noise():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(200, 2))
    assert trustworthiness(np.hstack([points, np.zeros((200, 3))]), points) > 0.999
    assert trustworthiness(points, rng.normal(size=(200, 2))) < 0.7


def test_anchor_positive_accuracy_is_one_for_separated_classes_and_chance_for_noise():
    from explorer.metrics import anchor_positive_accuracy

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    separated = np.eye(4)[labels] + rng.normal(scale=0.05, size=(200, 4))
    assert anchor_positive_accuracy(separated, labels, 4) == 1.0
    noise = rng.normal(size=(200, 8))
    assert abs(anchor_positive_accuracy(noise, labels, 4, batches=2000) - 0.25) < 0.03
    with pytest.raises(ValueError, match="at least two images"):
        anchor_positive_accuracy(separated[:101], labels[:101], 4)
