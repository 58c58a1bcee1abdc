"""The active model: shipped checkpoints for everyone, and models trained or uploaded in this session.

A model is named by an ``explorer.card.ModelRef``; ``workbench_for`` and ``card_for`` resolve one,
and nothing else looks inside it. Session models and their workbenches live in ``st.session_state``,
so one user's model is never seen by another.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import streamlit as st

from explorer.card import ModelCard, ModelRef
from explorer.checkpoint import DEFAULT_CHECKPOINT, Checkpoint
from explorer.datasets import ImageSet
from explorer.workbench import Workbench
from ui.resources import cards, shipped_workbench, training_split_present

DEFAULT_MODEL = ModelRef("shipped", DEFAULT_CHECKPOINT)


@dataclass
class SessionModel:
    """A model trained or uploaded in this session, with the test images it is explored on."""

    checkpoint: Checkpoint
    test: ImageSet
    class_names: tuple[str, ...]
    workbench: Workbench | None = None


def session_models() -> dict[ModelRef, SessionModel]:
    return st.session_state.setdefault("session_models", {})


def add_session_model(ref: ModelRef, model: SessionModel) -> None:
    """Keep the model in this session; it becomes the active one when the sidebar is next drawn."""
    session_models()[ref] = model
    st.session_state["pending_active_model"] = ref


def choose_model_in_sidebar() -> None:
    """The sidebar's selectbox sets ``active_model``; a newly added model is put in it before it is drawn."""
    pending = st.session_state.pop("pending_active_model", None)
    if pending is not None:
        st.session_state["active_model"] = pending
    refs = model_refs()
    if pending is not None or st.session_state.get("model_choice") not in refs:
        st.session_state["model_choice"] = active_ref()
    st.session_state["active_model"] = st.selectbox(
        "Active model", refs, key="model_choice", format_func=labels_of(refs), bind="query-params",
        help="Shipped pretrained checkpoints, then models trained or uploaded in this session.")


def model_refs() -> list[ModelRef]:
    """Shipped checkpoints, then this session's models."""
    return [ModelRef("shipped", name) for name in cards()] + list(session_models())


def card_for(ref: ModelRef) -> ModelCard:
    return ModelCard(cards()[ref.name] if ref.shipped else session_models()[ref].checkpoint.card)


def label(ref: ModelRef) -> str:
    card = card_for(ref)
    where = "" if ref.shipped else f" ({ref.source} in this session)"
    return f"{card.name}{where} - {card.headline()}"


def labels_of(refs: list[ModelRef]) -> Callable[[ModelRef], str]:
    """A widget's ``format_func`` for these models, labelled now: a widget may format its value outside the
    session's script run (AppTest does), where this session's models cannot be looked up."""
    return {ref: label(ref) for ref in refs}.__getitem__


def workbench_for(ref: ModelRef) -> Workbench:
    if ref.shipped:
        return shipped_workbench(ref.name)
    stored = session_models()[ref]
    if stored.workbench is None:
        stored.workbench = Workbench(stored.checkpoint.model, stored.test, stored.class_names)
    return stored.workbench


def has_whole_dataset(ref: ModelRef) -> bool:
    """Whether a model can be explored on all of its dataset's images (shipped models, training split here)."""
    return ref.shipped and training_split_present(card_for(ref).dataset)


def active_ref() -> ModelRef | None:
    refs = model_refs()
    ref = st.session_state.get("active_model")
    if ref not in refs:
        ref = DEFAULT_MODEL if DEFAULT_MODEL in refs else next(iter(refs), None)
        st.session_state["active_model"] = ref
    return ref


def active_workbench() -> Workbench:
    ref = active_ref()
    if ref is None:
        st.error("No model yet: no shipped checkpoint was found. Train one on the Train page.")
        st.stop()
    return workbench_for(ref)


def active_card() -> ModelCard:
    return card_for(active_ref())


def require_decoder() -> Workbench:
    """The active model's workbench; a page that needs a decoder explains itself and stops otherwise."""
    bench = active_workbench()
    if not bench.can_decode:
        st.info("The active model is S2's embedding network: it has no decoder. Choose an autoencoder in the "
                "sidebar for this page, or use Similarity search.")
        st.stop()
    return bench
