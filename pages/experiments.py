import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer.card import CONDITION_LABELS, ModelCard
from explorer.corruption import parse_corruption
from explorer.experiments import shipped_comparisons
from explorer.workbench import MapResult, Workbench
from ui.controls import LINKED, share_link
from ui.maps import CLASS_COLOURS, class_map
from ui.display import image_row, line_chart, listing, markdown_table
from ui.entry import start_page
from ui.figures import drawn_once
from ui.resources import cards, shipped_workbench

start_page("pages/experiments.py")
share_link()
shipped = {name: ModelCard(data) for name, data in cards().items()}


def loss_table_and_curves(models: dict[str, ModelCard]) -> None:
    """Each model's last training and validation loss and its test MSE, and its loss curves, from its card."""
    rows = {}
    figure = go.Figure()
    for position, card in enumerate(models.values()):
        history, colour = card.history, CLASS_COLOURS[position % len(CLASS_COLOURS)]
        test = card.metrics.get("test", {})
        rows[card.name] = {"epochs": len(history), "train loss (its inputs)": history[-1]["train_loss"] if history else None,
                           "validation loss (its inputs)": history[-1]["val_loss"] if history else None,
                           "test loss as trained": card.metrics.get("test_loss"),
                           "test MSE, its inputs": test.get(card.corruption, {}).get("mse"),
                           "test MSE, clean inputs": test.get("clean", {}).get("mse")}
        epochs = [entry["epoch"] for entry in history]
        figure.add_scatter(x=epochs, y=[entry["val_loss"] for entry in history], name=f"{card.name} validation",
                           line=dict(color=colour), legendgroup=card.name)
        figure.add_scatter(x=epochs, y=[entry["train_loss"] for entry in history], name=f"{card.name} train",
                           line=dict(color=colour, dash="dot"), legendgroup=card.name)
    st.markdown(markdown_table(rows, "{:.4f}"))
    losses = ", ".join(sorted({str(card.training.get("loss", "?")) for card in models.values()}))
    figure.update_layout(height=360, xaxis_title="epoch", yaxis_title=f"loss ({losses}) against the training target",
                         margin=dict(t=20, b=10))
    line_chart(figure, "Training and validation loss against epoch, one pair of lines per model")
    epochs = sorted({len(card.history) for card in models.values()})
    st.caption("Train and validation losses are measured on each model's own training inputs (corrupted for a "
               "denoiser) against its training target (the clean image, or the corrupted one under the seed's "
               "protocol); validation images are held out of the training split. "
               f"These checkpoints ran {' / '.join(map(str, epochs))} epochs.")


def protocols_side_by_side(denoising: list[str], seeds_protocol: list[str]) -> None:
    """For each training corruption, the two protocols' test loss and SSIM next to each other."""
    by_corruption = {}
    for protocol, names in (("denoising", denoising), ("seed's", seeds_protocol)):
        for name in names:
            card = shipped[name]
            row = by_corruption.setdefault(CONDITION_LABELS.get(card.corruption, card.corruption), {})
            row[f"test loss as trained, {protocol}"] = card.metrics.get("test_loss")
            row[f"SSIM on its inputs, {protocol}"] = card.ssim(card.corruption)
            row[f"SSIM on clean inputs, {protocol}"] = card.ssim("clean")
    st.subheader("The two protocols side by side")
    columns = sorted({column for row in by_corruption.values() for column in row}, key=lambda c: c.split(", ")[0])
    st.markdown(markdown_table({name: {column: row.get(column) for column in columns}
                                for name, row in by_corruption.items()}, "{:.4f}"))
    st.caption("Rows: the corruption a model was trained on. 'Test loss as trained' scores each model's "
               "reconstruction of its own corrupted test images against its training target: under the seed's "
               "protocol it grows with the noise's own power; SSIM is always against the clean image.")


def small_multiple(result: MapResult, workbench: Workbench, title: str, legend: bool) -> go.Figure:
    figure = class_map(result.coordinates, workbench.labels(1000), workbench.class_names,
                       workbench.ssim_scores(1000), height=300, title=title)
    figure.update_layout(xaxis_visible=False, yaxis_visible=False, showlegend=legend)
    return figure


