"""The command line end to end, as a user runs it: separate processes, real files."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.evaluation import CARD_CONDITIONS
from tolerance import FLOAT32_MEAN

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "s4"
    result = run("train", "--model", "s4-conv-392", "--dataset", "digits", "--epochs", "2",
                 "--noise", "gaussian:0.1", "--seed", "1", "--flip", "--weight-decay", "0.01", "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def test_train_writes_checkpoint_and_card(trained):
    out, stdout = trained
    assert "epoch 2:" in stdout and "SSIM" in stdout
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["corruption"] == "gaussian:0.1" and card["training"]["epochs_run"] == 2
    assert card["training"]["flip"] is True
    assert card["training"]["optimizer"] == "adamw" and card["training"]["weight_decay"] == 0.01
    assert card["command"].startswith("python -m explorer train --model s4-conv-392")
    assert set(card["metrics"]["test"]) == set(CARD_CONDITIONS) and card["metrics"]["test_loss"] > 0
    assert card["training"]["target"] == "clean"


def test_update_card_re_measures_an_old_card_and_keeps_the_rest(trained, tmp_path):
    out, _ = trained
    old = tmp_path / "old"
    old.with_suffix(".safetensors").write_bytes(out.with_suffix(".safetensors").read_bytes())
    card = json.loads(out.with_suffix(".json").read_text())
    expected_test = card["metrics"]["test"]
    card["metrics"] = {"test": {"clean": expected_test["clean"]}}  # written before the conditions grew
    old.with_suffix(".json").write_text(json.dumps(card))
    result = run("evaluate", str(old), "--update-card")
    assert result.returncode == 0, result.stderr
    rewritten = json.loads(old.with_suffix(".json").read_text())
    assert rewritten["history"] == card["history"] and set(rewritten["metrics"]["test"]) == set(expected_test)
    for condition, figures in expected_test.items():
        assert rewritten["metrics"]["test"][condition]["ssim"] == pytest.approx(figures["ssim"], rel=FLOAT32_MEAN)


def test_the_seed_s_protocol_scores_against_the_corrupted_image(tmp_path):
    out = tmp_path / "seed"
    result = run("train", "--model", "s3-anello", "--dataset", "digits", "--epochs", "1", "--noise", "gaussian:0.5",
                 "--target", "corrupted", "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["training"]["target"] == "corrupted" and "--target corrupted" in card["command"]


def test_evaluate_reproduces_the_card(trained):
    out, _ = trained
    result = run("evaluate", str(out), "--json")
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    card = json.loads(out.with_suffix(".json").read_text())
    assert measured["ssim"] == pytest.approx(card["metrics"]["test"]["clean"]["ssim"], rel=FLOAT32_MEAN)


def test_embed_writes_csv(trained, tmp_path):
    out, _ = trained
    result = run("embed", str(out), "--method", "pca", "--n", "50", "--out", str(tmp_path / "map.csv"))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(tmp_path / "map.csv")))
    assert len(rows) == 50 and set(rows[0]) == {"x", "y", "label", "class", "index"}


def test_listings_as_json():
    models = json.loads(run("models", "--json").stdout)
    assert {row["seed"] for row in models} >= {"S0", "S1", "S2", "S3", "S4", None}
    assert next(row for row in models if row["id"] == "s0-cnn-ae")["latent"] == 576
    datasets = {row["name"]: row for row in json.loads(run("datasets", "--json").stdout)}
    assert datasets["digits"]["available"] and set(datasets) == {"fashion-mnist", "mnist", "cifar10", "sign-mnist", "digits", "mnist-sample"}
    assert datasets["mnist-sample"]["available"], "real MNIST digits are here offline"


@pytest.mark.parametrize("args, message", [
    (("evaluate", "/nonexistent/ckpt"), "not found"),
    (("train", "--model", "s4-conv-392", "--dataset", "digits", "--noise", "pink:3", "--out", "/tmp/x"), "bad corruption kind"),
    (("train", "--model", "s0-cnn-ae", "--dataset", "sign-mnist", "--out", "/tmp/x"), "sign_mnist_train.csv"),
    (("train", "--model", "s4-conv-392", "--dataset", "digits", "--epochs", "0", "--out", "/tmp/x"),
     "epochs must be from 1 to 200, got 0"),
    (("train", "--model", "nope", "--dataset", "digits", "--out", "/tmp/x"), "invalid choice"),
])
def test_bad_input_is_one_clear_line(args, message):
    result = run(*args)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_bad_checkpoint_file_is_one_clear_line(tmp_path, trained):
    out, _ = trained
    (tmp_path / "bad.safetensors").write_bytes(b"\x80\x04garbage")
    (tmp_path / "bad.json").write_text(out.with_suffix(".json").read_text())
    result = run("evaluate", str(tmp_path / "bad"))
    assert result.returncode == 1 and "SHA-256 differs" in result.stderr and "Traceback" not in result.stderr
