import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer.corruption import parse_corruption
from explorer.evaluation import CARD_CONDITIONS
from explorer.images import ImageFormatError, image_from_upload
from pages.common import active_workbench, image_row, require_autoencoder, shipped_cards, shipped_workbench

st.title("Experiments")
CONDITION_NAMES = {"clean": "clean", "gaussian:0.1": "sigma 0.1", "gaussian:0.5": "sigma 0.5", "erasing:1": "erased"}


def comparison(title: str, names: list[str], caption: str) -> None:
    """SSIM table from the cards, reconstructions side by side and t-SNE small multiples."""
    st.header(title)
    st.caption(caption)
    cards = shipped_cards()
    rows = {cards[n]["name"]: {CONDITION_NAMES[c]: cards[n]["metrics"]["test"][c]["ssim"] for c in CARD_CONDITIONS}
            for n in names}
    table = pd.DataFrame(rows).T
    st.dataframe(table.style.format("{:.3f}").highlight_max(axis=0, color="#2e7d32"), width="stretch")
    st.caption("Mean SSIM on the 10,000 Fashion-MNIST test images, read from each checkpoint's model card "
               "(rows: how the model was trained; columns: the test inputs).")

    condition = st.radio("Test inputs", list(CONDITION_NAMES), format_func=CONDITION_NAMES.get, horizontal=True,
                         key=f"condition-{title}")
    indices = np.arange(8)
    first = shipped_workbench(names[0])
    inputs, _, _ = first.reconstruct(indices, parse_corruption(condition), seed=0)
    st.caption("Originals, then the corrupted inputs, then each model's reconstruction")
    image_row(first.images(8), width=64)
    image_row(inputs, width=64)
    for name in names:
        _, outputs, scores = shipped_workbench(name).reconstruct(indices, parse_corruption(condition), seed=0)
        st.caption(f"{cards[name]['name']}: mean SSIM of these 8 = {scores['ssim'].mean():.3f}")
        image_row(outputs, width=64)

    if st.toggle("t-SNE of each model's test latents (perplexity 30, random state 307, 1,000 images)",
                 key=f"tsne-{title}"):
        columns = st.columns(3)
        for position, name in enumerate(names):
            bench = shipped_workbench(name)
            with st.spinner(f"t-SNE for {cards[name]['name']}..."):
                result = bench.project("tsne", {"perplexity": 30.0}, 1000, random_state=307)
            labels = bench.labels(1000)
            figure = go.Figure(go.Scattergl(x=result.coordinates[:, 0], y=result.coordinates[:, 1], mode="markers",
                                            marker=dict(size=3, color=labels, colorscale="Turbo"),
                                            text=[bench.class_names[c] for c in labels], hoverinfo="text"))
            figure.update_layout(title=cards[name]["name"], height=300, margin=dict(l=0, r=0, t=30, b=0),
                                 xaxis_visible=False, yaxis_visible=False)
            columns[position % 3].plotly_chart(figure, width="stretch", key=f"tsne-{name}")


cards = shipped_cards()
order = ["clean", "gaussian:0.01", "gaussian:0.1", "gaussian:0.5", "gaussian:1", "erasing:0.5"]
s3 = sorted((n for n, c in cards.items() if c["model"] == "s3-anello" and c["dataset"] == "fashion-mnist"),
            key=lambda n: order.index(cards[n].get("corruption") or "clean") if (cards[n].get("corruption") or "clean") in order else 99)
s1 = sorted(n for n, c in cards.items() if c["model"].startswith("s1-") and c["dataset"] == "fashion-mnist")
if s3:
    comparison("S3: does training on noise help?", s3,
               "The seed found that small noise and random erasing help while large noise hurts. Each row is a model "
               "trained on clean or corrupted inputs (the target always clean).")
if s1:
    comparison("S1: baseline against the modified network", s1,
               "S1 reports SSIM 0.913 for the 128-d baseline and 0.928 for the modified 256-d network.")
if not (s1 or s3):
    st.warning("No shipped S1 or S3 checkpoints were found in checkpoints/.")

st.header("Your own image")
bench = active_workbench()
require_autoencoder(bench)
upload = st.file_uploader("Any image (any size, colour or grey)", type=["png", "jpg", "jpeg", "bmp", "gif", "webp"])
if upload is not None:
    channels, size = bench.pool.images.shape[1], bench.pool.images.shape[2]
    try:
        image = image_from_upload(upload.getvalue(), channels, size)
    except ImageFormatError as error:
        st.error(f"{upload.name}: {error}. Try a PNG or JPEG.")
        st.stop()
    latent = bench.model.encode(image).detach().numpy()
    reconstruction = bench.decode(latent)
    image_row(image, ["as the model sees it"], width=140)
    image_row(reconstruction, ["reconstruction"], width=140)
    result = bench.project("pca", {}, 2000)
    placed = result.projector.transform(latent)[0]
    figure = go.Figure(go.Scattergl(x=result.coordinates[:, 0], y=result.coordinates[:, 1], mode="markers",
                                    marker=dict(size=4, color=bench.labels(2000), colorscale="Turbo", opacity=0.5),
                                    text=[bench.class_names[c] for c in bench.labels(2000)], hoverinfo="text",
                                    name="test images"))
    figure.add_scatter(x=[placed[0]], y=[placed[1]], mode="markers", name="your image",
                       marker=dict(size=18, symbol="star", color="black", line=dict(color="white", width=2)))
    figure.update_layout(height=420, margin=dict(t=10, b=10))
    st.plotly_chart(figure, width="stretch")
