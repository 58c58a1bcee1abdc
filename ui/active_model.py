"""The active model: shipped checkpoints for everyone, and the models trained or uploaded in this workspace.

A model is named by an ``explorer.card.ModelRef``; ``workbench_for`` and ``card_for`` resolve one,
and nothing else looks inside it. A workspace's models are runs in the run store, listed by the
workspace, so one student's model is never offered to another (unless they share the link).
"""
from __future__ import annotations

from typing import Callable

import plotly.graph_objects as go
import streamlit as st

from explorer.card import ModelCard, ModelRef
from explorer.checkpoint import DEFAULT_CHECKPOINT
from explorer.workbench import Workbench
from ui.resources import (cards, run_store, shipped_workbench, stored_card, stored_replay, stored_workbench,
                          training_split_present, whole_dataset_workbench)
from ui.workspace import save, workspace

DEFAULT_MODEL = ModelRef("shipped", DEFAULT_CHECKPOINT)
CHOICE, PENDING_CHOICE = "model_choice", "pending_model_choice"
MODEL_PARAM, LEGACY_MODEL_PARAM = "model", "model_choice"  # the id in links; the label older links held


def workspace_models() -> list[ModelRef]:
    """This workspace's runs that ended with a model and its uploads, oldest first, then runs opened from the board."""
    kept = workspace()
    refs = []
    for run in kept.runs + [run for run in kept.shared if run not in kept.runs]:
        status = run_store().status(run)
        if status and status.get("has_model"):
            refs.append(ModelRef("shared" if run not in kept.runs else status.get("origin", "trained"), run))
    return refs


def open_from_board(run: str) -> None:
    """Another student's run becomes this workspace's active model, to explore (its own runs stay its own)."""
    kept = workspace()
    if run not in kept.runs and run not in kept.shared:
        kept.shared.append(run)
        save(kept)
    make_active_when_drawn(ModelRef("trained" if run in kept.runs else "shared", run))


def add_workspace_model(ref: ModelRef) -> None:
    """Keep the model in this workspace; it becomes the active one when the sidebar is next drawn."""
    kept = workspace()
    kept.add_run(ref.key)
    save(kept)
    make_active_when_drawn(ref)


def make_active_when_drawn(ref: ModelRef) -> None:
    """A widget's value cannot change once it is drawn in a run, so a model added after the sidebar (an upload)
    or before it (a finished run) is handed to the sidebar, which puts it in its selectbox."""
    st.session_state[PENDING_CHOICE] = ref


def choose_model_in_sidebar() -> None:
    """The sidebar's selectbox (key ``model_choice``) is the one home of the active model; the address carries
    its stable id (``model=``: a checkpoint's file stem or a run id), never its label, which holds measured
    figures that change when a card is re-measured."""
    refs = model_refs()
    pending = st.session_state.pop(PENDING_CHOICE, None)
    if pending in refs:
        st.session_state[CHOICE] = pending
    elif CHOICE not in st.session_state:  # the session's first run: the link decides
        st.session_state[CHOICE] = linked_ref(refs) or default_ref(refs)
    elif st.session_state[CHOICE] not in refs:
        st.session_state[CHOICE] = default_ref(refs)
    st.selectbox("Active model", refs, key=CHOICE, format_func=labels_of(refs),
                 help="Shipped pretrained checkpoints, then the models trained or uploaded in this workspace.")
    put_in_address(st.session_state[CHOICE], default_ref(refs))


def linked_ref(refs: list[ModelRef]) -> ModelRef | None:
    """The model a link names: by id, or by the label older links carried."""
    key, legacy_label = st.query_params.get(MODEL_PARAM), st.query_params.get(LEGACY_MODEL_PARAM)
    if key:
        return next((ref for ref in refs if ref.key == key), None)
    return next((ref for ref in refs if label(ref) == legacy_label), None) if legacy_label else None


def follow_linked_model() -> None:
    """After this session followed a view into its address (a teacher's, see ui/follow.py): the model the address
    names becomes active; a run this workspace does not have (the teacher's) opens as the board's runs do."""
    refs = model_refs()
    key = st.query_params.get(MODEL_PARAM)
    chosen = linked_ref(refs) if key else default_ref(refs)
    if chosen is not None:
        make_active_when_drawn(chosen)
    elif key and (run_store().status(key) or {}).get("has_model"):
        open_from_board(key)


def put_in_address(chosen: ModelRef | None, default: ModelRef | None) -> None:
    """The active model's id in the address (none for the default model, as for every control at its default)."""
    st.query_params.pop(LEGACY_MODEL_PARAM, None)
    wanted = None if chosen is None or chosen == default else chosen.key
    if wanted is None:
        st.query_params.pop(MODEL_PARAM, None)
    elif st.query_params.get(MODEL_PARAM) != wanted:
        st.query_params[MODEL_PARAM] = wanted


def model_refs() -> list[ModelRef]:
    """Shipped checkpoints, then this workspace's models."""
    return [ModelRef("shipped", name) for name in cards()] + workspace_models()


def card_for(ref: ModelRef) -> ModelCard:
    return ModelCard(cards()[ref.key] if ref.shipped else stored_card(ref.key))


def label(ref: ModelRef) -> str:
    card = card_for(ref)
    where = {"shipped": "", "shared": " (from the class board)"}.get(ref.source, f" ({ref.source} in this workspace)")
    return f"{card.name}{where} - {card.headline()}"


def labels_of(refs: list[ModelRef]) -> Callable[[ModelRef], str]:
    """A widget's ``format_func`` for these models, labelled now: a widget may format its value outside the
    session's script run (AppTest does), where this workspace cannot be looked up."""
    return {ref: label(ref) for ref in refs}.__getitem__


def workbench_for(ref: ModelRef) -> Workbench:
    return shipped_workbench(ref.key) if ref.shipped else stored_workbench(ref.key)


def has_whole_dataset() -> bool:
    """Whether the active model can be explored on all of its dataset's images (shipped models, training split
    on this machine)."""
    ref = active_ref()
    return ref is not None and ref.shipped and training_split_present(card_for(ref).dataset)


def default_ref(refs: list[ModelRef]) -> ModelRef | None:
    return DEFAULT_MODEL if DEFAULT_MODEL in refs else next(iter(refs), None)


def active_ref() -> ModelRef | None:
    """The model chosen in the sidebar (drawn before every page)."""
    return st.session_state.get(CHOICE)


def active_workbench(whole_dataset: bool = False) -> Workbench:
    """The active model on its test split, or with ``whole_dataset`` (see ``has_whole_dataset``) on every image."""
    ref = active_ref()
    if ref is None:
        st.error("No model yet: no shipped checkpoint was found. Train one on the Train page.")
        st.stop()
    return whole_dataset_workbench(ref.key) if whole_dataset else workbench_for(ref)


def active_replay() -> tuple[go.Figure, str] | None:
    """The active model's training replay and its cost, if it was trained here (shipped models kept none)."""
    ref = active_ref()
    return None if ref is None or ref.shipped else stored_replay(ref.key)


def active_card() -> ModelCard:
    return card_for(active_ref())


def require_decoder() -> Workbench:
    """The active model's workbench; a page that needs a decoder explains itself and stops otherwise."""
    workbench = active_workbench()
    if not workbench.can_decode:
        st.info("The active model is S2's embedding network: it has no decoder. Choose an autoencoder in the "
                "sidebar for this page, or use Similarity search.")
        st.stop()
    return workbench
