"""The training loop: plain PyTorch over tensors already in memory, with callbacks as the only hook.

Autoencoders learn to reconstruct the clean image from an optionally corrupted input; the S2
embedding network learns by metric learning (one anchor and one positive per class per batch,
cosine similarities / temperature as logits, cross-entropy). Validation loss drives early stopping
and the best weights are what the model holds when ``train`` returns, whatever ended the run.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .corruption import Corruption
from .datasets import Splits
from .metrics import retrieval, ssim_map
from .inference import encode_all, prepare_model, to_device
from .models import ModelInfo, pick_device

TEMPERATURE = 0.2
VALIDATION_SEED = 12345


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    loss: str = "mse"
    schedule: str = "constant"
    precision: str = "fp32"
    flip: bool = False
    patience: int | None = None
    corruption: Corruption | None = None
    target: str = "clean"
    seed: int = 0
    classes: tuple[int, ...] | None = None
    steps_per_epoch: int = 1000

    @classmethod
    def from_recipe(cls, info: ModelInfo, **overrides) -> "TrainConfig":
        """The seed's own recipe, with any explicitly given setting taking precedence."""
        recipe = info.recipe
        settings = {"epochs": recipe.epochs, "batch_size": recipe.batch_size, "learning_rate": recipe.learning_rate,
                    "loss": recipe.loss, "schedule": recipe.schedule, "patience": recipe.patience, "flip": recipe.flip,
                    "weight_decay": recipe.weight_decay}
        settings.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**settings)

    @property
    def optimizer(self) -> str:
        """Adam, as every seed uses; AdamW when weight decay is asked for, so the decay is not scaled by Adam."""
        return "adamw" if self.weight_decay else "adam"

    def validate(self) -> None:
        for setting, high in UPPER_BOUNDS.items():
            value = getattr(self, setting)
            if not 1 <= value <= high:
                raise ValueError(f"{setting.replace('_', ' ')} must be from 1 to {high:,}, got {value}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"learning rate must be a positive number, got {self.learning_rate}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight decay must be zero or positive, got {self.weight_decay}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.loss not in LOSSES and self.loss != "anchor-positive":
            raise ValueError(f"loss must be one of {', '.join(LOSSES)} or anchor-positive, got {self.loss!r}")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {self.target!r}")

    def targets(self, clean: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """What a reconstruction is scored against: the clean image (denoising), or the corrupted input
        itself, as when a model is trained on a corrupted copy of the dataset (S3's seed did this: its
        losses sit sigma squared above the clean run's, the noise no model can predict)."""
        return inputs if self.target == "corrupted" else clean


# What the Train form offers at most; a run's cost has its own budget besides (explorer.limits).
UPPER_BOUNDS = {"epochs": 200, "batch_size": 1024, "steps_per_epoch": 5000}


@dataclass
class StepReport:
    epoch: int
    step: int
    steps: int
    loss: float
    learning_rate: float


@dataclass
class EpochReport:
    epoch: int
    train_loss: float
    val_loss: float
    seconds: float
    val_accuracy: float | None = None


@dataclass
class TrainResult:
    history: list[EpochReport] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    stop_reason: str = "completed"
    failed: bool = False

    @property
    def epochs_run(self) -> int:
        return len(self.history)


def _bce_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy that reports NaN outputs as a NaN loss (torch's raises), so a diverged run ends cleanly."""
    if not torch.isfinite(output).all():
        return output.sum() * float("nan")
    return F.binary_cross_entropy(output, target)


def _ssim_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(output, target) + (1.0 - ssim_map(output, target).mean())


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": F.mse_loss,
    "bce": _bce_loss,
    "mse+ssim": _ssim_loss,
}


SCHEDULES = ("constant", "one-cycle")
PRECISIONS = ("fp32", "bf16")
TARGETS = ("clean", "corrupted")


def _forward_precision(config: "TrainConfig", device: torch.device):
    """bf16 autocast for the training forward pass; weights, optimiser state and losses stay float32.

    About 1.5x faster training steps on CPUs with AVX-512 BF16 (measured here on ResConv); CPUs
    without it emulate bf16 and get slower, so it is opt-in, never a recipe default.
    """
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")


class _EarlyStopping:
    def __init__(self, model: nn.Module, patience: int | None):
        self.patience = patience
        self.best_loss = math.inf
        self.best_epoch = 0
        self.best_state = copy.deepcopy(model.state_dict())

    def update(self, model: nn.Module, epoch: int, val_loss: float) -> bool:
        """Remember the best weights; say whether patience has run out."""
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch = val_loss, epoch
            self.best_state = copy.deepcopy(model.state_dict())
        return self.patience is not None and epoch - self.best_epoch >= self.patience


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    optimizer_class = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return optimizer_class(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)


def _make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig,
                    steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """One-cycle warms up to the learning rate and anneals to nearly zero by the last epoch.

    On a short CPU budget the annealed finish is worth several constant-rate epochs of quality.
    """
    if config.schedule == "constant":
        return None
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate,
                                               total_steps=config.epochs * steps_per_epoch, pct_start=0.15)


def train(model: nn.Module, splits: Splits, config: TrainConfig, device: torch.device | None = None,
          on_step: Callable[[StepReport], None] | None = None,
          on_epoch: Callable[[EpochReport], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train ``model`` in place on ``splits``; the model ends holding its best-validation weights."""
    config.validate()
    if len(splits.train) == 0 or len(splits.val) == 0:
        raise ValueError(f"{splits.name}: training needs the training split, which is not loaded here")
    device = device or pick_device()
    torch.manual_seed(config.seed)
    prepare_model(model, device)
    metric_learning = config.loss == "anchor-positive"
    train_set, val_set = splits.train, splits.val
    if metric_learning:
        classes = config.classes or tuple(range(len(splits.class_names)))
        train_set, val_set = train_set.of_classes(classes), val_set.of_classes(classes)
    images = train_set.as_tensor()
    val_images = val_set.as_tensor()
    optimizer = _make_optimizer(model, config)
    steps_per_epoch = config.steps_per_epoch if metric_learning else math.ceil(len(images) / config.batch_size)
    scheduler = _make_scheduler(optimizer, config, steps_per_epoch)
    generator = torch.Generator().manual_seed(config.seed)
    stopper = _EarlyStopping(model, config.patience)
    result = TrainResult()
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        epoch_started = time.perf_counter()
        model.train()
        if metric_learning:
            train_loss = _metric_epoch(model, optimizer, scheduler, images, train_set.labels, classes, config,
                                       generator, device, epoch, on_step, should_stop)
            val_loss, val_accuracy = _metric_validation(model, val_images, val_set.labels, classes, device)
        else:
            train_loss = _reconstruction_epoch(model, optimizer, scheduler, images, config, generator, device,
                                               epoch, on_step, should_stop)
            val_loss, val_accuracy = _reconstruction_validation(model, val_images, config, device), None
        if not math.isfinite(train_loss) or not math.isfinite(val_loss):
            result.failed = True
            result.stop_reason = (f"the loss became NaN or infinite in epoch {epoch}; kept the weights of epoch "
                                  f"{stopper.best_epoch or 'none (untrained)'}. Try a lower learning rate.")
            break
        report = EpochReport(epoch, train_loss, val_loss, time.perf_counter() - epoch_started, val_accuracy)
        result.history.append(report)
        patience_over = stopper.update(model, epoch, val_loss)
        if on_epoch:
            on_epoch(report)
        if should_stop and should_stop():
            result.stop_reason = f"stopped by the user after epoch {epoch}"
            break
        if patience_over:
            result.stop_reason = f"early stopping: no better validation loss for {config.patience} epochs"
            break
    model.load_state_dict(stopper.best_state)
    model.eval()
    result.best_epoch = stopper.best_epoch
    result.seconds = time.perf_counter() - started
    return result


def training_record(config: TrainConfig, result: TrainResult) -> dict:
    """The card's ``training`` entry: the settings a run used and how it ended, one form for CLI and app."""
    return {"loss": config.loss, "optimizer": config.optimizer, "weight_decay": config.weight_decay,
            "learning_rate": config.learning_rate, "schedule": config.schedule, "precision": config.precision,
            "flip": config.flip, "batch_size": config.batch_size, "epochs_asked": config.epochs,
            "epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "patience": config.patience,
            "target": config.target, "seed": config.seed, "stop_reason": result.stop_reason,
            "seconds": round(result.seconds, 1)}


def mirror_half(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the images left to right: more varied training data, fitted less by rote."""
    mirrored = torch.rand(len(batch), generator=generator) < 0.5
    return torch.where(mirrored[:, None, None, None], batch.flip(-1), batch)


def _optimise(optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler | None,
              loss: torch.Tensor) -> tuple[float, float]:
    """One optimiser step; returns the loss and the learning rate that step used."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    rate = optimizer.param_groups[0]["lr"]
    optimizer.step()
    if scheduler:
        scheduler.step()
    return loss.item(), rate


def _reconstruction_epoch(model, optimizer, scheduler, images, config, generator, device, epoch, on_step,
                          should_stop) -> float:
    loss_function = LOSSES[config.loss]
    order = torch.randperm(len(images), generator=generator)
    steps = math.ceil(len(images) / config.batch_size)
    total, seen = 0.0, 0
    for step in range(steps):
        batch = images[order[step * config.batch_size:(step + 1) * config.batch_size]]
        if config.flip:
            batch = mirror_half(batch, generator)
        inputs = config.corruption(batch, generator) if config.corruption else batch
        target = to_device(config.targets(batch, inputs), device)
        with _forward_precision(config, device):
            outputs = model(to_device(inputs, device))
        value, rate = _optimise(optimizer, scheduler, loss_function(outputs.float(), target))
        total += value * len(batch)
        seen += len(batch)
        if not math.isfinite(value):
            return value
        if on_step:
            on_step(StepReport(epoch, step + 1, steps, value, rate))
        if should_stop and should_stop():
            break
    return total / seen


@torch.no_grad()
def _reconstruction_validation(model, val_images, config, device) -> float:
    model.eval()
    loss_function = LOSSES[config.loss]
    generator = torch.Generator().manual_seed(VALIDATION_SEED)
    total = 0.0
    for start in range(0, len(val_images), 512):
        batch = val_images[start:start + 512]
        inputs = config.corruption(batch, generator) if config.corruption else batch
        total += loss_function(model(to_device(inputs, device)),
                               to_device(config.targets(batch, inputs), device)).item() * len(batch)
    return total / len(val_images)


def _class_index_table(labels: np.ndarray, classes: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of each class's images, padded into one table, and how many each class has."""
    members = [np.flatnonzero(labels == c) for c in classes]
    sizes = torch.tensor([len(m) for m in members])
    if int(sizes.min()) < 2:
        raise ValueError("metric learning needs at least two training images of every chosen class")
    table = torch.zeros(len(classes), int(sizes.max()), dtype=torch.long)
    for row, indices in enumerate(members):
        table[row, :len(indices)] = torch.from_numpy(indices)
    return table, sizes


def anchor_positive_batch(table: torch.Tensor, sizes: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One anchor and one different positive per class, as image indices."""
    first = (torch.rand(len(sizes), generator=generator) * sizes).long()
    offset = 1 + (torch.rand(len(sizes), generator=generator) * (sizes - 1)).long()
    second = (first + offset) % sizes
    rows = torch.arange(len(sizes))
    return table[rows, first], table[rows, second]


def anchor_positive_loss(model: nn.Module, anchors: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    similarities = model.encode(anchors) @ model.encode(positives).T / TEMPERATURE
    return F.cross_entropy(similarities, torch.arange(len(anchors), device=similarities.device))


def _metric_epoch(model, optimizer, scheduler, images, labels, classes, config, generator, device, epoch,
                  on_step, should_stop) -> float:
    table, sizes = _class_index_table(labels, classes)
    total = 0.0
    for step in range(config.steps_per_epoch):
        anchor_index, positive_index = anchor_positive_batch(table, sizes, generator)
        anchors, positives = images[anchor_index], images[positive_index]
        if config.flip:
            anchors, positives = mirror_half(anchors, generator), mirror_half(positives, generator)
        if config.corruption:
            anchors = config.corruption(anchors, generator)
        with _forward_precision(config, device):
            loss = anchor_positive_loss(model, to_device(anchors, device), to_device(positives, device))
        value, rate = _optimise(optimizer, scheduler, loss.float())
        total += value
        if not math.isfinite(value):
            return value
        if on_step:
            on_step(StepReport(epoch, step + 1, config.steps_per_epoch, value, rate))
        if should_stop and should_stop():
            return total / (step + 1)
    return total / config.steps_per_epoch


@torch.no_grad()
def _metric_validation(model, val_images, val_labels, classes, device, batches: int = 50) -> tuple[float, float]:
    model.eval()
    table, sizes = _class_index_table(val_labels, classes)
    generator = torch.Generator().manual_seed(VALIDATION_SEED)
    losses = []
    for _ in range(batches):
        anchor_index, positive_index = anchor_positive_batch(table, sizes, generator)
        losses.append(anchor_positive_loss(model, to_device(val_images[anchor_index], device),
                                           to_device(val_images[positive_index], device)).item())
    embeddings = encode_all(model, val_images)
    remap = np.full(int(max(classes)) + 1, -1)
    remap[list(classes)] = np.arange(len(classes))
    accuracy, _ = retrieval(embeddings, remap[val_labels], len(classes))
    return float(np.mean(losses)), accuracy
