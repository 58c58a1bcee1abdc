import copy
import math

import numpy as np
import pytest
import torch

from explorer.corruption import GaussianNoise
from explorer.datasets import load_dataset
from explorer.models import create_model, model_info
from explorer.training import TrainConfig, mirror_half, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits").subset(300)


def _config(**settings):
    return TrainConfig(**{"epochs": 2, "batch_size": 32, **settings})


def test_training_lowers_validation_loss_and_reports(digits):
    torch.manual_seed(0)
    model = create_model("s4-conv-392")
    steps, epochs = [], []
    result = train(model, digits, _config(epochs=3, loss="bce"), on_step=steps.append, on_epoch=epochs.append)
    assert [e.epoch for e in epochs] == [1, 2, 3] and len(steps) == 3 * math.ceil(300 / 32)
    assert epochs[-1].val_loss < epochs[0].val_loss and result.stop_reason == "completed"
    assert not model.training


def test_one_cycle_warms_up_then_anneals_to_nearly_zero(digits):
    steps = []
    train(create_model("s4-conv-392"), digits, _config(epochs=4, schedule="one-cycle", learning_rate=0.01),
          on_step=steps.append)
    rates = [step.learning_rate for step in steps]
    peak = int(np.argmax(rates))
    assert rates[0] < 0.001 and rates[peak] == pytest.approx(0.01) and 0.1 < peak / len(rates) < 0.2
    assert rates[-1] < 1e-5 and all(a >= b for a, b in zip(rates[peak:], rates[peak + 1:]))


@pytest.mark.parametrize("model_id", ["resconv-128", "s2-embedding"])
def test_bf16_forward_trains_float32_weights(model_id):
    digits = load_dataset("digits").subset(800)  # metric learning needs two validation images of every class
    torch.manual_seed(0)
    model = create_model(model_id)
    forward_types = set()
    model.encoder[0].register_forward_hook(lambda module, inputs, output: forward_types.add(output.dtype))
    info = model_info(model_id)
    result = train(model, digits, _config(epochs=3, loss=info.recipe.loss, precision="bf16", learning_rate=3e-3,
                                          steps_per_epoch=20))
    assert torch.bfloat16 in forward_types  # training steps ran in bf16 (validation runs in float32)
    assert all(parameter.dtype == torch.float32 for parameter in model.parameters())
    assert result.history[-1].val_loss < result.history[0].val_loss


def test_mirror_half_mirrors_a_random_half_left_to_right():
    batch = torch.rand(400, 1, 6, 7)
    mirrored = mirror_half(batch, torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(after, before.flip(-1)) for after, before in zip(mirrored, batch)])
    kept = torch.tensor([torch.equal(after, before) for after, before in zip(mirrored, batch)])
    assert (flipped ^ kept).all() and 160 < int(flipped.sum()) < 240


def _first_batch_seen(model_id: str, digits, **settings) -> torch.Tensor:
    """The images of the first training step, as the model's encoder received them."""
    seen = []
    torch.manual_seed(0)
    model = create_model(model_id)
    model.encoder.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].detach().clone()))
    config = TrainConfig.from_recipe(model_info(model_id), epochs=1, steps_per_epoch=1, **settings)
    train(model, digits, config, should_stop=lambda: True)
    return seen[0]


@pytest.mark.parametrize("model_id, settings", [("s4-conv-392", {"batch_size": 64}),
                                                ("s2-embedding", {"classes": (0, 1, 2, 3)})])
def test_mirroring_mirrors_about_half_of_what_the_model_sees(digits, model_id, settings):
    plain = _first_batch_seen(model_id, digits, flip=False, **settings)
    mirrored = _first_batch_seen(model_id, digits, flip=True, **settings)
    same = torch.tensor([torch.equal(a, b) for a, b in zip(plain, mirrored)])
    flipped = torch.tensor([torch.equal(a.flip(-1), b) and not torch.equal(a, b) for a, b in zip(plain, mirrored)])
    assert (same | flipped).all() and 0 < int(flipped.sum()) < len(plain)


def test_mirrored_training_still_learns(digits):
    torch.manual_seed(0)
    history = train(create_model("s4-conv-392"), digits, _config(epochs=3, loss="bce", flip=True)).history
    assert history[-1].val_loss < history[0].val_loss


def test_constant_schedule_keeps_the_rate(digits):
    steps = []
    train(create_model("s4-conv-392"), digits, _config(learning_rate=0.003), on_step=steps.append)
    assert {step.learning_rate for step in steps} == {0.003}


