import pytest
import torch
from torchvision.transforms import RandomErasing as TorchvisionErasing

from explorer.corruption import GaussianNoise, RandomErasing, corrupt, parse_corruption


def test_gaussian_noise_has_the_asked_std_and_stays_in_range():
    images = torch.full((200, 1, 28, 28), 0.5)
    noisy = GaussianNoise(0.1)(images.clone(), torch.Generator().manual_seed(0))
    assert abs((noisy - images).std().item() - 0.1) < 0.002
    heavy = GaussianNoise(1.0)(images.clone(), torch.Generator().manual_seed(0))
    assert heavy.min() >= 0 and heavy.max() <= 1 and (heavy == 0).any()


def test_erased_area_matches_torchvision_statistics():
    ours = RandomErasing(p=1.0).erase_mask(20000, 28, 28, torch.Generator().manual_seed(0)).float().mean((1, 2))
    torch.manual_seed(0)
    reference = torch.stack([(TorchvisionErasing(p=1.0)(torch.ones(1, 28, 28)) == 0).float().mean()
                             for _ in range(20000)])
    assert abs(ours.mean() - reference.mean()) < 0.004
    assert abs(ours.std() - reference.std()) < 0.004
    assert 0 < ours.min() and ours.max() < 0.4, "rounding the box sides moves areas a little past scale"


def test_erasing_probability_and_rectangles():
    masks = RandomErasing(p=0.3).erase_mask(10000, 28, 28, torch.Generator().manual_seed(1))
    erased = masks.any((1, 2)).float().mean().item()
    assert abs(erased - 0.3) < 0.02
    one = masks[masks.any((1, 2))][0]
    rows, cols = one.any(1).nonzero().flatten(), one.any(0).nonzero().flatten()
    assert one.sum() == len(rows) * len(cols), "the erased region is one rectangle"


def test_corruption_is_seeded_and_leaves_the_input_alone():
    images = torch.rand(8, 1, 28, 28)
    original = images.clone()
    for corruption in (GaussianNoise(0.3), RandomErasing(0.8)):
        first, second = corrupt(images.clone(), corruption, 7), corrupt(images.clone(), corruption, 7)
        assert torch.equal(first, second) and not torch.equal(first, images)
        assert not torch.equal(first, corrupt(images.clone(), corruption, 8))
        corruption(images, torch.Generator().manual_seed(0))
        assert torch.equal(images, original)


@pytest.mark.parametrize("text, expected", [("gaussian:0.5", GaussianNoise(0.5)), ("erasing:0.2", RandomErasing(0.2)),
                                            (None, None), ("clean", None)])
def test_parse(text, expected):
    assert parse_corruption(text) == expected


@pytest.mark.parametrize("text", ["gauss:1", "gaussian:abc", "erasing:2", "gaussian:-1"])
def test_parse_refuses_bad_text(text):
    with pytest.raises(ValueError):
        parse_corruption(text)
