import json
import os
import pickle
import stat

import pytest
import torch

from explorer.checkpoint import CheckpointError, checkpoint_paths, load_checkpoint, load_checkpoint_bytes, make_card, save_checkpoint
from explorer.models import create_model


@pytest.fixture
def saved(tmp_path):
    model = create_model("s4-conv-392")
    save_checkpoint(tmp_path / "s4", model, make_card(model, dataset="digits"))
    return tmp_path / "s4"


def test_card_records_architecture_versions_and_hash(saved):
    card = json.loads(checkpoint_paths(saved)[1].read_text())
    assert card["model"] == "s4-conv-392" and card["config"] == {"channels": 1, "size": 28}
    assert card["latent_shape"] == [8, 7, 7] and "torch" in card["libraries"] and len(card["weights_sha256"]) == 64


def test_wrong_architecture_says_what_differs(saved):
    weights, card = checkpoint_paths(saved)
    other = json.loads(card.read_text())
    other.update(model="s0-cnn-ae", config={"channels": 1, "size": 28})
    with pytest.raises(CheckpointError, match="do not fit s0-cnn-ae.*missing .* tensors"):
        load_checkpoint_bytes(weights.read_bytes(), json.dumps(other).encode())


def test_wrong_shape_names_the_tensor(tmp_path):
    big = create_model("s3-anello", latent_dim=16)
    save_checkpoint(tmp_path / "a", big, make_card(big))
    weights, card = checkpoint_paths(tmp_path / "a")
    claimed = json.loads(card.read_text())
    claimed["config"]["latent_dim"] = 4
    del claimed["weights_sha256"]
    with pytest.raises(CheckpointError, match=r"wrong shape \(encoder.10.weight is \(16, 128\) but s3-anello needs \(4, 128\)"):
        load_checkpoint_bytes(weights.read_bytes(), json.dumps(claimed).encode())


def test_truncated_weights_are_refused(saved):
    weights, card = checkpoint_paths(saved)
    weights.write_bytes(weights.read_bytes()[:300])
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        load_checkpoint(saved)
    claimed = json.loads(card.read_text())
    del claimed["weights_sha256"]
    with pytest.raises(CheckpointError, match="not a readable .safetensors"):
        load_checkpoint_bytes(weights.read_bytes(), json.dumps(claimed).encode())


def test_a_pickle_is_never_unpickled(tmp_path, saved):
    marker = tmp_path / "exploited"

    class Exploit:
        def __reduce__(self):
            return (marker.write_text, ("pwned",))

    for payload in (pickle.dumps(Exploit()), pickle.dumps({"w": torch.zeros(2)})):
        with pytest.raises(CheckpointError):
            load_checkpoint_bytes(payload, json.dumps({"model": "s4-conv-392", "config": {}}).encode())
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="not a valid JSON model card"):
        load_checkpoint_bytes(b"", b"\x80\x04not json")


def test_missing_file_and_unknown_model(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nothing")
    with pytest.raises(CheckpointError, match="cannot build"):
        load_checkpoint_bytes(b"", json.dumps({"model": "gan", "config": {}}).encode())


def test_saved_files_get_the_usual_permissions(saved):
    umask = os.umask(0)
    os.umask(umask)
    for path in checkpoint_paths(saved):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # readable by whoever serves the app


def test_interrupted_save_leaves_no_partial_file(tmp_path, monkeypatch):
    model = create_model("s4-conv-392")
    import explorer.files as files

    def failing_replace(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "m", model, make_card(model))
    assert list(tmp_path.iterdir()) == []
