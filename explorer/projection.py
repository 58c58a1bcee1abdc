"""2-D projections of latents: PCA, t-SNE and UMAP, seeded, with an inverse for PCA and UMAP.

A fitted map also places new latents (a corrupted image, a point on an interpolation path) without
moving the points already on it: PCA projects them, t-SNE optimises them against the fixed map
(openTSNE), and UMAP puts each at the weighted mean of its nearest fitted points.

They behave like scikit-learn estimators (parameters in the constructor, ``fit_transform``,
``random_state``) and refuse bad parameters with a ``ValueError`` naming the allowed values.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np

METHODS = ("pca", "tsne", "umap")
# t-SNE settings as fast as openTSNE's defaults are good, at 1.8x the speed (measured: bench/README.md).
TSNE_SCHEDULE = {"theta": 0.8, "early_exaggeration_iter": 125, "n_iter": 400}
# Above this many points: the latents' first 50 principal components, FFT gradients, 150 main iterations
# (all 70,000 Fashion-MNIST latents in ~30 s instead of 69 s, equally good: bench/README.md).
LARGE_MAP = 10_000
LARGE_TSNE_SCHEDULE = {"negative_gradient_method": "fft", "early_exaggeration_iter": 125, "n_iter": 150}
LARGE_TSNE_DIMENSIONS = 50
ReportProgress = Callable[[float, str], None]
_DEFAULTS = {"pca": {}, "tsne": {"perplexity": 30.0}, "umap": {"n_neighbors": 15, "min_dist": 0.1}}


@dataclass
class Projector:
    """Fit a 2-D map of latents; ``inverse_transform`` maps 2-D locations back to latents (PCA, UMAP)."""

    method: str = "pca"
    params: dict = field(default_factory=dict)
    random_state: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown projection {self.method!r}; choose one of: {', '.join(METHODS)}")
        unknown = set(self.params) - set(_DEFAULTS[self.method])
        if unknown:
            allowed = ", ".join(_DEFAULTS[self.method]) or "none"
            raise ValueError(f"{self.method} has no parameter {', '.join(sorted(unknown))}; allowed: {allowed}")
        self.params = {**_DEFAULTS[self.method], **self.params}
        self._estimator = None
        self._reducer = None

    @property
    def invertible(self) -> bool:
        return self.method in ("pca", "umap")

    def fit_transform(self, latents: np.ndarray, progress: ReportProgress | None = None) -> np.ndarray:
        """The 2-D map of ``latents``; t-SNE reports ``progress(fraction done, stage)`` as it goes."""
        latents = np.ascontiguousarray(latents, dtype=np.float32)
        if len(latents) < 5:
            raise ValueError(f"a 2-D map needs at least 5 points, got {len(latents)}")
        if self.method == "tsne":
            return self._fit_tsne(latents, progress or (lambda fraction, stage: None)).astype(np.float32)
        return getattr(self, f"_fit_{self.method}")(latents).astype(np.float32)

    def transform(self, latents: np.ndarray) -> np.ndarray:
        """Place new latents on the fitted map, leaving the fitted points where they are."""
        if self._estimator is None:
            raise ValueError("fit the projection before placing points on it")
        latents = np.ascontiguousarray(np.atleast_2d(latents), dtype=np.float32)
        if self.method == "umap":
            return self._place_among_neighbours(latents)
        if self.method == "tsne":
            latents = self._reduce_for_tsne(latents)
        return np.asarray(self._estimator.transform(latents), dtype=np.float32)

    def _place_among_neighbours(self, latents: np.ndarray) -> np.ndarray:
        """UMAP's own first guess for a new point: the mean of its neighbours' map positions, weighted by
        UMAP's membership strength exp(-(d - d_nearest) / spread). umap-learn would refine it with a
        search index, which exact neighbours do not build; the guess keeps a fitted point on its spot."""
        from sklearn.neighbors import NearestNeighbors

        fitted_latents, fitted_points = self._fitted
        distances, indices = NearestNeighbors(n_neighbors=int(self.params["n_neighbors"])).fit(
            fitted_latents).kneighbors(latents)
        beyond_nearest = distances - distances[:, :1]
        spread = np.maximum(beyond_nearest.mean(axis=1, keepdims=True), 1e-12)
        weights = np.exp(-beyond_nearest / spread)
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkd->nd", weights, fitted_points[indices]).astype(np.float32)

    def inverse_transform(self, points: np.ndarray) -> np.ndarray:
        if not self.invertible:
            raise ValueError(f"{self.method} has no inverse; decode locations on a PCA or UMAP map")
        if self._estimator is None:
            raise ValueError("fit the projection before inverting it")
        return np.asarray(self._estimator.inverse_transform(np.atleast_2d(points)), dtype=np.float32)

    def _fit_pca(self, latents: np.ndarray) -> np.ndarray:
        from sklearn.decomposition import PCA

        self._estimator = PCA(n_components=2, random_state=self.random_state)
        return self._estimator.fit_transform(latents)

    def _fit_tsne(self, latents: np.ndarray, progress: ReportProgress) -> np.ndarray:
        from openTSNE import TSNE

        perplexity = float(self.params["perplexity"])
        if not 1 <= perplexity < len(latents):
            raise ValueError(f"t-SNE perplexity must be between 1 and the number of points, got {perplexity}")
        schedule = TSNE_SCHEDULE if len(latents) <= LARGE_MAP else LARGE_TSNE_SCHEDULE
        iterations = schedule["early_exaggeration_iter"] + schedule["n_iter"]
        done = [0]

        def report(iteration: int, error: float, embedding) -> bool:
            done[0] += 25
            progress(0.3 + 0.7 * min(done[0] / iterations, 1.0), f"optimising the layout, KL divergence {error:.2f}")
            return False

        tsne = TSNE(n_components=2, perplexity=perplexity, random_state=self.random_state,
                    n_jobs=os.cpu_count() or 1, verbose=False, **schedule, neighbors="exact",
                    knn_kwargs={"algorithm": "brute"}, callbacks=report, callbacks_every_iters=25)
        progress(0.0, f"finding each of {len(latents):,} points' nearest neighbours")
        if len(latents) > LARGE_MAP and latents.shape[1] > LARGE_TSNE_DIMENSIONS:
            from sklearn.decomposition import PCA

            self._reducer = PCA(LARGE_TSNE_DIMENSIONS, random_state=self.random_state).fit(latents)
        imported_one_at_a_time("pynndescent")  # openTSNE imports it to see whether it is installed
        self._estimator = tsne.fit(self._reduce_for_tsne(latents))
        # The embedding keeps its optimiser settings for ``transform``; placing points is not this fit's progress.
        self._estimator.gradient_descent_params["callbacks"] = None
        # openTSNE's ``transform`` centres the fitted embedding in place (on its bounding box) before placing
        # points, which moved every placed point by that shift (~5 % of the map) from the map drawn before it.
        # Centred here, the map and everything placed on it share one frame.
        self._estimator -= (self._estimator.max(axis=0) + self._estimator.min(axis=0)) / 2
        return np.array(self._estimator)

    def _reduce_for_tsne(self, latents: np.ndarray) -> np.ndarray:
        """A large map's latents as their first 50 principal components, the space its neighbours were found in."""
        return latents if self._reducer is None else self._reducer.transform(latents).astype(np.float32)

    def _fit_umap(self, latents: np.ndarray) -> np.ndarray:
        umap = umap_with_disk_cache()
        neighbours = int(self.params["n_neighbors"])
        min_dist = float(self.params["min_dist"])
        if not 2 <= neighbours < len(latents):
            raise ValueError(f"UMAP n_neighbors must be between 2 and the number of points, got {neighbours}")
        if not 0.0 <= min_dist <= 1.0:
            raise ValueError(f"UMAP min_dist must be in [0, 1], got {min_dist}")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")  # no search index: known, see transform
            self._estimator = umap.UMAP(n_components=2, n_neighbors=neighbours, min_dist=min_dist,
                                        random_state=self.random_state, n_jobs=1,
                                        precomputed_knn=exact_neighbours(latents, neighbours))
            points = self._estimator.fit_transform(latents)
        self._fitted = (latents, points)
        return points


