"""The Train form's values and the training request they stand for, both ways; no Streamlit here.

The form is a dict keyed by the widgets' keys: the workspace keeps it, the page's widgets show it,
and ``request_from_form`` turns it into the ``TrainingRequest`` the Train button submits, so
filling the form from a seed preset and pressing Train reproduces that preset exactly.
"""
from __future__ import annotations

from explorer.models import model_info
from explorer.runs import TrainingRequest

NOISE_KINDS = {"None": None, "Gaussian": "gaussian", "Random erasing": "erasing"}
DEFAULT_NOISE_LEVEL = 0.1
# The request's fields (what form_values fills and request_from_form reads, the seed included) and the preset
# pickers: everything the workspace keeps of the form.
REQUEST_KEYS = ("train_model", "train_dataset", "train_subset", "train_epochs", "train_batch", "train_lr", "train_decay",
                "train_schedule", "train_bf16", "train_flip", "train_noise", "train_level", "train_classes",
                "train_steps", "train_seed", "train_name")
FORM_KEYS = ("train_preset", "train_quick", "train_s3") + REQUEST_KEYS


def form_values(request: TrainingRequest) -> dict:
    """The form's fields from a request (``None`` settings take the model's recipe); the seed stays the
    student's own, so choosing a preset or another model never changes it."""
    config = request.config()
    kind, _, level = (request.noise or "").partition(":")
    return {
        "train_model": request.model, "train_dataset": request.dataset,
        "train_subset": request.subset or "all", "train_epochs": config.epochs, "train_batch": config.batch_size,
        "train_lr": config.learning_rate, "train_decay": config.weight_decay, "train_schedule": config.schedule,
        "train_bf16": config.precision == "bf16", "train_flip": config.flip,
        "train_noise": next(name for name, value in NOISE_KINDS.items() if value == (kind or None)),
        "train_level": float(level) if level else DEFAULT_NOISE_LEVEL, "train_classes": request.classes or 10,
        "train_steps": config.steps_per_epoch, "train_name": request.name or f"{request.model} on {request.dataset}"}


def request_from_form(form: dict, sources: dict[str, bytes] | None = None) -> TrainingRequest:
    """The run the form describes; ``sources`` are uploaded data files (Sign-MNIST)."""
    metric_learning = model_info(form["train_model"]).recipe.loss == "anchor-positive"
    noise = NOISE_KINDS[form["train_noise"]]
    settings = dict(epochs=int(form["train_epochs"]), batch_size=int(form["train_batch"]),
                    learning_rate=float(form["train_lr"]), schedule=form["train_schedule"],
                    precision="bf16" if form["train_bf16"] else "fp32", flip=bool(form["train_flip"]),
                    weight_decay=float(form["train_decay"]))
    if metric_learning:
        settings["steps_per_epoch"] = int(form["train_steps"])
    return TrainingRequest(
        model=form["train_model"], dataset=form["train_dataset"], settings=settings,
        noise=f"{noise}:{form['train_level']:g}" if noise else None,
        subset=None if form["train_subset"] == "all" else int(form["train_subset"]),
        classes=int(form["train_classes"]) if metric_learning else None, seed=int(form["train_seed"]),
        name=(form["train_name"] or "").strip() or None, sources=sources or {})
