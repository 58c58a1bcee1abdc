import pytest
import torch

from explorer.checkpoint import load_checkpoint, make_card, save_checkpoint
from explorer.models import ModelConfigError, create_model, latent_size, list_models, model_info, pick_device
from explorer.training import LOSSES, anchor_positive_loss

MODEL_IDS = [info.model_id for info in list_models()]
LATENTS = {"s0-cnn-ae": 576, "s1-dense-128": 128, "s1-modified-256": 256, "s2-embedding": 8, "s3-anello": 4,
           "s4-conv-392": 392, "resconv-128": 128}


def test_every_seed_is_in_the_registry():
    seeds = {info.seed_system for info in list_models()}
    assert {"S0", "S1", "S2", "S3", "S4", None} <= seeds
    assert set(LATENTS) == set(MODEL_IDS)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_shapes(model_id):
    model = create_model(model_id).eval()
    images = torch.rand(3, 1, 28, 28)
    latents = model.encode(images)
    assert latents.shape == (3, LATENTS[model_id]) == (3, latent_size(model))
    if model_info(model_id).is_autoencoder:
        output = model.decode(latents)
        assert output.shape == images.shape and 0 <= output.min() and output.max() <= 1
    else:
        assert torch.allclose(latents.norm(dim=1), torch.ones(3), atol=1e-5)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_a_few_steps_lower_the_loss(model_id):
    torch.manual_seed(0)
    model = create_model(model_id)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.rand(20, 1, 28, 28) * (torch.arange(28) / 28)
    if model_info(model_id).is_autoencoder:
        compute = lambda: LOSSES["mse"](model(images), images)
    else:
        compute = lambda: anchor_positive_loss(model, images[:10], images[:10] + 0.05 * torch.randn(10, 1, 28, 28))
    first = compute().item()
    for _ in range(15):
        loss = compute()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert compute().item() < first


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_save_then_load_gives_identical_outputs(model_id, tmp_path):
    model = create_model(model_id).eval()
    images = torch.rand(4, 1, 28, 28)
    save_checkpoint(tmp_path / "m", model, make_card(model, dataset="digits"))
    loaded = load_checkpoint(tmp_path / "m").model
    with torch.no_grad():
        assert torch.equal(model.encode(images), loaded.encode(images))


def test_models_adapt_to_cifar_shape_or_refuse():
    colour = torch.rand(2, 3, 32, 32)
    for model_id in ("s4-conv-392", "s1-dense-128", "resconv-128", "s1-modified-256"):
        model = create_model(model_id, channels=3, size=32).eval()
        assert model(colour).shape == colour.shape
    assert create_model("s2-embedding", channels=3, size=32).encode(colour).shape == (2, 8)
    with pytest.raises(ModelConfigError, match="28x28 images; this dataset's images are 32x32"):
        create_model("s0-cnn-ae", channels=3, size=32)


def test_unknown_model_and_bad_parameter_are_clear():
    with pytest.raises(ModelConfigError, match="unknown model 'vae'"):
        create_model("vae")
    with pytest.raises(ModelConfigError, match="bad parameter"):
        create_model("s4-conv-392", latent_dim=3)


def test_s3_latent_size_is_a_parameter():
    assert latent_size(create_model("s3-anello", latent_dim=16)) == 16


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_device_is_picked_not_assumed(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert pick_device().type == expected