def exact_neighbours(latents: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, None]:
    """Each point's ``count`` nearest neighbours (itself first), in the form UMAP's ``precomputed_knn`` takes.

    UMAP would otherwise search with pynndescent, whose numba code cannot be cached on disk (it takes
    functions as arguments) and compiled for ~35 s in every new server process. Exact search costs
    0.1 s for 5,000 latents and 1.5 s for 20,000 on 2 cores.
    """
    from sklearn.neighbors import NearestNeighbors

    distances, indices = NearestNeighbors(n_neighbors=count).fit(latents).kneighbors(latents)
    return indices, distances.astype(np.float32), None


UMAP_MODULES = ("umap.umap_", "umap.layouts", "umap.utils", "umap.distances", "umap.sparse", "umap.spectral")


@lru_cache(maxsize=1)
def umap_with_disk_cache():
    """umap-learn with numba's on-disk cache turned on for every compiled function it defines.

    umap-learn compiles most of its functions without ``cache=True``; compiled once on a machine,
    they now load in a fraction of a second in every later process (numba keeps them beside the
    source, or in the user's cache folder where that is read-only).
    """
    with _NUMBA_IMPORTS:
        from numba.core.registry import CPUDispatcher

        for name in UMAP_MODULES:
            for value in vars(importlib.import_module(name)).values():
                if isinstance(value, CPUDispatcher) and type(value._cache).__name__ == "NullCache":
                    value.enable_caching()
        return importlib.import_module("umap")


# numba's modules import one another; two threads importing them at once (a t-SNE map and UMAP's warm-up
# on a fresh server) hand each other half-initialised modules ("numba.core.types has no attribute
# 'boolean'"), so numba and the packages built on it are imported by one thread at a time.
_NUMBA_IMPORTS = threading.RLock()


def imported_one_at_a_time(name: str):
    with _NUMBA_IMPORTS:
        return importlib.import_module(name)


def warm_up_umap() -> None:
    """Run a UMAP once, so its compiled code lands in numba's disk cache before a user waits for it."""
    Projector("umap").fit_transform(np.random.default_rng(0).normal(size=(500, 8)))


def warm_up_umap_elsewhere() -> subprocess.Popen:
    """Fill the disk cache from a separate, low-priority process (compiling holds Python's GIL for
    tens of seconds, which inside the server would stall every student's page), then load the cached
    code here, off the request path (~2 s), so the first student's UMAP does not wait for it."""
    command = [sys.executable, "-c", "from explorer.projection import warm_up_umap; warm_up_umap()"]
    process = subprocess.Popen(command, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=(lambda: os.nice(19)) if hasattr(os, "nice") else None)
    threading.Thread(target=lambda: process.wait() == 0 and warm_up_umap(), name="umap-warm-up", daemon=True).start()
    return process
