"""Watch a latent space form: a fixed probe set's latents after every epoch, and the layouts that replay them.

While a run trains, ``ProbeRecorder.record`` encodes the probe set (validation images chosen with the
run's seed) after each epoch and reconstructs a few of them; the run keeps the record beside its
checkpoint. ``aligned_layouts`` turns the record into one 2-D layout per epoch: each is its epoch's
PCA, scaled to a unit spread and rotated (orthogonal Procrustes) onto the previous epoch's layout,
so a point moves only as much as its place among the others changed.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .datasets import ImageSet
from .inference import encode_all, reconstruct_all
from .metrics import knn_accuracy

PROBE_IMAGES = 1000
SHOWN_IMAGES = 8


def choose_probe(val: ImageSet, seed: int, count: int = PROBE_IMAGES) -> ImageSet:
    """The run's probe: up to ``count`` validation images, drawn with the run's seed, in index order."""
    return val.subset(count, seed=seed)


def _as_uint8(images: torch.Tensor) -> np.ndarray:
    return images.clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()


@dataclass
class ProbeRecord:
    """Per epoch: the probe's latents (float16) and the reconstructions of its first few images (uint8)."""

    labels: np.ndarray
    shown: np.ndarray  # the first SHOWN_IMAGES probe images, as the student sees them
    latents: list[np.ndarray] = field(default_factory=list)
    reconstructions: list[np.ndarray] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # what recording each epoch cost

    @property
    def epochs(self) -> int:
        return len(self.latents)

    def knn_accuracies(self) -> list[float]:
        """5-NN accuracy of the probe in latent space, per epoch: how well the classes have separated."""
        return [knn_accuracy(latents.astype(np.float32), self.labels) for latents in self.latents]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        reconstructions = (np.stack(self.reconstructions) if self.reconstructions
                           else np.zeros((0, *self.shown.shape), np.uint8))
        np.savez_compressed(buffer, labels=self.labels, shown=self.shown, latents=np.stack(self.latents),
                            reconstructions=reconstructions, seconds=np.asarray(self.seconds))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "ProbeRecord":
        with np.load(io.BytesIO(data), allow_pickle=False) as saved:
            return cls(saved["labels"], saved["shown"], list(saved["latents"]), list(saved["reconstructions"]),
                       saved["seconds"].tolist())


class ProbeRecorder:
    """Records a probe set after each epoch of one run; ``latest_layout`` is what the Train page draws live."""

    def __init__(self, probe: ImageSet, decodes: bool):
        self.images = probe.as_tensor()
        self.decodes = decodes
        self.record = ProbeRecord(probe.labels.copy(), probe.images[:SHOWN_IMAGES].copy())

    def after_epoch(self, model: nn.Module) -> None:
        """Encode the probe with the epoch's weights; the model is back in training mode afterwards."""
        started = time.perf_counter()
        self.record.latents.append(encode_all(model, self.images).astype(np.float16))
        if self.decodes:
            self.record.reconstructions.append(_as_uint8(reconstruct_all(model, self.images[:SHOWN_IMAGES])))
        model.train()
        self.record.seconds.append(time.perf_counter() - started)

    def latest_layout(self) -> np.ndarray | None:
        return aligned_layouts(self.record.latents[-1:])[0] if self.record.latents else None


def pca_layout(latents: np.ndarray) -> np.ndarray:
    """The latents' first two principal components, scaled so the points' RMS distance from their mean is 1."""
    centred = latents.astype(np.float64) - latents.astype(np.float64).mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    layout = centred @ components[:2].T
    spread = np.sqrt((layout ** 2).sum(axis=1).mean())
    return layout / spread if spread > 0 else layout


def procrustes_rotation(moving: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """The orthogonal matrix R that brings ``moving @ R`` closest to ``fixed`` (Schoenemann's solution)."""
    u, _, vt = np.linalg.svd(moving.T @ fixed)
    return u @ vt


def aligned_layouts(latents_per_epoch: list[np.ndarray]) -> list[np.ndarray]:
    """One layout per epoch, each rotated or mirrored onto the one before it (orthogonal Procrustes)."""
    layouts: list[np.ndarray] = []
    for latents in latents_per_epoch:
        layout = pca_layout(latents)
        if layouts:
            layout = layout @ procrustes_rotation(layout, layouts[-1])
        layouts.append(layout)
    return layouts
