"""Image conversions between tensors, displayable arrays and user uploads."""
from __future__ import annotations

import io

import numpy as np
import torch


class ImageFormatError(ValueError):
    """An uploaded file is not an image we can read."""


def to_display(images: torch.Tensor) -> list[np.ndarray]:
    """(N, C, H, W) floats in [0, 1] -> uint8 arrays (H, W) or (H, W, 3) for st.image."""
    array = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return [item[0] if item.shape[0] == 1 else item.transpose(1, 2, 0) for item in array]


def image_from_upload(data: bytes, channels: int, size: int) -> torch.Tensor:
    """Any image file -> a (1, C, size, size) tensor in the dataset's convention.

    MNIST-style datasets draw a light object on a dark background, so a mostly light photo is
    inverted; the picture is centred on a square canvas before resizing so nothing is stretched.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        picture = Image.open(io.BytesIO(data))
        picture.load()
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageFormatError(f"not a readable image file ({error})") from None
    picture = picture.convert("L" if channels == 1 else "RGB")
    side = max(picture.size)
    canvas = Image.new(picture.mode, (side, side), color=_border_colour(picture))
    canvas.paste(picture, ((side - picture.width) // 2, (side - picture.height) // 2))
    pixels = np.asarray(canvas.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    pixels = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    if channels == 1 and pixels.mean() > 0.5:
        pixels = 1.0 - pixels
    return torch.from_numpy(np.ascontiguousarray(pixels))[None]


def _border_colour(picture):
    array = np.asarray(picture)
    border = np.concatenate([array[0].reshape(-1, array.shape[-1] if array.ndim == 3 else 1),
                             array[-1].reshape(-1, array.shape[-1] if array.ndim == 3 else 1)])
    colour = np.median(border, axis=0).astype(int)
    return int(colour[0]) if picture.mode == "L" else tuple(int(c) for c in colour)
