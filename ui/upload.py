"""Uploads: a checkpoint (.safetensors + .json card) and a user's own image. Nothing uploaded is unpickled."""
from __future__ import annotations

import streamlit as st
import torch

from explorer.card import ModelCard, ModelRef
from explorer.checkpoint import check_image_shape, load_checkpoint_bytes
from explorer.datasets import dataset_info
from explorer.errors import USER_ERRORS
from explorer.housekeeping import keep_upload
from explorer.drawing import from_upload
from explorer.jobs import Submitter
from explorer.limits import Limits
from explorer.run_store import StoredModel
from explorer.workbench import Workbench
from ui.active_model import add_workspace_model
from ui.resources import run_store, test_split
from ui.training_run import this_client
from ui.workspace import workspace_token

IMAGE_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "webp"]


def upload_checkpoint_form(where: str) -> None:
    """A .safetensors file plus its .json card; refused uploads leave the active model as it was."""
    weights = st.file_uploader("Weights (.safetensors)", type=["safetensors"], key=f"weights-{where}")
    card_file = st.file_uploader("Model card (.json)", type=["json"], key=f"card-{where}")
    if weights is None or card_file is None:
        return
    signature = (weights.file_id, card_file.file_id)
    if st.session_state.get(f"uploaded-{where}") == signature:
        return
    try:
        checkpoint = load_checkpoint_bytes(weights.getvalue(), card_file.getvalue(), weights.name)
        card = ModelCard(checkpoint.card)
        test = test_split(card.dataset)
        check_image_shape(checkpoint, test.images.shape[1:], weights.name, card.dataset)
    except USER_ERRORS as error:
        st.error(f"Upload refused: {error}. The active model is unchanged.")
        return
    name = checkpoint.card.get("name") or weights.name.removesuffix(".safetensors")
    checkpoint.card["name"] = name
    submitter = Submitter(workspace_token(), this_client())
    try:
        run = keep_upload(run_store(), StoredModel(checkpoint, test, dataset_info(card.dataset).class_names),
                          submitter.owner, submitter.holder, Limits.from_environment())
    except USER_ERRORS as error:
        st.error(f"Upload refused: {error}. The active model is unchanged.")
        return
    st.session_state[f"uploaded-{where}"] = signature
    add_workspace_model(ModelRef("uploaded", run))
    st.success(f"Loaded {name}; it is now the active model.")
    st.rerun()


def uploaded_image(label: str, workbench: Workbench, key: str | None = None) -> torch.Tensor | None:
    """A user's picture made like the workbench's images, or None (with a message) until there is a good one."""
    upload = st.file_uploader(label, type=IMAGE_TYPES, key=key)
    if upload is None:
        return None
    try:
        return from_upload(upload.getvalue(), workbench.style, *workbench.pool.images.shape[1:3])
    except USER_ERRORS as error:
        st.error(f"{upload.name}: {error}. Try a PNG or JPEG.")
        return None
