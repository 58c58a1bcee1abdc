"""What the training replay shows, and what recording it costs: runs trained through the app's own queue.

    python -m bench.replay [--tiny] [--json FILE]

Trains S3 on Fashion-MNIST clean and at sigma 0.5 (the seed's recipe: 20 epochs, on 10,000 images
here to fit a lesson), and S4 on the 5,000-digit MNIST sample, each through ``JobQueue`` into a
temporary run store, then prints each epoch's 5-NN accuracy of the probe in latent space and the
share of each epoch's time the recording took.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np

from bench.browser import measured_commit
from explorer.jobs import JobQueue
from explorer.run_store import RunStore
from explorer.runs import TrainingRequest

STUDY = {
    "S3 clean, Fashion-MNIST": TrainingRequest("s3-anello", "fashion-mnist", subset=10_000),
    "S3 sigma 0.5, Fashion-MNIST": TrainingRequest("s3-anello", "fashion-mnist", subset=10_000, noise="gaussian:0.5"),
    "S4, MNIST sample": TrainingRequest("s4-conv-392", "mnist-sample"),
}
TINY = {"S4, digits (tiny)": TrainingRequest("s4-conv-392", "digits", settings={"epochs": 2}, subset=500)}
PLATEAU_POINTS = 0.01  # an epoch is on the plateau once later epochs gain less than one point of accuracy


def replay_figures(name: str, request: TrainingRequest, queue: JobQueue) -> dict:
    run = queue.submit(request, "bench")
    while queue.status(run, watcher="bench").state.active:
        time.sleep(1)
    status = queue.status(run)
    record = queue.store.probe(run)
    if record is None:
        raise RuntimeError(f"{name}: the run ended {status.state.value} without a replay record: {status.message}")
    history = queue.store.card(run)["history"]
    accuracies = record.knn_accuracies()
    plateau = next(epoch for epoch in range(len(accuracies))
                   if max(accuracies[epoch:]) - accuracies[epoch] < PLATEAU_POINTS) + 1
    shares = [seconds / epoch["seconds"] for seconds, epoch in zip(record.seconds, history)]
    return {"run": name, "epochs": record.epochs, "probe_images": len(record.labels), "knn_accuracy": accuracies,
            "plateau_epoch": plateau, "val_loss": [epoch["val_loss"] for epoch in history],
            "recording_s": float(np.mean(record.seconds)), "recording_share": float(np.mean(shares)),
            "epoch_s": float(np.mean([epoch["seconds"] for epoch in history]))}


def print_table(rows: list[dict]) -> None:
    print(f"measured on {measured_commit()}")
    print(f"{'run':<30} {'epochs':>6} {'probe':>6} {'kNN epoch 1':>11} {'kNN last':>9} {'plateau at':>10} "
          f"{'epoch s':>8} {'recording s':>11} {'share':>6}")
    for row in rows:
        print(f"{row['run']:<30} {row['epochs']:>6} {row['probe_images']:>6} {row['knn_accuracy'][0]:>11.1%} "
              f"{row['knn_accuracy'][-1]:>9.1%} {row['plateau_epoch']:>10} {row['epoch_s']:>8.1f} "
              f"{row['recording_s']:>11.2f} {row['recording_share']:>6.1%}")
    for row in rows:
        print(f"{row['run']}: kNN accuracy by epoch " + " ".join(f"{a:.3f}" for a in row["knn_accuracy"]))
    print("target: recording <= 5 % of an epoch's time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="one two-epoch run on the digits (CI)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        queue = JobQueue(RunStore(folder, cap_bytes=2**31), slots=1)
        rows = [replay_figures(name, request, queue) for name, request in (TINY if args.tiny else STUDY).items()]
    print_table(rows)
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"commit": measured_commit(), "rows": rows}, file, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
