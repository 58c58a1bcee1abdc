"""The training replay as figures: the probe's map live while a run trains, and animated epoch by epoch after it.

Every frame of the replay holds one epoch: the probe's aligned layout coloured by class, its kNN
accuracy and validation loss in the title, and beneath the map the probe's first images over their
reconstructions at that epoch. Plotly plays the frames in the browser, so playing costs the server nothing.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from explorer.images import tile
from explorer.replay import ProbeRecord, aligned_layouts
from ui.maps import BELOW_THE_MAP, class_style

FRAME_MILLISECONDS = 700
REPLAY_WORDS = ("Training replay: the validation images' latent map after each epoch, their reconstructions "
                "beneath, with a Play button and an epoch slider")


def _class_traces(layout: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]) -> list[go.Scatter]:
    return [go.Scatter(x=layout[labels == label, 0], y=layout[labels == label, 1], mode="markers",
                       name=class_names[label] if label < len(class_names) else str(label),
                       marker=dict(size=5, opacity=0.8, **class_style(int(label))))
            for label in range(int(labels.max()) + 1)]


def live_probe_figure(layout: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]) -> go.Figure:
    """The probe set's map with the latest epoch's weights (PCA), as the Train page shows it while training."""
    figure = go.Figure(_class_traces(layout, labels, class_names))
    figure.update_layout(height=320, margin=dict(t=10, b=10, l=10, r=10), showlegend=False,
                         xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x"))
    return figure


def _strip(record: ProbeRecord, epoch: int) -> np.ndarray:
    """The probe's first images over their reconstructions at ``epoch``, as one RGB picture."""
    pictures = np.concatenate([record.shown, record.reconstructions[epoch]])
    strip = tile(torch.from_numpy(pictures).float() / 255, rows=2)
    return np.repeat(strip[..., None], 3, axis=-1) if strip.ndim == 2 else strip


def _title(epoch: int, accuracy: float, history: list[dict]) -> str:
    val_loss = history[epoch]["val_loss"] if epoch < len(history) else None
    loss = f" · validation loss {val_loss:.4f}" if val_loss is not None else ""
    return f"Epoch {epoch + 1}: 5-NN accuracy of the probe {accuracy:.1%}{loss}"


def replay_figure(record: ProbeRecord, class_names: tuple[str, ...], history: list[dict]) -> go.Figure:
    """One frame per epoch, with play / pause and a slider over the epochs; it opens on the first epoch."""
    layouts = aligned_layouts(record.latents)
    accuracies = record.knn_accuracies()
    strips = bool(record.reconstructions)
    rows = 2 if strips else 1
    figure = make_subplots(rows=rows, cols=1, row_heights=[0.78, 0.22][:rows], vertical_spacing=0.04)

    def frame_data(epoch: int) -> list:
        traces = _class_traces(layouts[epoch], record.labels, class_names)
        return traces + ([go.Image(z=_strip(record, epoch))] if strips else [])

    for trace in frame_data(0):
        figure.add_trace(trace, row=2 if isinstance(trace, go.Image) else 1, col=1)
    figure.frames = [go.Frame(data=frame_data(epoch), name=str(epoch + 1),
                              layout=go.Layout(title_text=_title(epoch, accuracies[epoch], history)))
                     for epoch in range(len(layouts))]
    everything = np.concatenate(layouts)
    margin = 0.05 * (everything.max(axis=0) - everything.min(axis=0))
    low, high = everything.min(axis=0) - margin, everything.max(axis=0) + margin
    play = dict(frame=dict(duration=FRAME_MILLISECONDS, redraw=True), transition=dict(duration=FRAME_MILLISECONDS // 2),
                fromcurrent=True, mode="immediate")
    figure.update_layout(
        title_text=_title(0, accuracies[0], history), height=640 if strips else 520,
        margin=dict(t=50, b=10, l=10, r=10), legend=BELOW_THE_MAP,
        xaxis=dict(range=[low[0], high[0]], visible=False), yaxis=dict(range=[low[1], high[1]], visible=False),
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.02, xanchor="left", yanchor="top",
                          buttons=[dict(label="Play", method="animate", args=[None, play]),
                                   dict(label="Pause", method="animate",
                                        args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))])])],
        sliders=[dict(active=0, x=0.15, len=0.85, y=-0.02, currentvalue=dict(visible=False),
                      steps=[dict(label=str(epoch + 1), method="animate",
                                  args=[[str(epoch + 1)], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
                             for epoch in range(len(layouts))])])
    if strips:
        figure.update_xaxes(visible=False, row=2, col=1)
        figure.update_yaxes(visible=False, row=2, col=1)
    return figure


def recording_cost(record: ProbeRecord, history: list[dict]) -> str:
    """What recording the replay cost the run, against its epochs' own time."""
    epoch_seconds = sum(epoch["seconds"] for epoch in history[:record.epochs])
    share = sum(record.seconds) / epoch_seconds if epoch_seconds else 0.0
    return (f"{len(record.labels):,} probe images recorded after each of {record.epochs} epochs: "
            f"{np.mean(record.seconds):.2f} s per epoch, {share:.1%} of the training time.")
