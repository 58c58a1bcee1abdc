"""Shared fixtures: small data files written in the real formats the loaders read."""
from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from explorer import datasets
from explorer.run_store import STORE_ENV

# The app's run store for this test session (AppTest and the servers tests start): a new, empty folder.
os.environ[STORE_ENV] = tempfile.mkdtemp(prefix="explorer-test-store-")


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write an IDX file (the MNIST format) gzipped, as the official mirrors ship it."""
    type_code = 0x08
    header = struct.pack(">HBB", 0, type_code, array.ndim) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def write_mnist_folder(folder: Path, train: int = 60, test: int = 20, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", train), ("t10k", test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(count) % 10)


def write_cifar_folder(root: Path, per_batch: int = 20, seed: int = 0) -> None:
    """The CIFAR-10 "python version": protocol-2 pickled dicts, as the official tarball has."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (per_batch, 3072)).astype(np.uint8),
                 "labels": [int(i % 10) for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(datasets.CIFAR_CLASSES)}, protocol=2))


def sign_csv(rows: int = 30, seed: int = 0, header: bool = True) -> str:
    rng = np.random.default_rng(seed)
    letters = [label for label in range(25) if label != 9]
    lines = ["label," + ",".join(f"pixel{i}" for i in range(1, 785))] if header else []
    for row in range(rows):
        lines.append(",".join(map(str, [letters[row % len(letters)], *rng.integers(0, 256, 784)])))
    return "\n".join(lines) + "\n"


def kaggle_sign_zip(train: str, test: str) -> bytes:
    """Kaggle's download: an archive holding the two CSVs (and, in its case, a folder and an image)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("sign_mnist_train/sign_mnist_train.csv", train)
        archive.writestr("sign_mnist_test/sign_mnist_test.csv", test)
        archive.writestr("amer_sign2.png", b"\x89PNG not really")
    return buffer.getvalue()


@pytest.fixture
def isolated_data(tmp_path, monkeypatch):
    """Point every data location at empty temporary folders; downloads go to a closed local port."""
    project, system, home = tmp_path / "project", tmp_path / "system", tmp_path / "home"
    for folder in (project, system, home):
        folder.mkdir()
    monkeypatch.setattr(datasets, "PROJECT_DATA", project)
    monkeypatch.setattr(datasets, "SYSTEM_DATA", system)
    monkeypatch.setenv("HOME", str(home))
    import torchvision.datasets

    for name in ("MNIST", "FashionMNIST"):
        monkeypatch.setattr(getattr(torchvision.datasets, name), "mirrors", ["http://127.0.0.1:9/"])
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "url", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    return project


@pytest.fixture(scope="module")
def app_url():
    """A real server for one test module's browser tests (its log in test-artifacts/)."""
    from bench.browser import ROOT, running_app

    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    with running_app() as (url, _):
        yield url


@pytest.fixture(scope="session")
def redis_with_a_worker(tmp_path_factory):
    """Redis on loopback and one RQ worker for the session; each test that uses it starts with no live runs."""
    from bench.services import kill, running_redis, start_worker

    with running_redis() as url:
        worker = start_worker(url, tmp_path_factory.mktemp("worker") / "worker.log")
        try:
            yield url
        finally:
            kill(worker)
