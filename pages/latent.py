import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer.datasets import dataset_info
from explorer.selection import class_counts, selected_indices
from ui.display import image_row, linked_choice
from ui.entry import start_page
from ui.models import active_card, active_ref, active_workbench
from ui.resources import shipped_workbench

start_page("pages/latent.py")
bench = active_workbench()
ref = active_ref()
whole_dataset_available = ref.shipped and dataset_info(active_card().dataset).has_training_split()
scores_available = bench.can_decode

with st.sidebar:
    st.subheader("Map")
    methods = ["pca", "tsne", "umap"]
    method = st.radio("Projection", methods, methods.index(linked_choice("method", methods, "pca")),
                      format_func={"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}.get, horizontal=True, key="map_method")
    params = {}
    if method == "tsne":
        params["perplexity"] = st.slider("Perplexity", 5, 100, 30)
    if method == "umap":
        params["n_neighbors"] = st.slider("n_neighbors", 2, 100, 15)
        params["min_dist"] = st.slider("min_dist", 0.0, 1.0, 0.1, 0.05)
    if whole_dataset_available and st.toggle("All images (train + test)", help="Fashion-MNIST: 70,000 images. "
                                             "The first 10,000 are the test split, as without this switch."):
        bench = shipped_workbench(ref.name, whole_dataset=True)
    sizes = sorted({1000, 2000, 5000, 10000, len(bench.pool)} - {n for n in (5000, 10000) if n > len(bench.pool)})
    count = st.select_slider("Points", sizes, linked_choice("points", sizes, 2000 if method == "pca" else 1000))
    count = min(count, len(bench.pool))
    random_state = st.number_input("Random state", 0, 10_000, 0)


def draw_map(coordinates: np.ndarray, height: int = 560, title: str | None = None) -> go.Figure:
    labels = bench.labels(len(coordinates))
    ssim = bench.ssim_scores(len(coordinates))
    figure = go.Figure()
    for label, name in enumerate(bench.class_names):
        members = np.flatnonzero(labels == label)
        if not len(members):
            continue
        figure.add_trace(go.Scattergl(
            x=coordinates[members, 0], y=coordinates[members, 1], mode="markers", name=name,
            marker=dict(size=5, opacity=0.8), customdata=np.stack([members, ssim[members]], axis=1),
            hovertemplate=f"index %{{customdata[0]}}<br>{name}<br>SSIM %{{customdata[1]:.3f}}<extra></extra>"))
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=30 if title else 10, b=10), title=title,
                         dragmode="lasso", legend=dict(itemsizing="constant"))
    return figure


with st.spinner(f"Computing the {method.upper()} map of {count:,} latents..."):
    result = bench.project(method, params, count, random_state)
coordinates = result.coordinates
columns = st.columns(4)  # filled after the map is drawn: the map need not wait for its quality figures


@st.fragment
def map_with_selection() -> None:
    """The map and the images selected on it: a lasso reruns only this, not the rest of the page."""
    event = st.plotly_chart(draw_map(coordinates), on_select="rerun", selection_mode=("points", "box", "lasso"),
                            key=f"map-{ref.source}-{ref.name}-{method}", width="stretch")
    selected = selected_indices(event)
    st.subheader("Selection")
    if not len(selected):
        st.caption("Draw a lasso or a box on the map (or click a point) to see the images behind it.")
        return
    shown = selected[:40]
    counts = class_counts(bench.labels()[selected], bench.class_names)
    st.write(f"**{len(selected)} images selected** - " + ", ".join(f"{name}: {n}" for name, n in counts.items()))
    st.caption(f"Originals{' and reconstructions' if scores_available else ''} of the first {len(shown)} "
               "(captions are image indices, for the neighbour and interpolation boxes below)")
    image_row(bench.pool.take(shown).as_tensor(), [str(i) for i in shown], width=56)
    if scores_available:
        image_row(bench.decode(bench.latents(count)[shown]), width=56)


map_with_selection()
quality = bench.map_quality(result)
columns[0].metric("kNN accuracy, latent space", f"{quality['knn_latent']:.1%}", help="5-NN, 5-fold cross-validated")
columns[1].metric("kNN accuracy, 2-D map", f"{quality['knn_map']:.1%}")
columns[2].metric("Trustworthiness", f"{quality['trustworthiness']:.3f}", help="5 neighbours, up to 3,000 points")
columns[3].metric("Map computed in", f"{result.seconds:.1f} s")
export = pd.DataFrame({"x": coordinates[:, 0], "y": coordinates[:, 1], "label": bench.labels(count),
                       "class": [bench.class_names[c] for c in bench.labels(count)], "index": np.arange(count)})
st.download_button("Download coordinates (CSV)", export.to_csv(index=False).encode(), f"{method}-map.csv", "text/csv")

left, right = st.columns(2)
with left:
    st.subheader("Nearest neighbours")
    query = st.number_input("Image index", 0, count - 1, 0)
    k = st.slider("Neighbours", 4, 16, 8)
    neighbours, distances = bench.neighbours(int(query), k, count)
    image_row(bench.pool.take(np.array([query])).as_tensor(), ["query"], width=72)
    image_row(bench.pool.take(neighbours).as_tensor(),
              [f"{bench.class_names[bench.labels()[i]]} d={d:.2f}" for i, d in zip(neighbours, distances)], width=72)
    st.caption("Distances are in the model's latent space" + ("" if scores_available else " (cosine)") + ", not on the 2-D map.")

with right:
    st.subheader("Decode anywhere")
    if not scores_available:
        st.info("This model has no decoder.")
    elif not result.projector.invertible:
        st.info("t-SNE has no inverse: switch the map to PCA or UMAP to decode a location.")
    else:
        low, high = coordinates.min(0), coordinates.max(0)
        x = st.slider("x", float(low[0]), float(high[0]), float(np.median(coordinates[:, 0])))
        y = st.slider("y", float(low[1]), float(high[1]), float(np.median(coordinates[:, 1])))
        decoded = bench.decode(result.projector.inverse_transform(np.array([[x, y]])))
        image_row(decoded, [f"decoded at ({x:.1f}, {y:.1f})"], width=140)
    if scores_available:
        st.subheader("Interpolate")
        pair = st.columns(2)
        first = pair[0].number_input("From index", 0, count - 1, 0)
        second = pair[1].number_input("To index", 0, count - 1, min(1, count - 1))
        frames = bench.interpolate(int(first), int(second), 8)
        image_row(frames, [f"{t:.2f}" for t in np.linspace(0, 1, 8)], width=56)

if st.toggle("S4's view: PCA and t-SNE side by side"):
    pair = st.columns(2)
    for column, side_method in zip(pair, ("pca", "tsne")):
        with column, st.spinner(f"{side_method.upper()}..."):
            side = bench.project(side_method, {"perplexity": 30.0} if side_method == "tsne" else {}, count, random_state)
            st.plotly_chart(draw_map(side.coordinates, 420, side_method.upper()), width="stretch",
                            key=f"side-{side_method}")
