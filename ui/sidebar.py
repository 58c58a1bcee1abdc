"""The sidebar every page shares: the active model, its one-line description, checkpoint upload, a run's status."""
from __future__ import annotations

import streamlit as st

from explorer.lesson import Lesson
from explorer.models import model_info
from ui.training_run import adopt_finished_run, render_sidebar_status
from ui.active_model import active_card, choose_model_in_sidebar
from ui.follow import present_controls
from ui.upload import upload_checkpoint_form
from ui.workspace import damaged_notice


def render_sidebar(lesson: Lesson | None) -> None:
    """``lesson``: the workspace's lesson, read once per run by the frame."""
    adopt_finished_run()
    with st.sidebar:
        damaged_notice()
        choose_model_in_sidebar()
        card = active_card()
        info = model_info(card.model_id)
        st.caption(f"**{info.seed_system or 'ours'}** · {info.description} · dataset **{card.dataset}**")
        render_sidebar_status()
        present_controls(lesson)
        with st.expander("Upload a checkpoint"):
            upload_checkpoint_form("sidebar")
