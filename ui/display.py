"""Small display helpers shared by the pages."""
from __future__ import annotations

import streamlit as st

from explorer.images import to_display


def image_row(images, captions=None, width: int = 84) -> None:
    """A row of small images; Streamlit lays out a list of images side by side."""
    st.image(to_display(images), caption=captions, width=width, clamp=True)


def linked_choice(name: str, options: list, default):
    """The option a link names (``?points=10000``), so a teacher can share a prepared view; else ``default``."""
    wanted = st.query_params.get(name)
    return next((option for option in options if str(option) == wanted), default)
