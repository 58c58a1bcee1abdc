"""Plotly figures of a latent map: points coloured by class, and the layers drawn with them
(selection context, corruption trail, decoded grid, interpolation path).

Every point carries its image index first in ``customdata``: selections and the hover images read it.
"""
from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from PIL import Image

from explorer.placement import Placement
from explorer.selection import class_counts
from explorer.trail import Trail

# Paul Tol's colour-blind-safe qualitative set (Plotly's "Safe"), without its grey, which marks the
# unselected points; past ten classes (Sign-MNIST's 24 letters) the colours repeat with another marker.
CLASS_COLOURS = tuple(px.colors.qualitative.Safe[:10])
CLASS_SYMBOLS = ("circle", "square", "diamond")
UNSELECTED = "rgb(205, 205, 205)"
KEPT, FLIPPED = "rgb(40, 40, 40)", "rgb(213, 94, 0)"
OWN = "rgb(0, 0, 0)"


# Beside the map, Plotly's legend takes a third of a phone's width and covers points; below, it wraps.
BELOW_THE_MAP = dict(itemsizing="constant", orientation="h", yanchor="top", y=-0.02, x=0, xanchor="left")


def class_style(label: int) -> dict:
    return {"color": CLASS_COLOURS[label % len(CLASS_COLOURS)],
            "symbol": CLASS_SYMBOLS[(label // len(CLASS_COLOURS)) % len(CLASS_SYMBOLS)]}


def class_map(coordinates: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], ssim: np.ndarray,
              selected: np.ndarray | None = None, height: int = 560, title: str | None = None,
              faded: bool = False) -> go.Figure:
    """One trace per class; with a selection, the other points stay on the map in grey for context."""
    selected = np.asarray([] if selected is None else selected, dtype=np.int64)
    selected = selected[selected < len(coordinates)]
    highlighted = np.zeros(len(coordinates), dtype=bool)
    highlighted[selected] = True
    if not len(selected):
        highlighted[:] = True
    figure = go.Figure()
    if not highlighted.all():
        _add_points(figure, coordinates, np.flatnonzero(~highlighted), ssim, "not selected",
                    {"color": UNSELECTED, "symbol": "circle"}, opacity=0.6)
    for label, name in enumerate(class_names):
        members = np.flatnonzero(highlighted & (labels == label))
        if len(members):
            _add_points(figure, coordinates, members, ssim, name, class_style(label), opacity=0.35 if faded else 0.85)
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=30 if title else 10, b=10), title=title,
                         dragmode="lasso", legend=BELOW_THE_MAP, plot_bgcolor="white",
                         xaxis=dict(showgrid=False, zeroline=False), yaxis=dict(showgrid=False, zeroline=False))
    return figure


def map_summary(method: str, labels: np.ndarray, class_names: tuple[str, ...], selected: np.ndarray,
                trail: Trail | None = None, grid_density: int | None = None,
                path_ends: tuple[int, int] | None = None) -> str:
    """The map in words, for whoever cannot see it: what is drawn, how many of each class, the selection and
    each layer's figures."""
    counts = class_counts(labels, class_names)
    words = [f"{method} map of {len(labels):,} images in {len(counts)} classes (" +
             ", ".join(f"{name} {number}" for name, number in counts.items()) + ")."]
    if len(selected):
        chosen = class_counts(labels[selected[selected < len(labels)]], class_names)
        words.append(f"Selected: {len(selected):,} images (" + ", ".join(f"{name} {n}" for name, n in chosen.items()) + ").")
    if trail is not None:
        words.append(f"Corruption trail of {len(trail.flipped):,} images: mean latent shift {trail.latent_shift:.2f}, "
                     f"{trail.flip_share:.1%} change their neighbours' label, 5-NN accuracy {trail.accuracy_clean:.1%} "
                     f"clean, {trail.accuracy_corrupted:.1%} corrupted.")
    if grid_density:
        words.append(f"Images decoded on a {grid_density} x {grid_density} grid are drawn behind the points.")
    if path_ends:
        words.append(f"A dotted path shows the interpolation from image {path_ends[0]} to image {path_ends[1]}.")
    return " ".join(words)


def _add_points(figure: go.Figure, coordinates: np.ndarray, members: np.ndarray, ssim: np.ndarray, name: str,
                style: dict, opacity: float) -> None:
    figure.add_trace(go.Scattergl(
        x=coordinates[members, 0], y=coordinates[members, 1], mode="markers", name=name,
        marker=dict(size=5, opacity=opacity, **style), customdata=np.stack([members, ssim[members]], axis=1),
        hovertemplate=f"index %{{customdata[0]}}<br>{name}<br>SSIM %{{customdata[1]:.3f}}<extra></extra>"))


