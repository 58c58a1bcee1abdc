import gzip
from pathlib import Path

import numpy as np
import pytest

from conftest import kaggle_sign_zip, sign_csv, write_cifar_folder, write_idx, write_mnist_folder
from explorer.datasets import (DatasetFormatError, DatasetUnavailable, PROJECT_DATA, load_dataset,
                               read_idx, read_sign_mnist_csv)

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
# .ci/run installs the package; a developer without it skips these (the rest use files written here).
needs_debian_fashion = pytest.mark.skipif(not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
                                          reason="apt-get install dataset-fashion-mnist")


@needs_debian_fashion
def test_fashion_mnist_from_debian_package_has_official_sizes():
    splits = load_dataset("fashion-mnist")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (54000, 6000, 10000)
    assert splits.train.images.dtype == np.uint8 and splits.image_shape == (1, 28, 28)
    assert np.bincount(splits.test.labels).tolist() == [1000] * 10
    assert splits.class_names[9] == "Ankle boot"


def test_shipped_test_split_loads_without_the_debian_package(isolated_data, monkeypatch):
    import explorer.datasets as datasets

    monkeypatch.setattr(datasets, "PROJECT_DATA", PROJECT_DATA)
    splits = load_dataset("fashion-mnist", need_train=False)
    assert len(splits.test) == 10000 and len(splits.train) == 0
    assert "data/fashion-mnist" in splits.source
    with pytest.raises(DatasetUnavailable, match="dataset-fashion-mnist"):
        load_dataset("fashion-mnist", need_train=True)


def test_split_is_seeded_and_disjoint():
    first, second = load_dataset("digits", seed=3), load_dataset("digits", seed=3)
    assert np.array_equal(first.val.images, second.val.images)
    other = load_dataset("digits", seed=4)
    assert not np.array_equal(first.val.labels, other.val.labels)
    train_rows = {row.tobytes() for row in first.train.images}
    assert sum(row.tobytes() in train_rows for row in first.val.images) < 3  # digits has a few exact duplicates


