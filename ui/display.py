"""Small display helpers shared by the pages."""
from __future__ import annotations

import streamlit as st

from explorer.images import to_display


def image_row(images, captions=None, width: int = 84) -> None:
    """A row of small images; Streamlit lays out a list of images side by side."""
    st.image(to_display(images), caption=captions, width=width, clamp=True)


def image_columns(rows: list[tuple], gap: str = "small") -> None:
    """One column per image, the rows stacked in it (original over input over reconstruction), so each
    image lines up with its own versions however narrow the screen. ``rows``: (images, captions or None)."""
    count = len(rows[0][0])
    for column, position in zip(st.columns(count, gap=gap), range(count)):
        with column:
            for images, captions in rows:
                st.image(to_display(images[position:position + 1]), caption=captions[position] if captions else None,
                         width="stretch", clamp=True)