def add_trail(figure: go.Figure, trail: Trail) -> None:
    """An arrow from each followed image's clean point to where its corrupted version lands."""
    for flipped, colour, name in ((False, KEPT, "neighbours' label kept"), (True, FLIPPED, "neighbours' label flipped")):
        chosen = np.flatnonzero(trail.flipped == flipped)
        if not len(chosen):
            continue
        x = np.stack([trail.clean[chosen, 0], trail.corrupted[chosen, 0], np.full(len(chosen), np.nan)], 1).ravel()
        y = np.stack([trail.clean[chosen, 1], trail.corrupted[chosen, 1], np.full(len(chosen), np.nan)], 1).ravel()
        sizes = np.tile([0, 9, 0], len(chosen))
        figure.add_trace(go.Scatter(
            x=x, y=y, mode="lines+markers", name=f"{name} ({len(chosen)})", hoverinfo="skip",
            line=dict(color=colour, width=1.2 if flipped else 0.8),
            marker=dict(symbol="arrow", angleref="previous", size=sizes, color=colour)))


def add_grid_behind(figure: go.Figure, picture: np.ndarray, positions: np.ndarray, density: int) -> None:
    """The decoded grid as one picture under the points, each image centred on the position it decodes."""
    low, high = positions.min(axis=0), positions.max(axis=0)
    cell = (high - low) / max(density - 1, 1)
    figure.add_layout_image(source=Image.fromarray(picture), xref="x", yref="y", x=low[0] - cell[0] / 2,
                            y=high[1] + cell[1] / 2, sizex=(high - low)[0] + cell[0], sizey=(high - low)[1] + cell[1],
                            sizing="stretch", layer="below", opacity=0.55)
    figure.update_xaxes(range=[low[0] - cell[0] / 2, high[0] + cell[0] / 2])
    figure.update_yaxes(range=[low[1] - cell[1] / 2, high[1] + cell[1] / 2])


def add_path(figure: go.Figure, points: np.ndarray) -> None:
    """The interpolation between two images as a line through the map positions of its steps."""
    figure.add_trace(go.Scatter(
        x=points[:, 0], y=points[:, 1], mode="lines+markers+text", name="interpolation path",
        text=[f"{t:.2f}" for t in np.linspace(0, 1, len(points))], textposition="top center",
        line=dict(color="black", width=2, dash="dot"),
        marker=dict(size=[14] + [7] * (len(points) - 2) + [14], color="black", symbol="circle-open-dot"),
        hovertemplate="step %{text}<extra></extra>"))


def add_own_images(figure: go.Figure, coordinates: np.ndarray, kept: list[tuple[int, Placement]],
                   current: Placement | None) -> None:
    """The student's own images: kept ones as numbered points, the current one as a star with rings on its
    nearest map images and, when it was placed with a corruption, an arrow to where its corrupted version lands."""
    if kept:
        figure.add_trace(go.Scatter(
            x=[placement.point[0] for _, placement in kept], y=[placement.point[1] for _, placement in kept],
            mode="markers+text", name="your kept images", text=[str(number) for number, _ in kept],
            textposition="top center", textfont=dict(size=14, color=OWN),
            marker=dict(size=13, symbol="diamond", color="white", line=dict(color=OWN, width=2)),
            hovertemplate="your image %{text}<extra></extra>"))
    if current is None:
        return
    figure.add_trace(go.Scatter(
        x=coordinates[current.neighbours, 0], y=coordinates[current.neighbours, 1], mode="markers",
        name=f"its {len(current.neighbours)} nearest images", hoverinfo="skip",
        marker=dict(size=13, symbol="circle-open", color=OWN, line=dict(width=2))))
    if current.corrupted_point is not None:
        figure.add_trace(go.Scatter(
            x=[current.point[0], current.corrupted_point[0]], y=[current.point[1], current.corrupted_point[1]],
            mode="lines+markers", name="your image, corrupted", hoverinfo="skip", line=dict(color=FLIPPED, width=2.5),
            marker=dict(symbol="arrow", angleref="previous", size=[0, 14], color=FLIPPED)))
    figure.add_trace(go.Scatter(
        x=[current.point[0]], y=[current.point[1]], mode="markers", name="your image",
        marker=dict(size=22, symbol="star", color=OWN, line=dict(color="white", width=2)),
        hovertemplate="your image<extra></extra>"))
