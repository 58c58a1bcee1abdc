"""Everything the pages compute about one model on one image pool, memoised.

A ``Workbench`` holds a trained model and the images it is explored on (a dataset's test split, or
all of its images). Latents, reconstructions, SSIM scores and 2-D maps are computed once and reused,
so a rerun with the same choice costs a dictionary look-up. The pages never call torch directly.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from contextlib import nullcontext
from typing import Callable, ContextManager

import numpy as np
import torch
from torch import nn

from .corruption import Corruption, GaussianNoise, RandomErasing, corrupt
from .datasets import PHOTO, ImageSet, ImageStyle
from .images import sprite_webp
from .evaluation import evaluate_retrieval, reconstruct_and_score
from .inference import decode_all, encode_all, model_device, prepare_model, reconstruct_all
from .memo import SingleFlightMemo
from .metrics import knn_accuracy, nearest_neighbours, ssim, summarise, trustworthiness
from .models import model_info
from .projection import Projector, ReportProgress
from .trail import Trail, follow_corruption, typical_neighbour_distance

# Shared by every session exploring a shipped model, so bounded: a 70,000-point UMAP keeps its fitted
# estimator (~30 MB); score sets are 3 floats per image (10,000 images: 240 KB); a decoded grid of
# 25 x 25 Fashion-MNIST images is 2 MB.
MAX_CACHED_MAPS = 8
MAX_CACHED_SCORES = 32
MAX_LOOKUPS = 32
MAX_SPRITE_SETS = 4  # hover sprites per map size (~0.8 MB for 2,000 images): re-encoding them costs ~0.8 s
MAX_SHOWN_SETS = 64  # a few dozen images each: what the pages show, per corruption
MAX_LAYERS_PER_MAP = 16


@dataclass
class MapResult:
    """A fitted map, with the data computed on it (trails, decoded grids): kept and dropped with it."""

    coordinates: np.ndarray
    projector: Projector
    seconds: float
    quality: dict[str, float] | None = None
    layers: SingleFlightMemo = field(default_factory=lambda: SingleFlightMemo(MAX_LAYERS_PER_MAP), repr=False)

    @property
    def invertible(self) -> bool:
        """Whether a map position can be decoded (PCA, UMAP; not t-SNE)."""
        return self.projector.invertible

    def grid_positions(self, density: int) -> np.ndarray:
        """``density`` x ``density`` map positions spanning the points, row by row from the top left."""
        low, high = self.coordinates.min(axis=0), self.coordinates.max(axis=0)
        xs = np.linspace(low[0], high[0], density)
        ys = np.linspace(high[1], low[1], density)
        return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(np.float32)


@dataclass
class Workbench:
    model: nn.Module
    pool: ImageSet
    class_names: tuple[str, ...]
    style: ImageStyle = PHOTO  # how the dataset's pictures look: a student's drawing is made like them
    _per_image_values: dict = field(default_factory=dict, repr=False)
    _per_image_locks: dict = field(default_factory=lambda: {"latents": threading.Lock(), "ssim": threading.Lock()},
                               repr=False)
    _measures: SingleFlightMemo = field(default_factory=lambda: SingleFlightMemo(MAX_CACHED_SCORES), repr=False)
    _sprites: SingleFlightMemo = field(default_factory=lambda: SingleFlightMemo(MAX_SPRITE_SETS), repr=False)
    _shown: SingleFlightMemo = field(default_factory=lambda: SingleFlightMemo(MAX_SHOWN_SETS), repr=False)
    # neighbours, similar images, interpolation steps
    _lookups: SingleFlightMemo = field(default_factory=lambda: SingleFlightMemo(MAX_LOOKUPS), repr=False)
    _maps: SingleFlightMemo = field(default_factory=lambda: SingleFlightMemo(MAX_CACHED_MAPS), repr=False)
    _quality_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        # Channels-last on its current device (pages hand it CPU tensors): ~20 % faster CPU inference.
        prepare_model(self.model, model_device(self.model))

    @property
    def can_decode(self) -> bool:
        return model_info(self.model.model_id).is_autoencoder

    def encode(self, images: torch.Tensor) -> np.ndarray:
        """Latents of images from outside the pool (an upload, a corrupted batch)."""
        return encode_all(self.model, images)

    def images(self, count: int | None = None) -> torch.Tensor:
        return self.pool.take(np.arange(self._count(count))).as_tensor()

    def labels(self, count: int | None = None) -> np.ndarray:
        return self.pool.labels[:self._count(count)]

    def names_of(self, indices) -> list[str]:
        """The class names of these images, for the words that stand in for their pictures."""
        return [self.class_names[label] for label in self.pool.labels[np.asarray(indices, dtype=np.int64)]]

    def _count(self, count: int | None) -> int:
        return len(self.pool) if count is None else min(count, len(self.pool))

    def _per_image(self, name: str, count: int, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The first ``count`` values of a per-image quantity, computing only those not known yet.

        A 2,000-point map followed by a 10,000-point one encodes each image once, and sessions asking
        at the same moment wait for one computation.
        """
        with self._per_image_locks[name]:
            known = self._per_image_values.get(name)
            start = 0 if known is None else len(known)
            if start < count:
                fresh = compute(np.arange(start, count))
                known = fresh if known is None else np.concatenate([known, fresh])
                self._per_image_values[name] = known
            return known[:count]

    def latents(self, count: int | None = None) -> np.ndarray:
        return self._per_image("latents", self._count(count),
                           lambda indices: encode_all(self.model, self.pool.take(indices).as_tensor()))

    def ssim_scores(self, count: int | None = None) -> np.ndarray:
        """Clean-reconstruction SSIM of every pool image (NaN for a model without a decoder)."""
        count = self._count(count)
        if not self.can_decode:
            return np.full(count, np.nan)
        return self._per_image("ssim", count, lambda indices: ssim(
            self.pool.take(indices).as_tensor(), self.decode(self.latents(indices[-1] + 1)[indices])).numpy())

    def reconstruct(self, indices: np.ndarray, corruption: Corruption | None = None,
                    seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, dict[str, np.ndarray]]:
        """Corrupted inputs, reconstructions and per-image scores for chosen pool images (kept: a page shows
        the same few on every rerun)."""
        indices = _as_key(indices)
        return self._shown.get(("reconstructed", indices, corruption, seed), lambda: reconstruct_and_score(
            self.model, self.originals(indices), corruption, seed))

    def originals(self, indices) -> torch.Tensor:
        """Chosen pool images, the same tensor on every rerun (so what is drawn from it can be kept too)."""
        indices = _as_key(indices)
        return self._shown.get(("originals", indices),
                               lambda: self.pool.take(np.array(indices, dtype=np.int64)).as_tensor())

    def scores(self, count: int, corruption: Corruption | None = None, seed: int = 0) -> dict[str, np.ndarray]:
        """Per-image MSE, PSNR and SSIM of the first ``count`` pool images under a corruption."""
        count = self._count(count)
        return self._measures.get(("scores", count, corruption, seed),
                                 lambda: reconstruct_and_score(self.model, self.images(count), corruption, seed)[2])

    def quality(self, count: int, corruption: Corruption | None = None, seed: int = 0) -> dict[str, float]:
        return summarise(self.scores(count, corruption, seed))

    def reconstruct_scored(self, count: int, indices: np.ndarray, corruption: Corruption | None = None,
                           seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and reconstructions of some of the images ``scores(count, ...)`` measured.

        The first ``count`` images are corrupted together, exactly as for the scores, so a picture
        shown beside its score is the one that earned it.
        """
        inputs = corrupt(self.images(count), corruption, seed)[np.array(indices)]
        return inputs, reconstruct_all(self.model, inputs)

    def project(self, method: str, params: dict, count: int, random_state: int = 0,
                progress: ReportProgress | None = None, corruption: Corruption | None = None) -> MapResult:
        """The map of the first ``count`` latents (of the images under ``corruption``, if given, as S3's
        seed maps each model's own corrupted test set); ``progress`` hears from the fit if this caller runs it."""
        count = self._count(count)
        # With ``progress`` the fit runs in its own thread and reports here; the caller shows the latest
        # report while it waits, and may leave without the work being lost (see ``SingleFlightMemo.get``).
        latest = [(0.0, "encoding and starting")]
        return self._maps.get((method, tuple(sorted(params.items())), count, random_state, corruption),
                              lambda: self._fit_map(method, params, count, random_state,
                                                    lambda *report: latest.append(report), corruption),
                              wait=(lambda: progress(*latest[-1])) if progress else None)

    def _fit_map(self, method: str, params: dict, count: int, random_state: int,
                 progress: ReportProgress | None, corruption: Corruption | None) -> MapResult:
        latents = self.latents(count) if corruption is None else self.encode(corrupt(self.images(count), corruption, 0))
        started = time.perf_counter()
        projector = Projector(method, dict(params), random_state)
        return MapResult(projector.fit_transform(latents, progress), projector, time.perf_counter() - started)

    def map_quality(self, result: MapResult) -> dict[str, float]:
        """kNN accuracy in latent space and on the map, and the map's trustworthiness (kept with the map)."""
        with self._quality_lock:
            if result.quality is None:
                count = len(result.coordinates)
                sample = np.arange(min(count, 3000))
                latents, labels = self.latents(count), self.labels(count)
                result.quality = {
                    "knn_latent": knn_accuracy(latents, labels),
                    "knn_map": knn_accuracy(result.coordinates, labels),
                    "trustworthiness": trustworthiness(latents[sample], result.coordinates[sample]),
                }
            return result.quality

    def preview_sprites(self, count: int) -> tuple[bytes, bytes | None]:
        """The first ``count`` images, and their reconstructions when the model decodes, as sprites."""
        count = self._count(count)

        def compute() -> tuple[bytes, bytes | None]:
            reconstructions = self.decode(self.latents(count)) if self.can_decode else None
            return sprite_webp(self.images(count)), None if reconstructions is None else sprite_webp(reconstructions)
        # Their own memo: score sets for every noise level a class tries would push them out of a shared one.
        return self._sprites.get(count, compute)

    def trail(self, result: MapResult, corruption: Corruption | None, seed: int, followed: int) -> Trail:
        """Where the first ``followed`` map images land once corrupted (same noise as Corrupt & reconstruct)."""
        count = len(result.coordinates)
        followed = min(followed, count)

        def compute() -> Trail:
            corrupted = self.encode(corrupt(self.images(followed), corruption, seed))
            # 2 s on a 70,000-point map, and the same for every noise level: kept with the map.
            unit = result.layers.get("neighbour distance", lambda: typical_neighbour_distance(self.latents(count)))
            return follow_corruption(self.latents(count), self.labels(count), result.coordinates, result.projector,
                                     corrupted, unit)
        return result.layers.get(("trail", corruption, seed, followed), compute)

    def decoded_grid(self, result: MapResult, density: int) -> torch.Tensor:
        """Images decoded at ``density`` x ``density`` map positions (see ``MapResult.grid_positions``)."""
        return result.layers.get(("grid", density), lambda: self.decode(
            result.projector.inverse_transform(result.grid_positions(density))))

    def decoded_at(self, result: MapResult, location: np.ndarray) -> torch.Tensor:
        """The image the decoder draws at one map position (PCA and UMAP maps: t-SNE has no inverse)."""
        key = tuple(round(float(value), 6) for value in location)
        return result.layers.get(("decoded at", key), lambda: self.decode(
            result.projector.inverse_transform(np.asarray(location, dtype=np.float32)[None])))

    def path_on_map(self, result: MapResult, first: int, second: int, steps: int) -> np.ndarray:
        """Where the latents of an interpolation between two images fall on the map."""
        return result.projector.transform(self._interpolated_latents(first, second, steps))

    def neighbours(self, index: int, k: int, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """An image's ``k`` nearest pool images in latent space (kept: a page asks again on every rerun)."""
        def compute() -> tuple[np.ndarray, np.ndarray]:
            latents = self.latents(count)
            metric = "euclidean" if self.can_decode else "cosine"
            return nearest_neighbours(latents, latents[index], k, metric=metric, exclude=index)
        return self._lookups.get(("neighbours", index, k, self._count(count)), compute)

    def similar(self, image: torch.Tensor, k: int, exclude: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` pool images nearest an image (pool index ``exclude`` left out), by cosine distance:
        S2's similarity search. A query that is a pool image is answered once and kept."""
        def compute() -> tuple[np.ndarray, np.ndarray]:
            return nearest_neighbours(self.latents(), self.encode(image)[0], k, metric="cosine", exclude=exclude)
        if exclude is None:
            return compute()
        return self._lookups.get(("similar", exclude, k), compute)

    def decode(self, latents: np.ndarray) -> torch.Tensor:
        if not self.can_decode:
            raise ValueError("this model has no decoder: only autoencoders can decode a location")
        return decode_all(self.model, latents)

    def retrieval(self, class_count: int, announce: Callable[[], ContextManager] = nullcontext
                  ) -> tuple[float, np.ndarray, float]:
        """S2's evaluation on the pool's first ``class_count`` classes: top-1 retrieval accuracy, its confusion
        matrix, and the seed's anchor/positive batch accuracy. ``announce()`` is entered only while it is
        measured (a page's spinner), not when the figures are already known."""
        def compute() -> tuple[float, np.ndarray, float]:
            with announce():
                return evaluate_retrieval(self.model, self.pool, class_count)
        return self._measures.get(("retrieval", class_count), compute)

    def interpolate(self, first: int, second: int, steps: int) -> torch.Tensor:
        return self._lookups.get(("interpolation", first, second, steps),
                                 lambda: self.decode(self._interpolated_latents(first, second, steps)))

    def _interpolated_latents(self, first: int, second: int, steps: int) -> np.ndarray:
        latents = self.latents(max(first, second) + 1)
        weights = np.linspace(0.0, 1.0, steps)[:, None]
        return ((1 - weights) * latents[first] + weights * latents[second]).astype(np.float32)

    def noise_sweep(self, kind: str, levels: list[float], count: int, seed: int = 0) -> list[float]:
        """Mean SSIM at each corruption level (Gaussian sigma or erasing probability)."""
        make = GaussianNoise if kind == "gaussian" else RandomErasing
        return [self.quality(count, make(level) if level > 0 else None, seed)["ssim"] for level in levels]


def _as_key(indices) -> tuple[int, ...]:
    return tuple(int(index) for index in np.asarray(indices).ravel())
