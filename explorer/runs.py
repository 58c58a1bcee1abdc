"""One training run from request to checkpoint: the same path for the command line and the app.

A ``TrainingRequest`` names everything a run depends on; ``train_checkpoint`` loads the data, builds
the model, trains, measures it on the test split and returns a checkpoint whose card records the
request as the exact ``python -m explorer train`` command that re-runs it.
"""
from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass, field, replace
from typing import Callable

import torch

from .checkpoint import Checkpoint, make_card
from .corruption import parse_corruption
from .datasets import load_dataset
from .evaluation import card_metrics
from .limits import expected_train_images, run_images
from .names import plain_name
from .models import create_model, model_info, pick_device
from .training import EpochReport, StepReport, TrainConfig, train, training_record


class TrainingFailed(RuntimeError):
    """The run ended without usable weights (NaN loss in the first epoch, ...): the message says why."""


# Training settings a request may override; the model's recipe decides every one it leaves out.
SETTINGS = ("epochs", "batch_size", "learning_rate", "schedule", "precision", "flip", "weight_decay", "target",
            "patience", "steps_per_epoch")
CLI_FLAGS = {"learning_rate": "--lr"}


@dataclass(frozen=True)
class TrainingRequest:
    """A training run: model, data, and the settings that differ from the seed's recipe."""

    model: str
    dataset: str
    settings: dict = field(default_factory=dict, hash=False)
    noise: str | None = None
    subset: int | None = None
    latent: int | None = None
    classes: int | None = None
    seed: int = 0
    name: str | None = None
    sources: dict = field(default_factory=dict, compare=False, repr=False)  # uploaded files (Sign-MNIST CSVs)

    def __post_init__(self):
        object.__setattr__(self, "name", plain_name(self.name) or None)  # others see it: plain text, one line
        unknown = set(self.settings) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown training setting {', '.join(sorted(unknown))}; allowed: {', '.join(SETTINGS)}")

    def config(self) -> TrainConfig:
        return TrainConfig.from_recipe(
            model_info(self.model), **self.settings, corruption=parse_corruption(self.noise), seed=self.seed,
            classes=tuple(range(self.classes)) if self.classes else None)

    def cost(self) -> int:
        """Image passes the run will take (explorer.limits), known before its data is loaded."""
        config = self.config()
        images = expected_train_images(self.dataset, self.subset)
        steps = config.steps_per_epoch if config.loss == "anchor-positive" else -(-images // config.batch_size)
        return run_images(config.epochs, steps, config.batch_size)

    def command(self, out: str) -> str:
        """The command line that re-runs this request and writes its checkpoint to ``out``."""
        options = {**self.settings, "noise": self.noise, "subset": self.subset, "latent": self.latent,
                   "classes": self.classes, "seed": self.seed, "name": self.name}
        words = ["python", "-m", "explorer", "train", "--model", self.model, "--dataset", self.dataset]
        for option, value in options.items():
            flag = CLI_FLAGS.get(option, "--" + option.replace("_", "-"))
            if isinstance(value, bool):
                words.append(flag if value else "--no-" + flag[2:])
            elif value is not None:
                words += [flag, str(value)]
        return shlex.join(words + ["--out", out])


ID_LENGTH = 20  # hex digits of a run's id: a folder name in the run store


def run_id(request: TrainingRequest) -> str:
    """The digest of what decides a run's weights: equal requests, whatever their names, share one id."""
    config = request.config()
    identity = {"model": request.model, "dataset": request.dataset, "noise": request.noise, "subset": request.subset,
                "latent": request.latent, "classes": request.classes, "seed": request.seed,
                "settings": {key: getattr(config, key) for key in SETTINGS},
                "sources": source_digests(request.sources)}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:ID_LENGTH]


def source_digests(sources: dict[str, bytes]) -> dict[str, str]:
    return {key: hashlib.sha256(data).hexdigest() for key, data in sorted(sources.items())}


