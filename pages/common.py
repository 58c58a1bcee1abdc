"""Shared page plumbing: the active model, caches at the data boundary, uploads and error display.

Shipped checkpoints and datasets are read-only and cached for every session; a model a user trains
or uploads lives in that user's ``st.session_state`` only.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import streamlit as st

from explorer.checkpoint import Checkpoint, CheckpointError, load_checkpoint_bytes
from explorer.datasets import DatasetFormatError, DatasetUnavailable, ImageSet, dataset_info, load_dataset
from explorer.images import to_display
from explorer.models import ModelConfigError, model_info
from explorer.projection import warm_up_umap
from explorer.workbench import Workbench, load_shipped, shipped_checkpoints

DEFAULT_MODEL = "resconv-128-fashion"
USER_ERRORS = (ValueError, CheckpointError, DatasetUnavailable, DatasetFormatError, ModelConfigError, OSError)


def ensure_app_entrypoint() -> None:
    """Route a deep link opened before app.py ever ran through app.py's navigation.

    On a fresh server Streamlit's first run treats a ``pages/`` folder as a legacy multipage app and
    runs the page file alone (no shared sidebar, file names as navigation). app.py calls
    ``st.navigation``, which ends that mode; a page run without it asks for a rerun through app.py.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


ensure_app_entrypoint()


@dataclass
class SessionModel:
    """A model trained or uploaded in this session, with the test images it is explored on."""

    checkpoint: Checkpoint
    test: ImageSet
    class_names: tuple[str, ...]


