"""``python -m explorer``: list models and datasets, train, evaluate and embed from the terminal.

Every failure the user can cause (bad argument, missing data, bad file) ends in one clear line on
stderr and exit status 2 or 1, never a traceback.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from .card import CONDITION_LABELS, ModelCard
from .checkpoint import check_image_shape, list_checkpoints, load_checkpoint, read_card, save_checkpoint
from .corruption import parse_corruption
from .errors import USER_ERRORS
from .datasets import dataset_info, list_datasets, load_dataset
from .evaluation import CARD_CONDITIONS, card_metrics, evaluate_reconstruction, evaluate_retrieval
from .inference import encode_all
from .models import create_model, latent_size, list_models, model_info, pick_device
from .projection import METHODS, Projector
from .runs import SETTINGS, TrainingFailed, TrainingRequest, train_checkpoint
from .training import PRECISIONS, SCHEDULES, TARGETS, EpochReport, StepReport, TrainConfig



class CliError(Exception):
    """A failure to report as one line and a non-zero exit."""


def _models(args) -> None:
    rows = [{"id": m.model_id, "seed": m.seed_system, "latent": latent_size(create_model(m.model_id)),
             "autoencoder": m.is_autoencoder, "description": m.description} for m in list_models()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(f"{row['id']:<18} {row['seed'] or '-':<4} {row['latent']:>5}-d  {row['description']}")


def _datasets(args) -> None:
    rows = [{"name": d.name, "available": d.locate() is not None, "source": d.locate(), "description": d.description}
            for d in list_datasets()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        where = row["source"] or "not found here (see README: Data)"
        print(f"{row['name']:<14} {'yes' if row['available'] else 'no ':<4} {where}")


def _checkpoints(args) -> None:
    cards = {stem.name: read_card(stem) for stem in list_checkpoints(Path(args.folder))}
    if args.json:
        print(json.dumps({name: {key: card[key] for key in ("model", "dataset", "training", "metrics", "command")}
                          for name, card in cards.items()}, indent=2))
        return
    columns = ["checkpoint", "seed", "latent", "epochs", "train min",
               *(f"test SSIM {CONDITION_LABELS[c]}" if c == "clean" else CONDITION_LABELS[c] for c in CARD_CONDITIONS)]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for name, card in cards.items():
        print(_checkpoint_row(name, card))


def _checkpoint_row(name: str, data: dict) -> str:
    card = ModelCard(data)
    cells = [f"`{name}` ({card.dataset})", card.seed_system or "ours", str(int(np.prod(data["latent_shape"]))),
             str(card.training.get("epochs_run", "?")), f"{card.training.get('seconds', 0) / 60:.1f}"]
    if card.retrieval_accuracy:
        accuracy = ", ".join(f"{k} cl. {v:.1%}" for k, v in card.retrieval_accuracy.items())
        cells += [f"retrieval {accuracy}", *[""] * (len(CARD_CONDITIONS) - 1)]
    else:
        cells += ["" if card.ssim(condition) is None else f"{card.ssim(condition):.3f}" for condition in CARD_CONDITIONS]
    return "| " + " | ".join(cells) + " |"


def _progress_printer(quiet: bool):
    def on_step(report: StepReport) -> None:
        if not quiet and (report.step % max(report.steps // 20, 1) == 0 or report.step == report.steps):
            print(f"\repoch {report.epoch} [{report.step}/{report.steps}] loss {report.loss:.4f}", end="", flush=True)

    def on_epoch(report: EpochReport) -> None:
        accuracy = f" val acc {report.val_accuracy:.3f}" if report.val_accuracy is not None else ""
        print(f"\repoch {report.epoch}: train {report.train_loss:.5f}  val {report.val_loss:.5f}{accuracy}  "
              f"({report.seconds:.1f}s)", flush=True)

    return on_step, on_epoch


def _train(args) -> None:
    given = {**vars(args), "learning_rate": args.lr}
    request = TrainingRequest(
        model=args.model, dataset=args.dataset,
        settings={name: given[name] for name in SETTINGS if given[name] is not None},
        noise=args.noise, subset=args.subset, latent=args.latent, classes=args.classes, seed=args.seed, name=args.name)
    config = request.config()

    def announce(model, splits) -> None:
        print(f"training {args.model} on {splits.name} ({len(splits.train)} train / {len(splits.val)} val images, "
              f"{config.loss} loss, {config.schedule} learning rate, {config.precision}, {config.epochs} epochs, "
              f"device {pick_device().type})", flush=True)

    on_step, on_epoch = _progress_printer(args.quiet)
    try:
        checkpoint = train_checkpoint(request, args.out, on_step=on_step, on_epoch=on_epoch, on_start=announce)
    except TrainingFailed as error:
        raise CliError(f"training failed: {error}; nothing was written") from None
    card = ModelCard(checkpoint.card)
    print(f"{card.training['stop_reason']}; best epoch {card.training['best_epoch']}, {card.training['seconds']:.0f}s.")
    weights_path, card_path = save_checkpoint(args.out, checkpoint.model, checkpoint.card)
    print(f"test: {card.headline()}")
    print(f"wrote {weights_path} and {card_path}")


def _evaluate(args) -> None:
    checkpoint = load_checkpoint(args.checkpoint)
    if args.update_card:
        _update_card(args.checkpoint, checkpoint)
        return
    dataset = args.dataset or checkpoint.card.get("dataset", "fashion-mnist")
    test = load_dataset(dataset, need_train=False).test.subset(args.subset)
    check_image_shape(checkpoint, test.images.shape[1:], ModelCard(checkpoint.card).name, dataset)
    info = model_info(ModelCard(checkpoint.card).model_id)
    if info.is_autoencoder:
        result = evaluate_reconstruction(checkpoint.model, test, parse_corruption(args.noise))
        line = f"{dataset} test ({result['images']} images): MSE {result['mse']:.5f}  PSNR {result['psnr']:.2f} dB  SSIM {result['ssim']:.4f}"
    else:
        classes = ModelCard(checkpoint.card).trained_classes
        accuracy, _, batch_accuracy = evaluate_retrieval(checkpoint.model, test, classes)
        result = {"retrieval_accuracy": accuracy, "anchor_positive_accuracy": batch_accuracy, "classes": classes,
                  "images": len(test)}
        line = (f"{dataset} test: retrieval accuracy {accuracy:.4f}, anchor/positive batch accuracy "
                f"{batch_accuracy:.4f} over {classes} classes")
    print(json.dumps({"dataset": dataset, **result}) if args.json else line)


def _update_card(path: str, checkpoint) -> None:
    """Re-measure a checkpoint's card figures on its full test split, as training would have written them
    today (after the card's conditions changed), keeping everything else; the files are replaced atomically."""
    card = ModelCard(checkpoint.card)
    info = model_info(card.model_id)
    config = TrainConfig(loss=card.training.get("loss", "mse"), target=card.training.get("target", "clean"),
                         corruption=parse_corruption(checkpoint.card.get("corruption")))
    test = load_dataset(card.dataset, need_train=False).test
    checkpoint.card["metrics"] = card_metrics(checkpoint.model, test, info.is_autoencoder, card.trained_classes, config)
    save_checkpoint(path, checkpoint.model, checkpoint.card)
    print(f"{card.name}: {ModelCard(checkpoint.card).headline()}; card rewritten")


def _embed(args) -> None:
    checkpoint = load_checkpoint(args.checkpoint)
    dataset = args.dataset or checkpoint.card.get("dataset", "fashion-mnist")
    test = load_dataset(dataset, need_train=False).test.subset(args.n)
    check_image_shape(checkpoint, test.images.shape[1:], ModelCard(checkpoint.card).name, dataset)
    latents = encode_all(checkpoint.model, test.as_tensor())
    started = time.perf_counter()
    coordinates = Projector(args.method, random_state=args.seed).fit_transform(latents)
    indices = np.arange(len(test)) if args.n is None or args.n >= len(test) else None
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["x", "y", "label", "class", "index"])
        names = dataset_info(dataset).class_names
        for row, (x, y) in enumerate(coordinates):
            label = int(test.labels[row])
            writer.writerow([f"{x:.5f}", f"{y:.5f}", label, names[label], row if indices is None else indices[row]])
    print(f"{args.method} of {len(test)} latents in {time.perf_counter() - started:.1f}s -> {args.out}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description="Latent-space explorer for autoencoders")
    commands = parser.add_subparsers(dest="command", required=True)
    models = commands.add_parser("models", help="list the models")
    models.add_argument("--json", action="store_true")
    models.set_defaults(run=_models)
    datasets = commands.add_parser("datasets", help="list the datasets and where they are found")
    datasets.add_argument("--json", action="store_true")
    datasets.set_defaults(run=_datasets)

    shipped = commands.add_parser("checkpoints", help="list checkpoints with their measured quality (Markdown table)")
    shipped.add_argument("--folder", default=str(Path(__file__).resolve().parent.parent / "checkpoints"))
    shipped.add_argument("--json", action="store_true")
    shipped.set_defaults(run=_checkpoints)

    training = commands.add_parser("train", help="train a model and write its checkpoint and card")
    training.add_argument("--model", required=True, choices=[m.model_id for m in list_models()])
    training.add_argument("--dataset", required=True, choices=[d.name for d in list_datasets()])
    training.add_argument("--epochs", type=int)
    training.add_argument("--batch-size", type=int)
    training.add_argument("--lr", type=float, help="learning rate (the peak rate under one-cycle)")
    training.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (default: the recipe's)")
    training.add_argument("--precision", choices=PRECISIONS,
                          help="bf16: autocast the training forward pass (~1.5x faster on CPUs with AVX-512 BF16)")
    training.add_argument("--flip", action=argparse.BooleanOptionalAction,
                          help="mirror a random half of each training batch (default: the recipe's)")
    training.add_argument("--weight-decay", type=float, help="decoupled weight decay, with AdamW (default: the recipe's)")
    training.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    training.add_argument("--noise", help="gaussian:SIGMA or erasing:P (inputs; the target stays clean unless --target)")
    training.add_argument("--target", choices=TARGETS,
                          help="what a noisy input is scored against: the clean image (denoising, default) or the "
                               "corrupted image itself (S3's seed: a corrupted copy of the dataset)")
    training.add_argument("--subset", type=int, help="train on N images (validation and test on N/5)")
    training.add_argument("--latent", type=int, help="latent size, for models that take one")
    training.add_argument("--classes", type=int, help="S2: train on the first N classes")
    training.add_argument("--steps-per-epoch", type=int, help="S2: anchor/positive batches per epoch (default 1000)")
    training.add_argument("--seed", type=int, default=0)
    training.add_argument("--name", help="name shown in the app (default: the file name)")
    training.add_argument("--quiet", action="store_true", help="print one line per epoch only")
    training.add_argument("--out", required=True, help="checkpoint path without extension")
    training.set_defaults(run=_train)

    evaluate = commands.add_parser("evaluate", help="measure a checkpoint on a test split")
    evaluate.add_argument("checkpoint")
    evaluate.add_argument("--dataset")
    evaluate.add_argument("--noise")
    evaluate.add_argument("--subset", type=int)
    evaluate.add_argument("--update-card", action="store_true",
                          help="re-measure the card's figures on the full test split and rewrite the card")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(run=_evaluate)

    embed = commands.add_parser("embed", help="write a 2-D map of test latents as CSV")
    embed.add_argument("checkpoint")
    embed.add_argument("--method", required=True, choices=METHODS)
    embed.add_argument("--n", type=int, help="number of test images (default: all)")
    embed.add_argument("--dataset")
    embed.add_argument("--seed", type=int, default=0)
    embed.add_argument("--out", required=True)
    embed.set_defaults(run=_embed)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (CliError, *USER_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; nothing was written", file=sys.stderr)
        return 130
    return 0
