import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from explorer.evaluation import RETRIEVAL_CLASS_COUNTS
from ui.controls import LINKED, keep_valid, share_link
from ui.display import image_row, line_chart
from ui.entry import start_page
from ui.figures import drawn_once
from ui.maps import CLASS_COLOURS
from ui.active_model import card_for, labels_of, model_refs, workbench_for
from ui.upload import uploaded_image

start_page("pages/similarity.py")
share_link()
SEED_AT_75 = {4: 0.874, 7: 0.833, 10: 0.694}  # S2's published batch accuracy at epoch 75, on CIFAR-10
st.markdown("S2's metric-learning network maps each image to an 8-d unit vector; similar images point the same "
            "way. Pick a query and see the most similar test images by cosine similarity.")

embedding_models = [ref for ref in model_refs() if card_for(ref).can_retrieve]
if not embedding_models:
    st.warning("No S2 checkpoint is here: train one on the Train page (model s2-embedding).")
    st.stop()
ten_classes = max(embedding_models, key=lambda ref: card_for(ref).trained_classes)
keep_valid("embedding", lambda chosen: chosen in embedding_models, ten_classes)
ref = st.selectbox("Embedding model", embedding_models, index=embedding_models.index(ten_classes),
                   format_func=labels_of(embedding_models), key="embedding", **LINKED)
workbench = workbench_for(ref)
card = card_for(ref)

query_side, result_side = st.columns([1, 3])
with query_side:
    source = st.radio("Query", ["A test image", "Upload an image"], horizontal=True, key="query_source", **LINKED)
    if source == "A test image":
        keep_valid("query_image", lambda chosen: chosen < len(workbench.pool), 0)
        index = st.number_input("Test image index", 0, len(workbench.pool) - 1, 0, key="query_image", **LINKED)
        query_image = workbench.originals([index])
        exclude = int(index)
    else:
        query_image = uploaded_image("Image (PNG, JPEG, ...)", workbench)
        if query_image is None:
            st.stop()
        exclude = None
    image_row(query_image, "the query image as the model sees it" if exclude is None else
              f"the query: test image {exclude}, {workbench.names_of([exclude])[0]}", ["query, as the model sees it"],
              width=120)
    k = st.slider("Results", 4, 24, 12, key="results", **LINKED)

neighbours, distances = workbench.similar(query_image, k, exclude)
with result_side:
    labels = workbench.labels()
    found = [f"{workbench.class_names[labels[i]]} · {1 - d:.3f}" for i, d in zip(neighbours, distances)]
    image_row(workbench.originals(neighbours), [f"result {position}: {text.replace(' · ', ', similarity ')}"
                                                for position, text in enumerate(found, 1)], found, width=80)
    st.caption("Caption: class · cosine similarity to the query.")

def confusion_figure(confusion: np.ndarray, names: list[str]) -> go.Figure:
    figure = px.imshow(confusion, x=names, y=names, color_continuous_scale="Viridis",
                       labels=dict(x="class of most similar image", y="query class", color="images"))
    figure.update_layout(height=360, margin=dict(l=0, r=0, t=10, b=0), coloraxis_showscale=False)
    return figure


st.subheader("Retrieval accuracy, the seed's batch accuracy, and confusion")
st.caption(f"{card.name}, on its test images: each test image queries all others; it counts as right when its most "
           "similar image has its class.")
class_counts = [n for n in RETRIEVAL_CLASS_COUNTS if n <= card.trained_classes] or [card.trained_classes]
columns = st.columns(len(class_counts))
for column, class_count in zip(columns, class_counts):
    accuracy, confusion, batch_accuracy = workbench.retrieval(
        class_count, lambda: st.spinner(f"Measuring retrieval on {class_count} classes..."))
    names = list(workbench.class_names[:class_count])
    pair = column.columns(2)
    pair[0].metric(f"{class_count} classes: retrieval", f"{accuracy:.1%}",
                   help="Top-1: the most similar of all other test images has the query's class")
    pair[1].metric("the seed's batch accuracy", f"{batch_accuracy:.1%}",
                   help="S2's own measure: in a batch of one anchor and one positive per class, the anchor's most "
                        "similar positive is its own class (mean of 500 random test batches)")
    column.plotly_chart(drawn_once(workbench, ("confusion figure", class_count), lambda: confusion_figure(confusion, names)),
                        width="stretch", alt=f"Confusion matrix of {class_count} classes: each test image's most similar "
                                             f"other image's class (columns) against its own (rows)")

st.subheader("The seed's epoch sweep")
sweep = {ref: card_for(ref) for ref in embedding_models if ref.shipped and card_for(ref).history}


def sweep_figure() -> go.Figure:
    figure = go.Figure()
    for position, swept in enumerate(sorted(sweep.values(), key=lambda c: c.trained_classes)):
        colour = CLASS_COLOURS[position % len(CLASS_COLOURS)]
        history = swept.history
        figure.add_scatter(x=[e["epoch"] for e in history], y=[e["val_accuracy"] for e in history], mode="lines",
                           name=f"{swept.trained_classes} classes, ours ({swept.dataset})", line=dict(color=colour))
        if swept.trained_classes in SEED_AT_75:
            figure.add_scatter(x=[75], y=[SEED_AT_75[swept.trained_classes]], mode="markers", marker=dict(
                color=colour, symbol="star", size=14), name=f"{swept.trained_classes} classes, the seed (CIFAR-10)")
    figure.update_layout(height=380, xaxis_title="epoch", yaxis_title="top-1 retrieval accuracy (validation)",
                         yaxis_tickformat=".0%", margin=dict(t=20, b=10))
    return figure


if sweep:
    line_chart(drawn_once(workbench, ("epoch sweep", tuple(sweep)), sweep_figure),
               "Top-1 retrieval accuracy on validation images against epoch, one line per number of classes")
    st.caption("Each line is one shipped S2 checkpoint's top-1 retrieval accuracy on its validation images after "
               "every epoch, so the seed's sweep of 15 to 75 epochs reads off one run per class count (the batch "
               "accuracy above is measured on the kept weights only). Stars: the seed's batch accuracy at epoch "
               "75, on CIFAR-10 (not downloadable here): compare shapes, not values.")
