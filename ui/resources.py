"""Read-only objects shared by every session, cached at the boundary where they are loaded.

``st.cache_resource`` holds a lock per key, so a class opening the app at once loads each model and
dataset once. Nothing here is ever modified by a session: a student's work lives in the run store,
and a finished run, read from there, is as read-only as a shipped checkpoint.
"""
from __future__ import annotations

import os
import subprocess

import plotly.graph_objects as go
import streamlit as st

from explorer.card import ModelCard
from explorer.checkpoint import load_shipped, shipped_cards
from explorer.datasets import ImageSet, dataset_info, load_dataset
from explorer.jobs import JobEngine, JobQueue
from explorer.projection import warm_up_umap_elsewhere
from explorer.redis_jobs import URL_ENV, RedisJobQueue
from explorer.run_store import RunStore
from explorer.workbench import Workbench
from ui.replay import recording_cost, replay_figure

# Every shipped model fits (Experiments alone shows 14); a model and its test-split latents are ~10 MB.
MAX_SHIPPED_WORKBENCHES = 32
# Runs of this class's workspaces being explored now (a quick run and its test images: ~2 MB).
MAX_STORED_WORKBENCHES = 64
MAX_STORED_CARDS = 512
# All 70,000 Fashion-MNIST images with their latents and maps: ~150 MB each.
MAX_WHOLE_DATASET_WORKBENCHES = 2


@st.cache_resource(show_spinner=False)
def start_background_warm_up() -> subprocess.Popen:
    """Once per server process: a niced process makes sure UMAP's compiled code is in numba's disk cache."""
    return warm_up_umap_elsewhere()


@st.cache_resource(show_spinner=False)
def cards() -> dict[str, dict]:
    return shipped_cards()


@st.cache_resource(show_spinner="Loading the test images...")
def test_split(dataset: str) -> ImageSet:
    return load_dataset(dataset, need_train=False).test


@st.cache_resource(show_spinner="Loading every image of the dataset...", max_entries=MAX_WHOLE_DATASET_WORKBENCHES)
def all_images(dataset: str) -> ImageSet:
    return load_dataset(dataset).everything()


@st.cache_resource(show_spinner="Loading the pretrained model...", max_entries=MAX_SHIPPED_WORKBENCHES)
def shipped_workbench(name: str) -> Workbench:
    """A shipped model on its dataset's test split."""
    dataset = cards()[name]["dataset"]
    info = dataset_info(dataset)
    return Workbench(load_shipped(name).model, test_split(dataset), info.class_names, info.style)


@st.cache_resource(show_spinner="Loading every image of the dataset...", max_entries=MAX_WHOLE_DATASET_WORKBENCHES)
def whole_dataset_workbench(name: str) -> Workbench:
    """A shipped model on all of its dataset's images (Fashion-MNIST: 70,000), the test split first."""
    dataset = cards()[name]["dataset"]
    shipped = shipped_workbench(name)
    return Workbench(shipped.model, all_images(dataset), shipped.class_names, shipped.style)


@st.cache_resource(show_spinner=False, ttl=60)
def training_split_present(dataset: str) -> bool:
    """Looked up on disk at most once a minute, not on every click (files a user adds appear within it)."""
    return dataset_info(dataset).has_training_split()


@st.cache_resource(show_spinner=False)
def run_store() -> RunStore:
    """Where every workspace's runs and uploads are kept (``EXPLORER_STORE``, else ./store)."""
    return RunStore.from_environment()


@st.cache_resource(show_spinner=False)
def job_queue() -> JobEngine:
    """The training queue every workspace's runs wait in: this server's threads, or with ``REDIS_URL``
    set, RQ workers that app replicas share (explorer.redis_jobs)."""
    url = os.environ.get(URL_ENV)
    return RedisJobQueue(run_store(), url) if url else JobQueue(run_store())


def stored_card(run: str) -> dict:
    """A stored run's model card, read from disk once per version of its checkpoint."""
    return _card_version(run, run_store().model_version(run))


def stored_workbench(run: str) -> Workbench:
    """A stored run's model on its test images; sessions exploring the same run share one. Exploring it marks it
    as used, cached or not, so the store's cap keeps it."""
    store = run_store()
    store.touch(run)
    return _workbench_version(run, store.model_version(run))


def stored_replay(run: str) -> tuple[go.Figure, str] | None:
    """A stored run's training replay and what recording it cost, or None if it kept no record."""
    return _replay_version(run, run_store().model_version(run))


@st.cache_resource(show_spinner="Aligning the epochs...", max_entries=MAX_STORED_WORKBENCHES)
def _replay_version(run: str, version: int) -> tuple[go.Figure, str] | None:
    record = run_store().probe(run)
    if record is None or not record.epochs:
        return None
    card = stored_card(run)
    return replay_figure(record, tuple(card["class_names"]), card["history"]), recording_cost(record, card["history"])


@st.cache_resource(show_spinner=False, max_entries=MAX_STORED_CARDS)
def _card_version(run: str, version: int) -> dict:
    return run_store().card(run)


@st.cache_resource(show_spinner="Loading the model...", max_entries=MAX_STORED_WORKBENCHES)
def _workbench_version(run: str, version: int) -> Workbench:
    stored = run_store().load(run)
    return Workbench(stored.checkpoint.model, stored.test, stored.class_names,
                     dataset_info(ModelCard(stored.checkpoint.card).dataset).style)
