"""Small display helpers shared by the pages.

Images reach the browser as PNG bytes encoded once: the same pictures on every rerun (a page's 8
reconstructions, a selection) cost a look-up, not an encoding, per click.
"""
from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from typing import Callable, Sequence, TypeVar

import numpy as np
import streamlit as st

from explorer.images import png, to_display

# About 1,000 small pictures (Fashion-MNIST: ~0.5 KB each as PNG), shared by every session.
MAX_ENCODED_PICTURES = 4096
STRIP_GAP_PIXELS = 1
_encoded: OrderedDict[bytes, bytes] = OrderedDict()
_encoded_lock = threading.Lock()
_kept: dict[tuple[int, str], tuple[weakref.ref, object]] = {}
Value = TypeVar("Value")


def encoded(picture: np.ndarray) -> bytes:
    """The PNG of a uint8 picture, from a bounded memo keyed by the picture's content."""
    key = hashlib.blake2b(picture.tobytes() + str(picture.shape).encode(), digest_size=16).digest()
    with _encoded_lock:
        if key in _encoded:
            _encoded.move_to_end(key)
            return _encoded[key]
    data = png(picture)
    with _encoded_lock:
        _encoded[key] = data
        while len(_encoded) > MAX_ENCODED_PICTURES:
            _encoded.popitem(last=False)
    return data


def image_row(images, alt: str | Sequence[str], captions=None, width: int = 84) -> None:
    """A row of small images side by side, each ``width`` pixels wide; without captions they travel as one
    picture (one image for the server and the browser to handle instead of one per image). ``alt`` is what a
    screen reader says instead: one text for the row, or one per image."""
    if captions is None:
        row, columns = kept_for(images, "strip", lambda: _strip_of(images))
        picture_width = images.shape[-1]
        st.image(row, width=round((columns * picture_width + columns - 1) * width / picture_width), output_format="PNG",
                 alt=alt if isinstance(alt, str) else "; ".join(alt))
        return
    pictures = kept_for(images, "pictures", lambda: [encoded(picture) for picture in to_display(images)])
    st.image(pictures, caption=captions, width=width, output_format="PNG", alt=each_picture(alt, len(pictures)))


def each_picture(alt: str | Sequence[str], count: int) -> list[str]:
    """One text alternative per picture: given, or the row's text with the picture's place in it."""
    if isinstance(alt, str):
        return [alt] if count == 1 else [f"{alt}, {position} of {count}" for position in range(1, count + 1)]
    return list(alt)


def listing(what: str, names: Sequence[str]) -> str:
    """'8 test images: Sandal, Shirt, ...' - a row of pictures in words."""
    return f"{len(names)} {what}: " + ", ".join(names)


def _strip_of(images) -> tuple[bytes, int]:
    pictures = to_display(images)
    return encoded(strip(pictures)), len(pictures)


def kept_for(images, kind: str, compute: Callable[[], Value]) -> Value:
    """What was made from this very tensor before (the workbench hands out the same tensors for the same
    images on every rerun), or made now and kept while the tensor lives."""
    key = (id(images), kind)
    with _encoded_lock:
        kept = _kept.get(key)
    if kept is not None and kept[0]() is images:
        return kept[1]
    value = compute()
    with _encoded_lock:
        _kept[key] = (weakref.ref(images), value)
    weakref.finalize(images, _kept.pop, key, None)
    return value


def strip(pictures: list[np.ndarray]) -> np.ndarray:
    """Pictures of one size side by side, a white line between them."""
    height = pictures[0].shape[0]
    gap = np.full((height, STRIP_GAP_PIXELS, *pictures[0].shape[2:]), 255, dtype=np.uint8)
    return np.concatenate([part for picture in pictures for part in (gap, picture)][1:], axis=1)


def image_columns(rows: list[tuple], gap: str = "small") -> None:
    """One column per image, the rows stacked in it (original over input over reconstruction), so each
    image lines up with its own versions however narrow the screen. ``rows``: (images, captions or None,
    text alternatives: one per image)."""
    count = len(rows[0][0])
    pictures = [kept_for(images, "pictures", lambda: [encoded(picture) for picture in to_display(images)])
                for images, _, _ in rows]
    for column, position in zip(st.columns(count, gap=gap), range(count)):
        with column:
            for encoded_row, (_, captions, alts) in zip(pictures, rows):
                st.image(encoded_row[position], caption=captions[position] if captions else None, width="stretch",
                         output_format="PNG", alt=alts[position])


def markdown_table(rows: dict[str, dict[str, float | None]], number_format: str = "{:.3f}",
                   bold_best: bool = False) -> str:
    """A small table of figures as Markdown (rows: name -> column -> value; missing values as '-'), the
    largest of each column in bold if asked. Cheap to send on every click, unlike a styled DataFrame."""
    columns = list(dict.fromkeys(column for row in rows.values() for column in row))
    best = {column: max((row[column] for row in rows.values() if row.get(column) is not None), default=None)
            for column in columns} if bold_best else {}

    def cell(row: dict, column: str) -> str:
        value = row.get(column)
        if value is None:
            return "-"
        text = number_format.format(value) if isinstance(value, float) else str(value)
        return f"**{text}**" if bold_best and value == best[column] else text
    lines = ["| | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    lines += [f"| {name} | " + " | ".join(cell(row, column) for column in columns) + " |" for name, row in rows.items()]
    return "\n".join(lines)


def line_chart(figure, alt: str, key: str | None = None) -> None:
    """A Plotly line chart with a short description for screen readers and its figures as a table beneath
    (folded away): a chart's values, readable without seeing it."""
    st.plotly_chart(figure, width="stretch", key=key, alt=alt)
    with st.expander("The chart's figures as a table"):
        st.markdown(trace_table(figure))


def trace_table(figure) -> str:
    """A Markdown table of a figure's line traces: one row per x value, one column per trace."""
    traces = [trace for trace in figure.data if trace.x is not None and trace.y is not None]
    rows: dict[str, dict[str, float | None]] = {}
    for trace in traces:
        for x, y in zip(trace.x, trace.y):
            rows.setdefault(f"{x:g}" if isinstance(x, (int, float)) else str(x), {})[trace.name or "value"] = \
                None if y is None else float(y)
    return markdown_table(rows, "{:.4g}")