def test_same_seed_same_run(digits):
    losses = []
    for _ in range(2):
        torch.manual_seed(1)
        model = create_model("s3-anello")
        result = train(model, digits, _config(corruption=GaussianNoise(0.2), seed=5))
        losses.append([e.train_loss for e in result.history])
    assert losses[0] == losses[1]


def test_the_best_epochs_weights_are_kept_when_later_epochs_are_worse(digits):
    torch.manual_seed(0)
    model = create_model("s4-conv-392")
    snapshot = {}

    def spoil_after_epoch_two(report) -> None:
        if report.epoch == 2:
            snapshot.update(copy.deepcopy(model.state_dict()))
        if report.epoch >= 2:  # later epochs start from ruined weights, so epoch 2 stays the best
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.add_(torch.randn_like(parameter) * 5)

    result = train(model, digits, _config(epochs=4, loss="bce"), on_epoch=spoil_after_epoch_two)
    assert result.best_epoch == 2 and result.epochs_run == 4
    assert all(torch.equal(value, snapshot[key]) for key, value in model.state_dict().items())


def test_stop_flag_ends_the_run_with_a_model(digits):
    model = create_model("s4-conv-392")
    result = train(model, digits, _config(epochs=5), should_stop=lambda: True)
    assert result.epochs_run == 1 and "stopped by the user" in result.stop_reason and result.best_epoch == 1


def test_early_stopping(digits):
    model = create_model("s3-anello")
    result = train(model, digits, _config(epochs=30, patience=1, learning_rate=0.05))
    assert result.epochs_run < 30 and "early stopping" in result.stop_reason
    assert result.best_epoch == min(range(len(result.history)), key=lambda i: result.history[i].val_loss) + 1


def test_nan_loss_stops_with_a_clear_message(digits):
    model = create_model("s1-dense-128")
    result = train(model, digits, _config(epochs=3, learning_rate=1e12, loss="mse"))
    assert result.failed and "NaN" in result.stop_reason and "lower learning rate" in result.stop_reason
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())


def test_metric_learning_on_class_subset(digits):
    torch.manual_seed(0)
    model = create_model("s2-embedding")
    config = TrainConfig.from_recipe(model_info("s2-embedding"), epochs=3, classes=(0, 1, 2, 3), steps_per_epoch=60)
    result = train(model, digits, config)
    assert all(e.val_accuracy is not None for e in result.history)
    assert result.history[-1].val_accuracy > 0.6


def test_bad_settings_are_refused(digits):
    with pytest.raises(ValueError, match="epochs must be from 1 to 200, got 0"):
        train(create_model("s4-conv-392"), digits, _config(epochs=0))
    with pytest.raises(ValueError, match="epochs must be from 1 to 200, got 201"):
        train(create_model("s4-conv-392"), digits, _config(epochs=201))
    with pytest.raises(ValueError, match="batch size must be from 1 to 1,024, got 5000"):
        train(create_model("s4-conv-392"), digits, _config(batch_size=5000))
    with pytest.raises(ValueError, match="weight decay must be zero or positive"):
        train(create_model("s4-conv-392"), digits, _config(weight_decay=-0.1))
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16"):
        train(create_model("s4-conv-392"), digits, _config(precision="fp16"))
    with pytest.raises(ValueError, match="schedule must be one of constant, one-cycle"):
        train(create_model("s4-conv-392"), digits, _config(schedule="cosine"))
    with pytest.raises(ValueError, match="target must be one of clean, corrupted"):
        train(create_model("s4-conv-392"), digits, _config(target="noisy"))
    with pytest.raises(ValueError, match="needs the training split"):
        train(create_model("s4-conv-392"), load_dataset("fashion-mnist", need_train=False), _config())


def test_scoring_against_corrupted_targets_adds_the_noise_no_model_can_predict(digits):
    """S3's seed trained on a corrupted copy of the data: the model is scored against the noisy image."""
    noise = GaussianNoise(0.5)
    clean, noisy = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    assert _config(target="corrupted").targets(clean, noisy) is noisy and _config().targets(clean, noisy) is clean
    losses = {}
    for target in ("clean", "corrupted"):
        torch.manual_seed(0)
        result = train(create_model("s3-anello"), digits, _config(epochs=3, corruption=noise, target=target))
        losses[target] = result.history[-1].val_loss
    assert losses["corrupted"] > losses["clean"] + 0.005