@st.cache_resource(show_spinner=False)
def start_background_warm_up() -> threading.Thread:
    """Compile UMAP's numba code once per server process, off the request path."""
    thread = threading.Thread(target=warm_up_umap, name="umap-warm-up", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def shipped_cards() -> dict[str, dict]:
    return shipped_checkpoints()


@st.cache_resource(show_spinner="Loading the test images...")
def test_split(dataset: str) -> ImageSet:
    return load_dataset(dataset, need_train=False).test


@st.cache_resource(show_spinner="Loading the pretrained model...")
def shipped_workbench(name: str) -> Workbench:
    checkpoint = load_shipped(name)
    dataset = checkpoint.card["dataset"]
    return Workbench(checkpoint.model, test_split(dataset), dataset_info(dataset).class_names)


@st.cache_resource(show_spinner="Loading every image of the dataset...")
def all_images(dataset: str) -> ImageSet:
    return load_dataset(dataset).everything()


@st.cache_resource(show_spinner="Loading the pretrained model...")
def shipped_workbench_all(name: str) -> Workbench:
    """A shipped model explored on all of its dataset's images (Fashion-MNIST: 70,000)."""
    bench = shipped_workbench(name)
    return Workbench(bench.model, all_images(shipped_cards()[name]["dataset"]), bench.class_names)


def session_models() -> dict[str, SessionModel]:
    return st.session_state.setdefault("session_models", {})


def add_session_model(name: str, model: SessionModel) -> str:
    key = f"session:{name}"
    session_models()[name] = model
    st.session_state.pop(("workbench", key), None)
    st.session_state["active_model"] = key
    return key


def model_choices() -> dict[str, str]:
    """Selectbox key -> label: shipped checkpoints with their card figure, then this session's models."""
    choices = {}
    for name, card in shipped_cards().items():
        choices[f"shipped:{name}"] = f"{card.get('name', name)} - {_headline(card)}"
    for name, model in session_models().items():
        choices[f"session:{name}"] = f"{name} (this session) - {_headline(model.checkpoint.card)}"
    return choices


def _headline(card: dict) -> str:
    metrics = card.get("metrics", {})
    if "retrieval_accuracy" in metrics:
        best = max(metrics["retrieval_accuracy"], key=int)
        return f"retrieval {metrics['retrieval_accuracy'][best]:.1%} ({best} classes)"
    clean = metrics.get("test", {}).get("clean")
    return f"SSIM {clean['ssim']:.3f} on {card.get('dataset')}" if clean else card.get("dataset", "")


def active_key() -> str:
    choices = model_choices()
    key = st.session_state.get("active_model")
    if key not in choices:
        key = f"shipped:{DEFAULT_MODEL}" if f"shipped:{DEFAULT_MODEL}" in choices else next(iter(choices), None)
        st.session_state["active_model"] = key
    return key


def active_workbench() -> Workbench:
    key = active_key()
    if key is None:
        st.error("No model yet: no shipped checkpoint was found. Train one on the Train page.")
        st.stop()
    kind, name = key.split(":", 1)
    if kind == "shipped":
        return shipped_workbench(name)
    stored = st.session_state.get(("workbench", key))
    if stored is None:
        model = session_models()[name]
        stored = Workbench(model.checkpoint.model, model.test, model.class_names)
        st.session_state[("workbench", key)] = stored
    return stored


def active_card() -> dict:
    kind, name = active_key().split(":", 1)
    return shipped_cards()[name] if kind == "shipped" else session_models()[name].checkpoint.card


def require_autoencoder(bench: Workbench) -> None:
    if not bench.is_autoencoder:
        st.info("The active model is S2's embedding network: it has no decoder. Choose an autoencoder in the "
                "sidebar for this page, or use Similarity search.")
        st.stop()


def render_sidebar() -> None:
    with st.sidebar:
        choices = model_choices()
        current = active_key()
        picked = st.selectbox("Active model", list(choices), index=list(choices).index(current), format_func=choices.get,
                              help="Shipped pretrained checkpoints, then models trained or uploaded in this session.")
        if picked != current:
            st.session_state["active_model"] = picked
        card = active_card()
        info = model_info(card["model"])
        st.caption(f"**{info.seed or 'ours'}** · {info.description} · dataset **{card.get('dataset')}**")
        with st.expander("Upload a checkpoint"):
            upload_checkpoint_form("sidebar")


def upload_checkpoint_form(where: str) -> None:
    """A .safetensors file plus its .json card; refused uploads leave the active model as it was."""
    weights = st.file_uploader("Weights (.safetensors)", type=["safetensors"], key=f"weights-{where}")
    card = st.file_uploader("Model card (.json)", type=["json"], key=f"card-{where}")
    if weights is None or card is None:
        return
    signature = (weights.file_id, card.file_id)
    if st.session_state.get(f"uploaded-{where}") == signature:
        return
    try:
        checkpoint = load_checkpoint_bytes(weights.getvalue(), card.getvalue(), weights.name)
        dataset = checkpoint.card.get("dataset", "fashion-mnist")
        test = test_split(dataset)
        config = checkpoint.model.config
        if test.images.shape[1:] != (config["channels"], config["size"], config["size"]):
            raise CheckpointError(f"{weights.name} was built for {config['channels']}x{config['size']}x{config['size']} "
                                  f"images but {dataset} has {'x'.join(map(str, test.images.shape[1:]))}")
    except USER_ERRORS as error:
        st.error(f"Upload refused: {error}. The active model is unchanged.")
        return
    st.session_state[f"uploaded-{where}"] = signature
    name = checkpoint.card.get("name") or weights.name.removesuffix(".safetensors")
    add_session_model(name, SessionModel(checkpoint, test, dataset_info(dataset).class_names))
    st.success(f"Loaded {name}; it is now the active model.")
    st.rerun()


def linked_choice(name: str, options: list, default):
    """The option a link names (``?points=10000``), so a teacher can share a prepared view; else ``default``."""
    wanted = st.query_params.get(name)
    return next((option for option in options if str(option) == wanted), default)


def image_row(images, captions=None, width: int = 84) -> None:
    """A row of small images; Streamlit lays out a list of images side by side."""
    st.image(to_display(images), caption=captions, width=width, clamp=True)
