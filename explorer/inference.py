"""Running a trained model over many images: encode, decode and reconstruct in memory-bounded batches.

Every page figure and every card metric goes through these three functions, so they decide the
device handling once: the model stays on the device it lives on, inputs are moved there batch by
batch, and results come back as CPU tensors or arrays.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

# Inference batches of 512 images peak at ~50 MB of activations (1,000 took ~120 MB) and run as fast.
INFERENCE_BATCH = 512


def prepare_model(model: nn.Module, device: torch.device) -> nn.Module:
    """Move the model to the device; channels-last memory makes CPU convolutions 1.3-1.6x faster here."""
    model.to(device)
    if device.type == "cpu":
        model.to(memory_format=torch.channels_last)
    return model


def to_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Images on ``device``, channels-last on the CPU to match a prepared model."""
    images = images.to(device, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last) if device.type == "cpu" else images


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def _in_batches(model: nn.Module, step: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor,
                batch_size: int, channels_last: bool = True) -> torch.Tensor:
    """Apply ``step`` to ``inputs`` batch by batch on the model's device; one float32 CPU tensor back."""
    device = model_device(model)
    model.eval()
    move = (lambda batch: to_device(batch, device)) if channels_last else (lambda batch: batch.to(device))
    return torch.cat([step(move(inputs[start:start + batch_size])).float().cpu().contiguous()
                      for start in range(0, len(inputs), batch_size)])


def encode_all(model: nn.Module, images: torch.Tensor, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
    """Flat latents of every image, in batches so 70,000 images fit in memory comfortably."""
    return _in_batches(model, model.encode, images, batch_size).numpy()


def decode_all(model: nn.Module, latents: np.ndarray, batch_size: int = INFERENCE_BATCH) -> torch.Tensor:
    """Images decoded from flat latents, in batches; decoding known latents skips the encoder pass."""
    latents = torch.as_tensor(np.atleast_2d(latents), dtype=torch.float32)
    return _in_batches(model, model.decode, latents, batch_size, channels_last=False)


def reconstruct_all(model: nn.Module, images: torch.Tensor, batch_size: int = INFERENCE_BATCH) -> torch.Tensor:
    return _in_batches(model, model, images, batch_size)
