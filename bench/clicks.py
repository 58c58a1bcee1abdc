"""Benchmarks: each figure beside its reference measured in the same run, medians of repeats.

    python -m bench.clicks [--tiny] [--json FILE]

``--tiny`` runs a very small workload (what the test suite uses to check the command works).
"""
from __future__ import annotations

import argparse
import json
import statistics
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from explorer.corruption import GaussianNoise, RandomErasing
from explorer.datasets import Splits, dataset_info, load_dataset
from explorer.metrics import ssim
from explorer.models import create_model, list_models
from explorer.projection import Projector
from explorer.training import TrainConfig, train
from explorer.checkpoint import DEFAULT_CHECKPOINT, load_shipped
from explorer.workbench import MapResult, Workbench
from bench.browser import measured_commit, memory_mb
from ui.page_table import PAGES, page_spec

ROOT = Path(__file__).resolve().parent.parent
CLICK_BUDGET_SECONDS = 0.025


@dataclass
class Row:
    figure: str
    ours: float
    reference: float
    unit: str
    target: str

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else float("nan")


def median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bare_loop(model, images: torch.Tensor, batch_size: int, loss_name: str) -> None:
    """The reference: a plain tensor-indexed PyTorch loop, nothing else."""
    loss_function = torch.nn.functional.binary_cross_entropy if loss_name == "bce" else torch.nn.functional.mse_loss
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(len(images))
    for start in range(0, len(images), batch_size):
        batch = images[order[start:start + batch_size]]
        loss = loss_function(model(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def training_rows(splits: Splits, repeats: int) -> list[Row]:
    rows = []
    images = splits.train.as_tensor()
    for info in list_models():
        if not info.is_autoencoder:
            continue
        recipe = info.recipe
        loss = recipe.loss if recipe.loss != "mse+ssim" else "mse"

        def ours(corruption=None):
            torch.manual_seed(0)
            train(create_model(info.model_id), splits, TrainConfig(epochs=1, batch_size=recipe.batch_size, loss=loss,
                                                                  corruption=corruption))

        def reference():
            torch.manual_seed(0)
            bare_loop(create_model(info.model_id), images, recipe.batch_size, loss)

        bare = median_seconds(reference, repeats)
        clean = median_seconds(ours, repeats)
        n = len(images)
        rows.append(Row(f"train {info.model_id} img/s (loop vs bare)", n / clean, n / bare, "img/s", ">= 0.9x"))
        for name, corruption in (("gaussian 0.1", GaussianNoise(0.1)), ("erasing 0.5", RandomErasing(0.5))):
            noisy = median_seconds(lambda: ours(corruption), repeats)
            rows.append(Row(f"train {info.model_id} with {name} (time vs clean)", noisy, clean, "s", "<= 1.10x"))
    return rows


def projection_rows(latents: np.ndarray, everything: np.ndarray, repeats: int) -> list[Row]:
    from sklearn.manifold import TSNE

    rows = []
    n = len(latents)
    ours = median_seconds(lambda: Projector("tsne").fit_transform(latents), repeats)
    reference = median_seconds(lambda: TSNE(random_state=0).fit_transform(latents), repeats)
    rows.append(Row(f"t-SNE of {n:,} latents (openTSNE vs sklearn)", ours, reference, "s", "<= 6 s"))
    pca = median_seconds(lambda: Projector("pca").fit_transform(latents), repeats)
    rows.append(Row(f"PCA of {n:,} latents (vs t-SNE)", pca, ours, "s", "-"))
    with tempfile.TemporaryDirectory() as empty_cache:
        cold = _umap_in_fresh_process(latents, empty_cache, preload=False)
        cached = _umap_in_fresh_process(latents, empty_cache, preload=False)
        preloaded = _umap_in_fresh_process(latents, empty_cache, preload=True)
    rows.append(Row(f"UMAP of {n:,} latents, new process, disk cache filled (vs empty)", cached, cold, "s", "-"))
    rows.append(Row(f"UMAP of {n:,} latents as the app sees it: cache loaded (vs empty)", preloaded, cold, "s",
                    "<= 5 s"))
    umap_small = median_seconds(lambda: Projector("umap").fit_transform(latents), repeats)
    for method, target, small in (("pca", "-", pca), ("tsne", "<= 30 s", ours), ("umap", "<= 60 s", umap_small)):
        large = median_seconds(lambda: Projector(method).fit_transform(everything), 1)
        rows.append(Row(f"{method.upper()} of all {len(everything):,} latents (vs {n:,})", large, small, "s", target))
    return rows


def _umap_in_fresh_process(latents: np.ndarray, numba_cache: str, preload: bool) -> float:
    """Seconds for the first UMAP in a new process, with numba's disk cache in ``numba_cache``;
    ``preload``: after the app's warm-up has loaded the cached code, as a student's first UMAP meets it."""
    np.save("/tmp/bench-latents.npy", latents)
    code = ("import time, numpy as np\nfrom explorer.projection import Projector, warm_up_umap\n"
            f"{'warm_up_umap()' if preload else ''}\n"
            "x = np.load('/tmp/bench-latents.npy'); t = time.perf_counter()\n"
            "Projector('umap').fit_transform(x); print(time.perf_counter() - t)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "NUMBA_CACHE_DIR": numba_cache}).stdout
    return float(output.strip().splitlines()[-1])


def teaching_view_rows(bench: Workbench, count: int, repeats: int) -> list[Row]:
    """The Latent space page's layers, each against fitting the map they are drawn on."""
    rows = []
    for method in ("pca", "umap"):
        fit = median_seconds(lambda: Workbench(bench.model, bench.pool, bench.class_names).project(method, {}, count),
                             repeats)
        result = bench.project(method, {}, count)
        trail = median_seconds(lambda: bench.trail(MapResult(result.coordinates, result.projector, 0.0),
                                                   GaussianNoise(0.5), 0, 300), repeats)
        grid = median_seconds(lambda: bench.decoded_grid(MapResult(result.coordinates, result.projector, 0.0), 12),
                              repeats)
        rows.append(Row(f"corruption trail of 300 images on a {count:,}-point {method.upper()} map (vs map)", trail,
                        fit, "s", "<= 1 s"))
        rows.append(Row(f"decoded 12 x 12 grid on a {count:,}-point {method.upper()} map (vs map)", grid, fit, "s",
                        "<= 3 s"))
    sprites = median_seconds(lambda: Workbench(bench.model, bench.pool, bench.class_names).preview_sprites(count),
                             repeats)
    pca = median_seconds(lambda: Workbench(bench.model, bench.pool, bench.class_names).project("pca", {}, count),
                         repeats)
    rows.append(Row(f"hover sprites of {count:,} images and reconstructions (vs PCA map)", sprites, pca, "s", "-"))
    return rows


def drawing_rows(bench: Workbench, count: int, repeats: int) -> list[Row]:
    """A stroke's end on the Latent page's canvas: the drawing made like the dataset's images, placed on the
    map (point, reconstruction, neighbours' vote), the map redrawn with it and serialised for the browser;
    against serialising the map alone, what any rerun of the map's fragment (a lasso) sends."""
    import plotly.graph_objects as go

    from explorer.drawing import from_canvas
    from explorer.placement import place
    from ui.maps import add_own_images, class_map

    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[30:250, 90:120, :3] = canvas[30:250, 160:190, :3] = canvas[30:60, 90:190, :3] = 255  # a trouser
    rows = []
    for method, target in (("pca", "<= 0.15 s"), ("umap", "<= 0.15 s"), ("tsne", "<= 1.5 s")):
        result = bench.project(method, {}, count)
        figure = class_map(result.coordinates, bench.labels(count), bench.class_names, bench.ssim_scores(count))

        def update() -> None:
            image = from_canvas(canvas, "#000000", bench.style, *bench.pool.images.shape[1:3])
            placed = go.Figure(figure)
            add_own_images(placed, result.coordinates, [], place(bench, result, image)[0])
            placed.to_json()
        rows.append(Row(f"drawing placed on a {count:,}-point {method.upper()} map, stroke to figure (vs map re-sent)",
                        median_seconds(update, max(repeats, 3)), median_seconds(figure.to_json, max(repeats, 3)), "s",
                        target))
    return rows


def cache_rows(bench: Workbench, count: int, repeats: int) -> list[Row]:
    first = median_seconds(lambda: Workbench(bench.model, bench.pool, bench.class_names).project("pca", {}, count), 1)
    bench.project("pca", {}, count)
    cached = median_seconds(lambda: bench.project("pca", {}, count), repeats)
    fresh_quality = median_seconds(lambda: Workbench(bench.model, bench.pool, bench.class_names).quality(count), 1)
    bench.quality(count)
    cached_quality = median_seconds(lambda: bench.quality(count), repeats)
    return [Row("cached map rerun (vs first computation)", cached, first, "s", "<= 0.3 s"),
            Row("cached reconstruction figures (vs first)", cached_quality, fresh_quality, "s", "<= 0.3 s")]


def ssim_rows(images: torch.Tensor, repeats: int) -> list[Row]:
    from skimage.metrics import structural_similarity

    noisy = GaussianNoise(0.2)(images.clone(), torch.Generator().manual_seed(0))
    first, second = images.double().numpy(), noisy.double().numpy()
    ours = median_seconds(lambda: ssim(images, noisy), repeats)
    reference = median_seconds(lambda: [structural_similarity(a[0], b[0], data_range=1.0)
                                        for a, b in zip(first, second)], repeats)
    return [Row(f"SSIM of {len(images)} pairs (batched vs scikit-image loop)", ours, reference, "s", ">= 3x faster")]


# Peak memory from /proc's VmHWM, as for the server: ru_maxrss survives exec, so a child would report this process's.
IMPORT_FLOOR = ("import time; started = time.perf_counter(); import torch, torchvision, umap, streamlit, plotly; "
                "peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')); "
                "print(time.perf_counter() - started, peak / 1024)")


def app_rows(points: int, repeats: int) -> list[Row]:
    """Cold start, peak server memory and lasso latency of the real app in headless Chromium."""
    from bench.browser import MAP, SETTLE_SECONDS, chromium_page, lasso, running_app, wait_for_gallery, wait_until_idle

    floor_seconds, floor_mb = map(float, subprocess.run([sys.executable, "-c", IMPORT_FLOOR], capture_output=True,
                                                        text=True, check=True).stdout.split())
    started = time.monotonic()
    with running_app() as (url, server), chromium_page() as page:
        page.goto(f"{url}/latent")
        page.wait_for_selector(MAP, timeout=180_000)
        cold_start = time.monotonic() - started
        for spec in PAGES:
            page.goto(f"{url}/{spec.url_path}")
            try:
                wait_until_idle(page, timeout_ms=240_000)
            except TimeoutError:
                raise TimeoutError(f"{spec.title} kept running for 4 minutes") from None
        peak_mb = memory_mb(server.pid)
        reloads, lassos = [], []
        for _ in range(repeats):
            reload_started = time.monotonic()
            page.goto(f"{url}/latent?points={points}")
            page.wait_for_selector(MAP, timeout=180_000)
            wait_until_idle(page)
            reloads.append(time.monotonic() - reload_started - SETTLE_SECONDS)  # wait_until_idle's settling
            lasso(page, [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)])
            lasso_started = time.monotonic()
            wait_for_gallery(page)
            lassos.append(time.monotonic() - lasso_started)
    return [Row("cold start: `streamlit run` to first map (vs import floor)", cold_start, floor_seconds, "s", "<= 10 s"),
            Row("server peak RSS after every page (vs import floor)", peak_mb, floor_mb, "MB",
                f"<= {floor_mb + 400:.0f} MB (floor + 400)"),
            Row(f"lasso to gallery, {points:,}-point map (vs cached page load)", statistics.median(lassos),
                statistics.median(reloads), "s", "<= 1.5 s")]


TRIVIAL_PAGE = "import streamlit as st\nfor line in range(20):\n    st.write(f'line {line}')\n"
# A teacher's view of the Latent page: the corruption trail and the decoded grid on the map.
LESSON_VIEW = {"layers": ["Corruption trail", "Decoded grid"], "corruption": "Gaussian noise", "sigma": "0.5"}
OWN_IMAGE_VIEW = {"layers": ["Your own image"]}


def click_cost_rows(repeats: int) -> list[Row]:
    """Server time of one click on each page with warm caches (a rerun that changes nothing), against a
    page of 20 ``st.write`` calls: what every click costs the interpreter lock all sessions share.

    AppTest compiles the page script again on every run (a new ScriptCache each time) where a server
    compiles it once, so the runs here share one cache, as a server's sessions do."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import AppTest, app_test, local_script_runner

    shared = ScriptCache()
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: shared
    trivial = AppTest.from_string(TRIVIAL_PAGE)
    trivial.run()
    reference = median_seconds(trivial.run, max(repeats, 5))
    views = [(spec, spec.title, {}) for spec in PAGES]
    views.append((page_spec("pages/latent.py"), "Latent space with trail and grid", LESSON_VIEW))
    views.append((page_spec("pages/latent.py"), "Latent space with the drawing canvas", OWN_IMAGE_VIEW))
    rows = []
    for spec, title, query in views:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        app.query_params.update(query)
        app.switch_page(spec.path).run()
        app.run()
        if app.exception:
            raise RuntimeError(f"{title}: {app.exception[0].value}")
        seconds = median_seconds(app.run, max(repeats, 5))
        rows.append(Row(f"click on {title}, warm caches (vs 20 st.write)", seconds, reference, "s",
                        f"<= {reference + CLICK_BUDGET_SECONDS:.3f} s (+25 ms)"))
    return rows



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    repeats = 1 if args.tiny else 3
    full = load_dataset("digits" if args.tiny else "fashion-mnist")
    splits = full.subset(300 if args.tiny else 3000)
    test = full.test.subset(200 if args.tiny else 10000)
    model = load_shipped(DEFAULT_CHECKPOINT).model
    bench = Workbench(model, test, full.class_names, dataset_info(full.name).style)
    latents = bench.latents(200 if args.tiny else 5000)
    everything = Workbench(model, full.everything(), full.class_names).latents()
    rows = (click_cost_rows(repeats) + training_rows(splits, repeats) + projection_rows(latents, everything, repeats)
            + cache_rows(bench, len(test), repeats) + teaching_view_rows(bench, 200 if args.tiny else 2000, repeats)
            + drawing_rows(bench, 200 if args.tiny else 2000, repeats)
            + ssim_rows(test.as_tensor(), repeats)
            + app_rows(1000 if args.tiny else 10000, repeats))
    print(f"commit {measured_commit()}")
    print(f"{'figure':<66} {'ours':>10} {'reference':>10} {'ratio':>7}  target")
    for row in rows:
        print(f"{row.figure:<66} {row.ours:>10.3f} {row.reference:>10.3f} {row.ratio:>7.2f}  {row.target} ({row.unit})")
    if args.json:
        with open(args.json, "w") as file:
            json.dump([{**asdict(row), "ratio": row.ratio} for row in rows], file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
