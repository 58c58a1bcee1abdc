"""Image conversions between tensors, displayable arrays and user uploads."""
from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from PIL import Image


SPRITE_COLUMNS = 100
# An upload is checked against these before its pixels are decoded: a 12-megapixel phone photo fits, a
# 1.9 KB PNG declaring 30000 x 60 pixels (a strip that padding to a square would turn into 900 megapixels)
# does not. Decoding the largest allowed picture costs at most ~75 MB (RGB, 8 bits).
MAX_UPLOAD_PIXELS = 25_000_000
MAX_UPLOAD_SIDE = 10_000
# Shrunk to this before it is centred on a square canvas: enough detail for a 32-pixel model input.
WORKING_SIDE = 256


class ImageFormatError(ValueError):
    """An uploaded file is not an image we can read, or is larger than an upload may be."""


def to_display(images: torch.Tensor) -> list[np.ndarray]:
    """(N, C, H, W) floats in [0, 1] -> uint8 arrays (H, W) or (H, W, 3) for st.image."""
    # NumPy, not torch: for a handful of small images torch's per-operation overhead dominates.
    array = np.rint(np.clip(images.detach().cpu().numpy(), 0, 1) * 255).astype(np.uint8)
    return [item[0] if item.shape[0] == 1 else item.transpose(1, 2, 0) for item in array]


def png(picture: np.ndarray) -> bytes:
    """One displayable uint8 picture as PNG bytes: what a browser is sent, encoded once and kept."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def tile(images: torch.Tensor, rows: int) -> np.ndarray:
    """(rows * columns, C, H, W) images -> one uint8 picture, row by row: a decoded grid as a single image."""
    pictures = np.stack(to_display(images))
    columns = len(pictures) // rows
    if rows * columns != len(pictures):
        raise ValueError(f"{len(pictures)} images do not fill {rows} rows")
    height, width = pictures.shape[1:3]
    grid = pictures.reshape(rows, columns, height, width, *pictures.shape[3:]).swapaxes(1, 2)
    return grid.reshape(rows * height, columns * width, *pictures.shape[3:])


def sprite_webp(images: torch.Tensor, columns: int = SPRITE_COLUMNS) -> bytes:
    """Many small images as one WebP picture, ``columns`` per row (the last row padded with black): a
    browser fetches one file and crops the image it needs, as the hover previews do. Lossy WebP at
    quality 80 is half the size of PNG (2,000 Fashion-MNIST images: 0.40 MB against 0.81 MB)."""
    from PIL import Image

    rows = -(-len(images) // columns)
    padded = torch.cat([images, images.new_zeros(rows * columns - len(images), *images.shape[1:])])
    buffer = io.BytesIO()
    Image.fromarray(tile(padded, rows)).save(buffer, format="WEBP", quality=80)
    return buffer.getvalue()


def open_upload(data: bytes, mode: str) -> Image.Image:
    """An uploaded picture in ``mode`` ("L" or "RGB"), at most ``WORKING_SIDE`` pixels a side.

    The declared size is checked before any pixel is decoded, and the picture is shrunk as it is
    decoded (JPEG) or right after, so no upload costs the server more than its own decoded pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        picture = Image.open(io.BytesIO(data))  # reads the header only
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise ImageFormatError(f"not a readable image file ({error})") from None
    check_upload_size(*picture.size)
    try:
        picture.draft(mode, (WORKING_SIDE, WORKING_SIDE))  # JPEG: decode at a reduced scale
        picture.load()
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ImageFormatError(f"not a readable image file ({error})") from None
    picture = picture.convert(mode)
    picture.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.LANCZOS)
    return picture


def check_upload_size(width: int, height: int) -> None:
    """Refuse a picture whose declared size passes the upload budget, naming the limit."""
    if max(width, height) > MAX_UPLOAD_SIDE or width * height > MAX_UPLOAD_PIXELS:
        raise ImageFormatError(f"the picture is {width} x {height} pixels; uploads may have at most "
                               f"{MAX_UPLOAD_SIDE:,} pixels a side and {MAX_UPLOAD_PIXELS / 1e6:g} megapixels in all")
