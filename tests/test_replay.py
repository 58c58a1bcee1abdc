"""The training replay: a probe record per epoch, layouts aligned so an unchanged model stands still, a frame per
epoch, and what recording costs."""
import numpy as np
import pytest
import torch

from explorer.datasets import load_dataset
from explorer.models import create_model
from explorer.replay import PROBE_IMAGES, SHOWN_IMAGES, ProbeRecord, ProbeRecorder, aligned_layouts, choose_probe
from tolerance import FLOAT32_SCORE
from ui.replay import replay_figure


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_a_record_has_one_entry_per_epoch_in_the_probe_s_shape_and_reads_back(digits):
    torch.manual_seed(0)
    model = create_model("s4-conv-392")
    probe = choose_probe(digits.val, seed=3)
    assert len(probe) == min(PROBE_IMAGES, len(digits.val))
    assert np.array_equal(probe.labels, choose_probe(digits.val, seed=3).labels), "the run's seed fixes the probe"
    recorder = ProbeRecorder(probe, decodes=True)
    for _ in range(3):
        recorder.after_epoch(model)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.05 * torch.randn_like(parameter))
    record = ProbeRecord.from_bytes(recorder.record.to_bytes())
    assert record.epochs == 3 and len(record.seconds) == 3 and model.training
    assert all(latents.shape == (len(probe), 392) and latents.dtype == np.float16 for latents in record.latents)
    assert all(pictures.shape == (SHOWN_IMAGES, 1, 28, 28) for pictures in record.reconstructions)
    assert np.array_equal(record.shown, probe.images[:SHOWN_IMAGES])
    assert not np.array_equal(record.latents[0], record.latents[2]), "each epoch's weights give other latents"


def test_alignment_keeps_an_unchanged_model_in_place_and_undoes_a_rotation():
    latents = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float16)
    layouts = aligned_layouts([latents, latents.copy()])
    assert np.abs(layouts[1] - layouts[0]).max() < FLOAT32_SCORE, "displacement 0 for a model that did not change"
    rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(16, 16)))[0]  # any orthogonal change of basis
    turned = (latents.astype(np.float64) @ rotation).astype(np.float32)
    aligned = aligned_layouts([latents, turned])
    assert np.abs(aligned[1] - aligned[0]).max() < 1e-2, "a rotated latent space is the same map"
    assert np.sqrt((aligned[0] ** 2).sum(axis=1).mean()) == pytest.approx(1.0), "unit spread"


def test_the_replay_has_a_frame_per_epoch_with_its_accuracy_and_reconstructions(digits):
    probe = choose_probe(digits.val, seed=0, count=200)
    recorder = ProbeRecorder(probe, decodes=True)
    model = create_model("s4-conv-392")
    for _ in range(4):
        recorder.after_epoch(model)
    history = [{"epoch": e, "val_loss": 0.5 / e, "seconds": 1.0} for e in range(1, 5)]
    figure = replay_figure(recorder.record, digits.class_names, history)
    assert [frame.name for frame in figure.frames] == ["1", "2", "3", "4"]
    classes = len(set(probe.labels.tolist()))
    assert all(len(frame.data) == classes + 1 for frame in figure.frames), "a trace per class and the image strip"
    assert "Epoch 2: 5-NN accuracy" in figure.frames[1].layout.title.text and "0.2500" in figure.frames[1].layout.title.text
    assert [step["label"] for step in figure.layout.sliders[0].steps] == ["1", "2", "3", "4"]
    assert figure.frames[0].data[-1].z.shape == (56, 28 * SHOWN_IMAGES, 3)
