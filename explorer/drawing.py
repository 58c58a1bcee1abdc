"""A student's own picture (drawn on the canvas, photographed or uploaded) made like the dataset's images.

A model only knows pictures made the way its dataset's were: MNIST draws a light digit on black in a
20-pixel box centred by its centre of mass, Fashion-MNIST fills the frame with the product's longer
side, CIFAR-10 and Sign-MNIST are photos kept whole (``datasets.ImageStyle``). A drawing differs from
those in size, contrast and place; these functions undo the differences before the model sees it.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .datasets import ImageStyle
from .images import ImageFormatError, open_upload

# Below this much contrast between the object and its background there is nothing to place (an empty canvas).
MIN_INK = 0.1
# A pixel belongs to the object's box when it is this much lighter than the background (after stretching).
INK_THRESHOLD = 0.05


class NothingDrawn(ImageFormatError):
    """The canvas or photo holds no object to place: an empty canvas, a blank page."""


def from_upload(data: bytes, style: ImageStyle, channels: int, size: int) -> torch.Tensor:
    """An image file or a camera photo as a (1, C, size, size) tensor made like the dataset's images."""
    return as_model_input(open_upload(data, "L" if channels == 1 else "RGB"), style, channels, size)


def from_canvas(rgba: np.ndarray, background: str, style: ImageStyle, channels: int, size: int) -> torch.Tensor:
    """The canvas's RGBA pixels, laid on its background colour, as the model's input."""
    layer = Image.fromarray(np.ascontiguousarray(rgba, dtype=np.uint8)).convert("RGBA")
    flat = Image.alpha_composite(Image.new("RGBA", layer.size, background), layer)
    return as_model_input(flat.convert("L" if channels == 1 else "RGB"), style, channels, size)


def as_model_input(picture: Image.Image, style: ImageStyle, channels: int, size: int) -> torch.Tensor:
    """One picture (mode L for one channel, RGB for three) as a (1, C, size, size) tensor in [0, 1]."""
    pixels = np.asarray(picture, dtype=np.float32) / 255.0
    if channels == 1 and style.light_on_dark and np.median(_border(pixels)) > 0.5:
        pixels = 1.0 - pixels  # dark ink on white paper: the dataset has light on black
    if style.object_side is not None and channels == 1:
        pixels = _object_fitted(pixels, style, size)
    else:
        pixels = _photo_fitted(pixels, size)
    pixels = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None]


def _object_fitted(pixels: np.ndarray, style: ImageStyle, size: int) -> np.ndarray:
    """The object cut out by its box, its contrast stretched (a pencil photo's grey strokes become the
    dataset's white), scaled to the style's share of the side and centred as the dataset centres."""
    ink = np.clip(pixels - np.median(_border(pixels)), 0.0, None).astype(np.float32)
    if ink.max() < MIN_INK:
        raise NothingDrawn("there is nothing to place yet: the picture is empty")
    ink /= ink.max()
    rows, columns = np.nonzero(ink > INK_THRESHOLD)
    cut = ink[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    scale = style.object_side * size / max(cut.shape)
    height, width = (max(1, min(size, round(side * scale))) for side in cut.shape)
    shrinking = scale < 1
    scaled = np.asarray(Image.fromarray(np.ascontiguousarray(cut)).resize(
        (width, height), Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR), dtype=np.float32)
    if style.centre_of_mass:
        weights = scaled / max(float(scaled.sum()), 1e-12)
        centre = np.array([(weights.sum(1) * np.arange(height)).sum(), (weights.sum(0) * np.arange(width)).sum()])
        top, left = np.rint(size / 2 - centre).astype(int)  # MNIST: the centre of mass on pixel (14, 14)
    else:
        top, left = (size - height + 1) // 2, (size - width + 1) // 2  # an odd margin's extra pixel above, as Fashion-MNIST
    top, left = int(np.clip(top, 0, size - height)), int(np.clip(left, 0, size - width))
    frame = np.zeros((size, size), dtype=np.float32)
    frame[top:top + height, left:left + width] = np.clip(scaled, 0.0, 1.0)
    return frame


def _photo_fitted(pixels: np.ndarray, size: int) -> np.ndarray:
    """A photo kept whole: centred on a square of its border's colour, so nothing is stretched, then resized."""
    height, width = pixels.shape[:2]
    side = max(height, width)
    square = np.empty((side, side, *pixels.shape[2:]), dtype=np.float32)
    square[...] = np.median(_border(pixels), axis=0)
    top, left = (side - height) // 2, (side - width) // 2
    square[top:top + height, left:left + width] = pixels
    grey = square.ndim == 2
    picture = Image.fromarray(square if grey else np.rint(square * 255).astype(np.uint8))
    resized = np.asarray(picture.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32)
    return np.clip(resized if grey else resized / 255.0, 0.0, 1.0)


def _border(pixels: np.ndarray) -> np.ndarray:
    """The pixels of all four edges, one per row of the result (grey values or RGB triples): their median
    is the background, even where an object (a trouser's legs) runs off two of the edges."""
    return np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]]).reshape(-1, *pixels.shape[2:])