def comparison(system: str, title: str, names: list[str], caption: str) -> None:
    """SSIM table from the cards, reconstructions side by side and t-SNE small multiples."""
    st.header(title)
    st.caption(caption)
    models = {name: shipped[name] for name in names}
    rows = {card.name: {text: card.ssim(condition) for condition, text in CONDITION_LABELS.items()}
            for card in models.values()}
    st.markdown(markdown_table(rows, bold_best=True))
    st.caption("Mean SSIM on the 10,000 Fashion-MNIST test images, read from each checkpoint's model card "
               "(rows: how the model was trained; columns: the test inputs; the best of each column in bold).")
    if st.toggle("Losses per epoch (the seed's train/test loss table)", key=f"losses_{system}", **LINKED):
        loss_table_and_curves(models)

    condition = st.radio("Test inputs", list(CONDITION_LABELS), format_func=CONDITION_LABELS.get, horizontal=True,
                         key=f"inputs_{system}", **LINKED)
    indices = np.arange(8)
    first = shipped_workbench(names[0])
    inputs, _, _ = first.reconstruct(indices, parse_corruption(condition), seed=0)
    st.caption("Originals, then the corrupted inputs, then each model's reconstruction")
    shown = first.names_of(indices)
    image_row(first.originals(indices), listing("test images", shown), width=64)
    image_row(inputs, listing(f"inputs, {CONDITION_LABELS[condition].lower()}", shown), width=64)
    for name in names:
        _, outputs, scores = shipped_workbench(name).reconstruct(indices, parse_corruption(condition), seed=0)
        st.caption(f"{models[name].name}: mean SSIM of these 8 = {scores['ssim'].mean():.3f}")
        image_row(outputs, listing(f"reconstructions by {models[name].name}, mean SSIM {scores['ssim'].mean():.3f}",
                                   shown), width=64)

    if st.toggle("t-SNE of each model's own test inputs, corrupted as in its training (perplexity 30, random "
                 "state 307, 1,000 images)", key=f"tsne_{system}", **LINKED):
        columns = st.columns(3)
        for position, name in enumerate(names):
            workbench = shipped_workbench(name)
            with st.spinner(f"t-SNE for {models[name].name}..."):
                result = workbench.project("tsne", {"perplexity": 30.0}, 1000, random_state=307,
                                       corruption=parse_corruption(models[name].corruption))
            figure = drawn_once(result, ("small multiple", position == 0), lambda: small_multiple(
                result, workbench, models[name].name, legend=position == 0))
            columns[position % 3].plotly_chart(figure, width="stretch", key=f"tsne-{name}",
                                               alt=f"t-SNE map of {models[name].name}'s test images coloured by class")


found = shipped_comparisons(shipped)
s3, s3_seed, s1 = found.s3, found.s3_seed, found.s1
if s3:
    comparison("s3", "S3: does training on noise help?", s3,
               "The seed found that small noise and random erasing help while large noise hurts. Each row is a model "
               "trained on clean or corrupted inputs, scored against the clean image (denoising).")
if len(s3_seed) > 1:
    comparison("s3seed", "S3 as the seed ran it: trained on corrupted copies of the data", s3_seed,
               "The seed's losses sit sigma squared above the clean run's (test 1.598 against 0.599 at sigma 1): what a "
               "loss against noisy targets gives. These models were trained that way: corrupted input, corrupted "
               "target. Their loss holds the noise no model can predict, so 'large noise hurts' is largely that.")
    protocols_side_by_side(s3, s3_seed)
if s1:
    comparison("s1", "S1: baseline against the modified network", s1,
               "S1 reports SSIM 0.913 for the 128-d baseline and 0.928 for the modified 256-d network.")
if not (s1 or s3):
    st.warning("No shipped S1 or S3 checkpoints were found in checkpoints/.")

st.header("Your own image")
st.page_link("pages/latent.py", label="Draw, photograph or upload an image on the Latent space page (layer 'Your own "
             "image'): it lands on the map you choose, beside its reconstruction and its nearest test images",
             icon=":material/draw:")
