"""Input corruptions for denoising: Gaussian noise and random erasing, seeded and batch-wise.

A denoiser's inputs are corrupted and its target is the clean image; the seed S3's own protocol
corrupts the target too (``TrainConfig.target``). Random erasing follows
torchvision's ``RandomErasing`` (same probability, scale, ratio and 10-attempt rule) but draws the
boxes for a whole batch at once, so it costs a few tensor operations instead of a Python loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GaussianNoise:
    """Add N(0, sigma^2) noise and clamp to [0, 1]."""

    sigma: float

    def __post_init__(self):
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"Gaussian sigma must be a number >= 0, got {self.sigma}")

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        device = generator.device if generator is not None else images.device
        noise = torch.randn(images.shape, generator=generator, device=device, dtype=images.dtype)
        return (images + self.sigma * noise.to(images.device)).clamp_(0.0, 1.0)

    def describe(self) -> str:
        return f"gaussian:{self.sigma:g}"


@dataclass(frozen=True)
class RandomErasing:
    """Erase one random rectangle per image with probability ``p`` (torchvision's semantics)."""

    p: float = 0.5
    scale: tuple[float, float] = (0.02, 0.33)
    ratio: tuple[float, float] = (0.3, 3.3)
    value: float = 0.0
    attempts: int = 10

    def __post_init__(self):
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"erasing probability must be in [0, 1], got {self.p}")
        if not 0.0 < self.scale[0] <= self.scale[1] <= 1.0:
            raise ValueError(f"erasing scale must satisfy 0 < min <= max <= 1, got {self.scale}")
        if not 0.0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"erasing ratio must satisfy 0 < min <= max, got {self.ratio}")

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        mask = self.erase_mask(images.shape[0], images.shape[-2], images.shape[-1], generator).to(images.device)
        return images.masked_fill(mask[:, None], self.value)

    def erase_mask(self, count: int, height: int, width: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Boolean (count, height, width) mask of the erased pixels, drawn on the CPU for reproducibility."""
        area = height * width
        shape = (count, self.attempts)
        target_area = area * _uniform(shape, *self.scale, generator)
        log_ratio = _uniform(shape, math.log(self.ratio[0]), math.log(self.ratio[1]), generator)
        aspect = torch.exp(log_ratio)
        box_h = torch.sqrt(target_area * aspect).round().long()
        box_w = torch.sqrt(target_area / aspect).round().long()
        fits = (box_h < height) & (box_w < width)
        first_fit = torch.where(fits.any(1), fits.float().argmax(1), torch.full((count,), -1))
        chosen = first_fit >= 0
        applied = (torch.rand(count, generator=generator) < self.p) & chosen
        rows = torch.arange(count)
        h = torch.where(chosen, box_h[rows, first_fit.clamp(min=0)], 0)
        w = torch.where(chosen, box_w[rows, first_fit.clamp(min=0)], 0)
        top = (torch.rand(count, generator=generator) * (height - h + 1)).floor().long()
        left = (torch.rand(count, generator=generator) * (width - w + 1)).floor().long()
        y = torch.arange(height)[None, :, None]
        x = torch.arange(width)[None, None, :]
        inside = ((y >= top[:, None, None]) & (y < (top + h)[:, None, None])
                  & (x >= left[:, None, None]) & (x < (left + w)[:, None, None]))
        return inside & applied[:, None, None]

    def describe(self) -> str:
        return f"erasing:{self.p:g}"


Corruption = GaussianNoise | RandomErasing


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator)


def parse_corruption(text: str | None) -> Corruption | None:
    """Parse ``gaussian:SIGMA`` or ``erasing:P`` (as the CLI and model cards write them)."""
    if not text or text in ("none", "clean"):
        return None
    kind, _, value = text.partition(":")
    try:
        amount = float(value)
    except ValueError:
        raise ValueError(f"bad corruption {text!r}: use gaussian:SIGMA or erasing:P, e.g. gaussian:0.1") from None
    if kind == "gaussian":
        return GaussianNoise(amount)
    if kind == "erasing":
        return RandomErasing(p=amount)
    raise ValueError(f"bad corruption kind {kind!r}: use gaussian:SIGMA or erasing:P")


def corrupt(images: torch.Tensor, corruption: Corruption | None, seed: int) -> torch.Tensor:
    """Corrupt a batch reproducibly: the same seed corrupts the same images the same way, on any model."""
    if corruption is None:
        return images
    return corruption(images, torch.Generator().manual_seed(seed))
