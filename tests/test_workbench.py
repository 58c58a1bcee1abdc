import numpy as np
import pytest
import torch

from explorer.corruption import GaussianNoise
from explorer.datasets import load_dataset
from explorer.metrics import reconstruction_scores, ssim
from explorer.models import create_model
from explorer.inference import encode_all, reconstruct_all
from explorer.workbench import Workbench
from tolerance import FLOAT32_MEAN, FLOAT32_SCORE


@pytest.fixture()
def workbench():
    torch.manual_seed(0)
    digits = load_dataset("digits")
    return Workbench(create_model("s4-conv-392").eval(), digits.test.subset(300), digits.class_names)


def test_latents_grow_without_re_encoding(workbench, monkeypatch):
    encoded = []
    original = workbench.model.encode
    monkeypatch.setattr(workbench.model, "encode", lambda images: encoded.append(len(images)) or original(images))
    small, large = workbench.latents(100), workbench.latents(150)
    assert sum(encoded) == 150, "the first 100 images are not encoded again"
    reference = encode_all(workbench.model, workbench.images(150))
    assert np.allclose(large, reference, atol=1e-6) and np.array_equal(small, large[:100])


def test_ssim_scores_from_latents_equal_a_full_forward_pass(workbench):
    images = workbench.images(150)
    reference = reconstruction_scores(images, reconstruct_all(workbench.model, images))["ssim"]
    assert np.allclose(workbench.ssim_scores(150), reference, atol=FLOAT32_SCORE)


def test_pictures_beside_scores_are_the_ones_that_earned_them(workbench):
    noise = GaussianNoise(0.4)
    scores = workbench.scores(150, noise, seed=3)["ssim"]
    picked = np.argsort(scores)[::-1][:5]
    _, outputs = workbench.reconstruct_scored(150, picked, noise, seed=3)
    assert np.allclose(ssim(workbench.pool.take(picked).as_tensor(), outputs).numpy(), scores[picked], atol=FLOAT32_SCORE)
    assert workbench.quality(150, noise, seed=3)["ssim"] == pytest.approx(scores.mean(), rel=FLOAT32_MEAN)


def test_map_quality_is_kept_with_its_map(workbench):
    result = workbench.project("pca", {}, 150)
    quality = workbench.map_quality(result)
    assert result.quality is quality and workbench.project("pca", {}, 150) is result
    assert 0 <= quality["knn_map"] <= quality["knn_latent"] + 0.2 and 0.5 < quality["trustworthiness"] <= 1


def test_interpolation_starts_and_ends_at_the_two_images(workbench):
    frames = workbench.interpolate(3, 40, 5)
    ends = workbench.decode(workbench.latents(41)[[3, 40]])
    assert frames.shape == (5, 1, 28, 28) and torch.allclose(frames[[0, -1]], ends, atol=1e-6)
