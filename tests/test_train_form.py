"""The Train form and the request it stands for: a preset put in the form and trained is that preset's run."""
from dataclasses import replace

import pytest

from explorer.runs import SEED_PRESETS, preset_request, preset_takes_corruption, quick_variant, run_id
from ui.train_form import FORM_KEYS, REQUEST_KEYS, form_values, request_from_form


@pytest.mark.parametrize("preset", list(SEED_PRESETS))
@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick"])
def test_a_preset_in_the_form_is_the_same_run(preset, quick):
    request = quick_variant(SEED_PRESETS[preset]) if quick else SEED_PRESETS[preset]
    form = {**form_values(request), "train_seed": 3}
    from_form = request_from_form(form)
    assert run_id(from_form) == run_id(replace(request, seed=3)), "same weights as the preset on the student's seed"
    assert from_form.config() == replace(request, seed=3).config()


def test_the_form_carries_corruption_subset_options_and_a_stripped_name():
    form = {**form_values(SEED_PRESETS["S3: Anello denoising on Fashion-MNIST"]), "train_seed": 0,
            "train_noise": "Random erasing", "train_level": 0.5, "train_subset": 2000, "train_bf16": True,
            "train_name": "  erasing group  "}
    request = request_from_form(form, {"train_csv": b"x"})
    assert (request.noise, request.subset, request.settings["precision"], request.name) == (
        "erasing:0.5", 2000, "bf16", "erasing group")
    assert request.sources == {"train_csv": b"x"} and request.classes is None
    assert request_from_form({**form, "train_name": "   "}).name is None


def test_only_the_s3_preset_takes_the_chosen_corruption():
    s3, s1 = "S3: Anello denoising on Fashion-MNIST", "S1: baseline on Fashion-MNIST"
    assert [title for title in SEED_PRESETS if preset_takes_corruption(title)] == [s3]
    assert preset_request(s3, "clean").noise is None and preset_request(s3, "erasing:0.5").noise == "erasing:0.5"
    assert preset_request(s1, "erasing:0.5") == SEED_PRESETS[s1], "a preset without the choice keeps its own"
    assert preset_request(s3, "gaussian:1", quick=True) == quick_variant(replace(SEED_PRESETS[s3], noise="gaussian:1"))


def test_the_workspace_keeps_every_field_the_request_is_made_of():
    form = {**form_values(SEED_PRESETS["S2: metric learning on CIFAR-10"]), "train_seed": 1}
    assert set(form) == set(REQUEST_KEYS) and set(REQUEST_KEYS) <= set(FORM_KEYS)
    kept = {key: value for key, value in form.items() if key in FORM_KEYS}
    assert run_id(request_from_form(kept)) == run_id(request_from_form(form)), "a reloaded form trains the same run"