def train_checkpoint(request: TrainingRequest, out: str = "checkpoint",
                     on_step: Callable[[StepReport], None] | None = None,
                     on_epoch: Callable[[EpochReport], None] | None = None,
                     should_stop: Callable[[], bool] | None = None,
                     on_start: Callable[[torch.nn.Module, "object"], None] | None = None) -> Checkpoint:
    """Train, measure and card one model; the checkpoint holds the best validation weights.

    ``on_start(model, splits)`` is called once the data is loaded and the model built, before the first step.
    """
    info = model_info(request.model)
    config = request.config()
    config.validate()
    splits = load_dataset(request.dataset, seed=request.seed, **request.sources).subset(request.subset,
                                                                                      seed=request.seed)
    channels, size, _ = splits.image_shape
    torch.manual_seed(request.seed)
    model = create_model(request.model, channels=channels, size=size,
                         **({"latent_dim": request.latent} if request.latent else {}))
    if on_start:
        on_start(model, splits)
    result = train(model, splits, config, on_step=on_step, on_epoch=on_epoch, should_stop=should_stop)
    if result.failed and not result.best_epoch:
        raise TrainingFailed(result.stop_reason)
    model.cpu().eval()
    trained_classes = request.classes or len(splits.class_names)
    steps_per_epoch = config.steps_per_epoch if config.loss == "anchor-positive" else -(-len(splits.train) // config.batch_size)
    card = make_card(
        model, name=request.name or out.rsplit("/", 1)[-1], seed_system=info.seed_system, description=info.description,
        dataset=splits.name, class_names=list(splits.class_names),
        split={"val_fraction": 0.1, "seed": request.seed, "subset": request.subset, "train": len(splits.train),
               "val": len(splits.val), "test": len(splits.test)},
        corruption=config.corruption.describe() if config.corruption else None, classes=list(config.classes) if config.classes else None,
        training={**training_record(config, result), "device": pick_device().type, "steps_per_epoch": steps_per_epoch},
        history=[vars(epoch) for epoch in result.history],
        metrics=card_metrics(model, splits.test, info.is_autoencoder, trained_classes, config),
        command=request.command(out),
    )
    return Checkpoint(model, card)


# One click reproduces a seed: its model, its own data and recipe (``None`` fields keep the recipe's).
SEED_PRESETS: dict[str, TrainingRequest] = {
    "S0: CNN autoencoder on Sign Language MNIST": TrainingRequest("s0-cnn-ae", "sign-mnist"),
    "S1: baseline on Fashion-MNIST": TrainingRequest("s1-dense-128", "fashion-mnist"),
    "S1: modified network on Fashion-MNIST": TrainingRequest("s1-modified-256", "fashion-mnist"),
    "S2: metric learning on CIFAR-10": TrainingRequest("s2-embedding", "cifar10", classes=10),
    "S3: Anello denoising on Fashion-MNIST": TrainingRequest("s3-anello", "fashion-mnist", noise="gaussian:0.1"),
    "S4: conv autoencoder on MNIST": TrainingRequest("s4-conv-392", "mnist"),
    "Ours: ResConv on Fashion-MNIST": TrainingRequest("resconv-128", "fashion-mnist"),
}
S3_CORRUPTIONS = ("clean", "gaussian:0.01", "gaussian:0.1", "gaussian:0.5", "gaussian:1", "erasing:0.5")
QUICK_IMAGES, QUICK_EPOCHS, QUICK_METRIC_STEPS = 2000, 3, 200


def preset_takes_corruption(title: str) -> bool:
    """Whether a seed preset's training corruption is the student's to choose (S3 compares them)."""
    return SEED_PRESETS[title].model == "s3-anello"


def preset_request(title: str, corruption: str = "gaussian:0.1", quick: bool = False) -> TrainingRequest:
    """A seed preset as the Train page fills its form: with the chosen S3 corruption (one of S3_CORRUPTIONS)
    where the preset takes one, and as its quick variant if asked."""
    request = SEED_PRESETS[title]
    if preset_takes_corruption(title):
        request = replace(request, noise=None if corruption == "clean" else corruption)
    return quick_variant(request) if quick else request


def quick_variant(request: TrainingRequest) -> TrainingRequest:
    """The same run on 2,000 images for at most 3 epochs: a few minutes in a lesson on a laptop CPU."""
    settings = dict(request.settings)
    settings["epochs"] = min(settings.get("epochs", model_info(request.model).recipe.epochs), QUICK_EPOCHS)
    if model_info(request.model).recipe.loss == "anchor-positive":
        settings["steps_per_epoch"] = QUICK_METRIC_STEPS
    return replace(request, subset=QUICK_IMAGES, settings=settings)
