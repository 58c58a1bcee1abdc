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
def bench():
    torch.manual_seed(0)
    digits = load_dataset("digits")
    return Workbench(create_model("s4-conv-392").eval(), digits.test.subset(300), digits.class_names)


def test_latents_grow_without_re_encoding(bench, monkeypatch):
    encoded = []
    original = bench.model.encode
    monkeypatch.setattr(bench.model, "encode", lambda images: encoded.append(len(images)) or original(images))
    small, large = bench.latents(100), bench.latents(150)
    assert sum(encoded) == 150, "the first 100 images are not encoded again"
    reference = encode_all(bench.model, bench.images(150))
    assert np.allclose(large, reference, atol=1e-6) and np.array_equal(small, large[:100])


def test_ssim_scores_from_latents_equal_a_full_forward_pass(bench):
    images = bench.images(150)
    reference = reconstruction_scores(images, reconstruct_all(bench.model, images))["ssim"]
    assert np.allclose(bench.ssim_scores(150), reference, atol=FLOAT32_SCORE)


def test_pictures_beside_scores_are_the_ones_that_earned_them(bench):
    noise = GaussianNoise(0.4)
    scores = bench.scores(150, noise, seed=3)["ssim"]
    picked = np.argsort(scores)[::-1][:5]
    _, outputs = bench.reconstruct_scored(150, picked, noise, seed=3)
    assert np.allclose(ssim(bench.pool.take(picked).as_tensor(), outputs).numpy(), scores[picked], atol=FLOAT32_SCORE)
    assert bench.quality(150, noise, seed=3)["ssim"] == pytest.approx(scores.mean(), rel=FLOAT32_MEAN)


def test_map_quality_is_kept_with_its_map(bench):
    result = bench.project("pca", {}, 150)
    quality = bench.map_quality(result)
    assert result.quality is quality and bench.project("pca", {}, 150) is result
    assert 0 <= quality["knn_map"] <= quality["knn_latent"] + 0.2 and 0.5 < quality["trustworthiness"] <= 1


def test_interpolation_starts_and_ends_at_the_two_images(bench):
    frames = bench.interpolate(3, 40, 5)
    ends = bench.decode(bench.latents(41)[[3, 40]])
    assert frames.shape == (5, 1, 28, 28) and torch.allclose(frames[[0, -1]], ends, atol=1e-6)