@needs_debian_fashion
def test_idx_reader_matches_torchvision_on_the_real_files(tmp_path):
    from torchvision.datasets.mnist import read_sn3_pascalvincent_tensor

    for name in ("t10k-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        with gzip.open(DEBIAN_FASHION / f"{name}.gz") as source:
            (tmp_path / name).write_bytes(source.read())
        reference = read_sn3_pascalvincent_tensor(str(tmp_path / name)).numpy()
        ours = read_idx(DEBIAN_FASHION / f"{name}.gz")
        assert ours.dtype == reference.dtype and np.array_equal(ours, reference)


def test_truncated_idx_file_is_a_format_error(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    write_idx(path, np.zeros((3, 28, 28)))
    with gzip.open(path) as source:
        complete = source.read()
    with gzip.open(path, "wb") as target:
        target.write(complete[:-10])
    with pytest.raises(DatasetFormatError, match=r"promises \(3, 28, 28\), 2352 bytes of data, but it holds 2342"):
        read_idx(path)
    path.write_bytes(b"")
    with pytest.raises(DatasetFormatError, match="no IDX header"):
        read_idx(path)


def test_mnist_reads_idx_gz(isolated_data):
    write_mnist_folder(isolated_data / "mnist", train=50, test=20)
    splits = load_dataset("mnist")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (45, 5, 20)
    assert splits.test.labels.tolist() == [i % 10 for i in range(20)]


def test_missing_data_offline_says_what_was_looked_for(isolated_data):
    with pytest.raises(DatasetUnavailable) as error:
        load_dataset("mnist")
    message = str(error.value)
    assert "t10k-images-idx3-ubyte" in message and "download failed" in message


def test_corrupt_idx_file_is_a_format_error(isolated_data):
    folder = isolated_data / "mnist"
    write_mnist_folder(folder)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DatasetFormatError, match="not a valid IDX file"):
        load_dataset("mnist")


def test_cifar10_reads_pickle_batches_through_torchvision(isolated_data):
    write_cifar_folder(isolated_data / "cifar10", per_batch=20)
    splits = load_dataset("cifar10")
    assert splits.image_shape == (3, 32, 32)
    assert len(splits.train) + len(splits.val) == 100 and len(splits.test) == 20
    assert splits.class_names[0] == "airplane"


def test_sign_mnist_csv_from_bytes_and_path(tmp_path):
    from_bytes = read_sign_mnist_csv(sign_csv(30).encode())
    assert from_bytes.images.shape == (30, 1, 28, 28) and from_bytes.labels.max() <= 24
    (tmp_path / "train.csv").write_text(sign_csv(40, seed=1))
    (tmp_path / "test.csv").write_text(sign_csv(10, seed=2, header=False))
    splits = load_dataset("sign-mnist", train_csv=tmp_path / "train.csv", test_csv=tmp_path / "test.csv")
    assert len(splits.train) + len(splits.val) == 40 and len(splits.test) == 10
    assert splits.class_names[24] == "Y"


@pytest.mark.parametrize("mutate, problem", [
    (lambda lines: lines[:1], "header but no image rows"),
    (lambda lines: [lines[0], lines[1] + ",7"] + lines[2:], "line 2: expected 785 columns"),
    (lambda lines: [lines[0], lines[1], "9" + lines[2][lines[2].index(","):]] + lines[3:], "line 3: label 9"),
    (lambda lines: lines[:3] + [lines[3].rsplit(",", 1)[0] + ",300"] + lines[4:], "line 4: pixel values must be 0-255"),
    (lambda lines: lines[:2] + [lines[2].replace(",", ",x", 1)] + lines[3:], "line 3: a value is not a number"),
    (lambda lines: [], "empty"),
])
def test_malformed_sign_csv_names_the_line(mutate, problem):
    lines = sign_csv(5).splitlines()
    with pytest.raises(DatasetFormatError, match=problem):
        read_sign_mnist_csv("\n".join(mutate(lines)).encode())


def test_digits_is_28x28_and_always_available():
    splits = load_dataset("digits")
    assert splits.image_shape == (1, 28, 28)
    assert len(splits.train) + len(splits.val) + len(splits.test) == 1797
    assert splits.test.images.max() > 200


def test_subset_caps_every_split():
    small = load_dataset("digits").subset(100, seed=1)
    assert (len(small.train), len(small.val), len(small.test)) == (100, 20, 20)


def test_mnist_sample_is_real_mnist_from_mlxtends_wheel():
    splits = load_dataset("mnist-sample")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (3600, 400, 1000)
    assert splits.test.images.shape[1:] == (1, 28, 28) and splits.test.images.dtype == np.uint8
    assert set(np.unique(splits.test.labels)) == set(range(10))
    border, centre = splits.test.images[:, :, :2].mean(), splits.test.images[:, :, 10:18, 10:18].mean()
    assert border < 1 < 50 < centre, "MNIST digits: light strokes centred on black"


def test_sign_mnist_from_kaggles_archive_or_gzipped_files():
    from explorer.datasets import sign_mnist_uploads

    train, test = sign_csv(40, seed=1), sign_csv(10, seed=2)
    for files in ({"archive.zip": kaggle_sign_zip(train, test)},
                  {"sign_mnist_train.csv.gz": gzip.compress(train.encode()), "sign_mnist_test.csv": test.encode()}):
        sources = sign_mnist_uploads(files)
        splits = load_dataset("sign-mnist", **sources)
        assert len(splits.train) + len(splits.val) == 40 and len(splits.test) == 10
        assert np.array_equal(splits.test.images, read_sign_mnist_csv(test.encode()).images)


def test_sign_mnist_uploads_say_what_is_missing_or_broken():
    from explorer.datasets import sign_mnist_uploads

    with pytest.raises(DatasetUnavailable, match="sign_mnist_test.csv not among the uploaded files"):
        sign_mnist_uploads({"sign_mnist_train.csv": sign_csv(5).encode()})
    with pytest.raises(DatasetFormatError, match="not a readable zip archive"):
        sign_mnist_uploads({"archive.zip": b"PK\x03\x04 truncated"})
    with pytest.raises(DatasetFormatError, match="not a readable .gz file"):
        read_sign_mnist_csv(b"\x1f\x8b broken")


def test_a_kaggle_sized_sign_mnist_csv_parses_in_seconds():
    big = sign_csv(27_455, seed=3).encode()  # the real training file's row count, about 77 MB here
    images = read_sign_mnist_csv(big)
    assert images.images.shape == (27_455, 1, 28, 28) and set(np.unique(images.labels)) == set(range(25)) - {9}


BOMB_BYTES = 600 * 2 ** 20  # a 600 MB CSV of one repeated line: about 0.6 MB once compressed


def _bomb_lines(size: int):
    line = b"0," + b"0," * 783 + b"0\n"
    chunk = line * (2 ** 20 // len(line))
    for _ in range(size // len(chunk)):
        yield chunk


@pytest.mark.parametrize("packing", ["zip", "gz"])
def test_an_archive_that_unpacks_past_the_limit_is_refused_without_unpacking_it(tmp_path, packing):
    """A small upload that expands to 600 MB is refused after reading at most the limit."""
    import io
    import tracemalloc
    import zipfile

    from explorer.datasets import MAX_SIGN_CSV_BYTES, sign_mnist_uploads

    packed = io.BytesIO()
    if packing == "zip":
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
            with archive.open("sign_mnist_train.csv", "w", force_zip64=True) as member:
                for chunk in _bomb_lines(BOMB_BYTES):
                    member.write(chunk)
            archive.writestr("sign_mnist_test.csv", sign_csv(5))
        files = {"archive.zip": packed.getvalue()}
    else:
        with gzip.GzipFile(fileobj=packed, mode="wb") as member:
            for chunk in _bomb_lines(BOMB_BYTES):
                member.write(chunk)
        files = {"sign_mnist_train.csv.gz": packed.getvalue(), "sign_mnist_test.csv": sign_csv(5).encode()}
    assert len(packed.getvalue()) < 5 * 2 ** 20
    tracemalloc.start()
    try:
        with pytest.raises(DatasetFormatError, match="unpacks to more than 128 MB"):
            load_dataset("sign-mnist", **sign_mnist_uploads(files))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * MAX_SIGN_CSV_BYTES + 2 ** 20, f"{peak / 2 ** 20:.0f} MB held while refusing"
