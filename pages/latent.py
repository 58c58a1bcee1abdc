import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer.images import tile
from explorer.selection import class_counts, indices_from_text, indices_to_text, selected_indices
from ui.controls import LINKED, corruption_controls, keep_valid, share_link
from ui.display import encoded, image_row, listing
from ui.entry import start_page
from ui.figures import drawn_once
from ui.hover import hover_images
from ui.maps import add_grid_behind, add_own_images, add_path, add_trail, class_map, map_summary
from ui.own_image import own_image_input, own_words, placed, show_placement
from ui.active_model import active_replay, active_workbench, has_whole_dataset
from ui.replay import REPLAY_WORDS

start_page("pages/latent.py")
workbench = active_workbench()
decodes = workbench.can_decode
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
TRAIL, GRID, PATH, OWN = "Corruption trail", "Decoded grid", "Interpolation path", "Your own image"

with st.sidebar:
    st.subheader("Map")
    method = st.radio("Projection", list(METHOD_NAMES), format_func=METHOD_NAMES.get, horizontal=True, key="method",
                      **LINKED)
    params = {}
    if method == "tsne":
        params["perplexity"] = st.slider("Perplexity", 5, 100, 30, key="perplexity", **LINKED)
    if method == "umap":
        params["n_neighbors"] = st.slider("n_neighbors", 2, 100, 15, key="n_neighbors", **LINKED)
        params["min_dist"] = st.slider("min_dist", 0.0, 1.0, 0.1, 0.05, key="min_dist", **LINKED)
    if has_whole_dataset() and st.toggle("All images (train + test)", key="all_images", **LINKED,
                                             help="Fashion-MNIST: 70,000 images. The first 10,000 are the test "
                                                  "split, as without this switch."):
        workbench = active_workbench(whole_dataset=True)
    sizes = sorted({1000, 2000, 5000, 10000, len(workbench.pool)} - {n for n in (5000, 10000) if n > len(workbench.pool)})
    keep_valid("points", lambda value: value in sizes, 2000)
    count = min(st.select_slider("Points", sizes, 2000, key="points", **LINKED), len(workbench.pool))
    random_state = st.number_input("Random state", 0, 10_000, 0, key="random_state", **LINKED)
for index_key in ("from", "to", "query"):
    keep_valid(index_key, lambda value: value < count, count - 1)
keep_valid("followed", lambda value: value <= count, min(300, count))

heading = st.columns([4, 1], vertical_alignment="bottom")
layers = heading[0].pills("Show on the map", [TRAIL, GRID, PATH, OWN] if decodes else [TRAIL, OWN],
                          selection_mode="multi", key="layers", **LINKED,
                          help="Trail: where corrupted images land. Grid: images decoded across the map. "
                               "Path: an interpolation between two images. Your own image: draw, photograph or "
                               "upload one and see where it lands.")
with heading[1]:
    share_link()

trail_settings = grid_settings = path_ends = None
if TRAIL in layers:
    trail_row = st.columns([1.2, 2, 1, 1.3])
    corruption, noise_seed = corruption_controls(tuple(trail_row[:3]), ("Gaussian noise", "Random erasing"))
    followed = trail_row[3].slider("Images followed", 50, min(1000, count), min(300, count), 50, key="followed",
                                   **LINKED)
    trail_settings = (corruption, noise_seed, followed)
if GRID in layers:
    grid_row = st.columns([2, 1.5, 1.5])
    density = grid_row[0].slider("Grid density (images per side)", 5, 25, 12, key="grid_density", **LINKED)
    beside = grid_row[1].radio("Decoded grid", ["behind the points", "beside the map"], key="grid_place",
                               **LINKED) == "beside the map"
    grid_settings = (density, beside)
if PATH in layers:
    ends = st.columns(3)
    path_ends = (ends[0].number_input("Interpolate from image", 0, count - 1, 0, key="from", **LINKED),
                 ends[1].number_input("to image", 0, count - 1, min(1, count - 1), key="to", **LINKED))

progress_place = st.empty()
result = workbench.project(method, params, count, random_state, lambda fraction, stage: progress_place.progress(
    fraction, f"Computing the {METHOD_NAMES[method]} map of {count:,} latents: {stage}"))
progress_place.empty()
coordinates = result.coordinates
trail = workbench.trail(result, *trail_settings) if trail_settings else None
if trail is not None:
    figures = st.columns(4)
    figures[0].metric("Mean shift in latent space", f"{trail.latent_shift:.2f}",
                      help="Mean distance from a clean latent to its corrupted version, in units of the typical "
                           "distance to a clean image's 5th nearest neighbour (comparable across models)")
    figures[1].metric("Label flips", f"{trail.flip_share:.1%}",
                      help="Share of followed images whose 5 nearest clean neighbours vote another class once the "
                           "image is corrupted (judged in latent space, not on the map)")
    figures[2].metric("5-NN accuracy, clean -> corrupted", f"{trail.accuracy_clean:.1%} -> {trail.accuracy_corrupted:.1%}")
    figures[3].metric("Mean arrow, share of the map", f"{trail.map_shift:.1%}",
                      help="Mean arrow length as a share of the map's diagonal")
if grid_settings and not result.invertible:
    st.info("t-SNE has no inverse, so there is no decoded grid: switch the map to PCA or UMAP.")
    grid_settings = None


def stored_selection() -> np.ndarray:
    """The images selected on any map of this page (or named by the link), kept across method switches."""
    if "map_selection" not in st.session_state:
        try:
            st.session_state["map_selection"] = indices_from_text(st.query_params.get("selection", ""), len(workbench.pool))
        except ValueError as error:
            st.warning(f"The link's selection was ignored: {error}.")
            st.session_state["map_selection"] = np.array([], dtype=np.int64)
    return st.session_state["map_selection"]


def store_selection(indices: np.ndarray) -> None:
    st.session_state["map_selection"] = indices
    st.session_state["selection_round"] = st.session_state.get("selection_round", 0) + 1
    if len(indices):
        st.query_params["selection"] = indices_to_text(indices)
    else:
        st.query_params.pop("selection", None)


def grid_picture() -> np.ndarray:
    density = grid_settings[0]
    return drawn_once(result, ("grid picture", density), lambda: tile(workbench.decoded_grid(result, density), density))


def map_figure(selection: np.ndarray, picture: np.ndarray | None):
    """The map with its layers, built once per map, selection and layer settings (kept with the map)."""
    figure = class_map(coordinates, workbench.labels(count), workbench.class_names, workbench.ssim_scores(count), selection,
                       faded=trail is not None)
    if trail is not None:
        add_trail(figure, trail)
    if picture is not None and not grid_settings[1]:
        add_grid_behind(figure, picture, result.grid_positions(grid_settings[0]), grid_settings[0])
    if path_ends:
        add_path(figure, workbench.path_on_map(result, int(path_ends[0]), int(path_ends[1]), 8))
    return figure


@st.fragment
def map_with_selection() -> None:
    """The map, your own image on it and the images selected on it: a lasso or a stroke reruns only this.

    A new selection is stored and the map redrawn with the other points in grey; the chart's own
    selection is then cleared (a new key), so the stored one is the only one shown."""
    selection = stored_selection()
    picture = grid_picture() if grid_settings else None
    figure = drawn_once(result, ("figure", indices_to_text(selection), trail_settings, grid_settings, path_ends),
                        lambda: map_figure(selection, picture))
    own = OWN in layers
    chart, beside = st.columns([2, 1]) if own or (grid_settings and grid_settings[1]) else (st.container(), None)
    if own:
        with beside:
            kept, current = placed(workbench, result, own_image_input(workbench),
                                   *(trail_settings[:2] if trail_settings else (None, 0)))
        if kept or current:
            figure = go.Figure(figure)
            add_own_images(figure, coordinates, kept, current)
    summary = map_summary(METHOD_NAMES[method], workbench.labels(count), workbench.class_names, selection, trail,
                          grid_settings[0] if grid_settings and not grid_settings[1] else None, path_ends)
    event = chart.plotly_chart(figure, on_select="rerun", selection_mode=("points", "box", "lasso"), width="stretch",
                               key=f"map-{method}-{st.session_state.get('selection_round', 0)}",
                               alt=f"{METHOD_NAMES[method]} map of {count:,} images coloured by class, described below")
    chart.caption(summary + (own_words(kept, current, workbench.class_names) if own else ""))
    if picture is not None and grid_settings[1]:
        (chart if own else beside).image(
            encoded(picture), output_format="PNG", alt=f"Images decoded on a {grid_settings[0]} x "
            f"{grid_settings[0]} grid of positions across the {METHOD_NAMES[method]} map",
            caption=f"Decoded on a {grid_settings[0]} x {grid_settings[0]} grid of map positions "
                    "(top left = the map's top left)", width="stretch")
    if own:
        with beside:
            show_placement(workbench, current)
    fresh = selected_indices(event)
    if len(fresh):
        store_selection(fresh)
        st.rerun(scope="fragment")
    show_selection(selection[selection < count])


def show_selection(selection: np.ndarray) -> None:
    st.subheader("Selection")
    if not len(selection):
        st.caption("Draw a lasso or a box on the map (or click a point) to see the images behind it. The selection "
                   "stays when you switch between PCA, t-SNE and UMAP, and travels in the link.")
        return
    shown = selection[:40]
    counts = class_counts(workbench.labels()[selection], workbench.class_names)
    summary, clear = st.columns([5, 1])
    summary.write(f"**{len(selection)} images selected** - " + ", ".join(f"{name}: {n}" for name, n in counts.items()))
    if clear.button("Clear selection"):
        store_selection(np.array([], dtype=np.int64))
        st.rerun(scope="fragment")
    st.caption(f"Originals{' and reconstructions' if decodes else ''} of the first {len(shown)} "
               "(captions are image indices, for the neighbour and interpolation boxes)")
    names = workbench.names_of(shown)
    image_row(workbench.originals(shown), [f"image {i}, {name}" for i, name in zip(shown, names)],
              [str(i) for i in shown], width=56)
    if decodes:
        image_row(workbench.reconstruct(shown)[1], listing("reconstructions of these images", names), width=56)


map_with_selection()
hover_images(workbench, count)  # outside the fragment: a lasso's rerun does not send the sprites again
if path_ends:
    st.caption(f"Interpolation from image {path_ends[0]} to image {path_ends[1]}: the dotted line on the map passes "
               "through where each step's latent falls")
    image_row(workbench.interpolate(int(path_ends[0]), int(path_ends[1]), 8),
              f"Decoded steps from image {path_ends[0]} ({workbench.names_of([path_ends[0]])[0]}) to image "
              f"{path_ends[1]} ({workbench.names_of([path_ends[1]])[0]})", [f"{t:.2f}" for t in np.linspace(0, 1, 8)],
              width=64)

quality = workbench.map_quality(result)
columns = st.columns(4)
columns[0].metric("kNN accuracy, latent space", f"{quality['knn_latent']:.1%}", help="5-NN, 5-fold cross-validated")
columns[1].metric("kNN accuracy, 2-D map", f"{quality['knn_map']:.1%}")
columns[2].metric("Trustworthiness", f"{quality['trustworthiness']:.3f}", help="5 neighbours, up to 3,000 points")
columns[3].metric("Map computed in", f"{result.seconds:.1f} s")


def coordinates_csv() -> bytes:
    """Built when the button is pressed, not on every rerun."""
    return pd.DataFrame({"x": coordinates[:, 0], "y": coordinates[:, 1], "label": workbench.labels(count),
                         "class": [workbench.class_names[c] for c in workbench.labels(count)],
                         "index": np.arange(count)}).to_csv(index=False).encode()


st.download_button("Download coordinates (CSV)", coordinates_csv, f"{method}-map.csv", "text/csv")

left, right = st.columns(2)
with left:
    st.subheader("Nearest neighbours")
    query = st.number_input("Image index", 0, count - 1, 0, key="query", **LINKED)
    k = st.slider("Neighbours", 4, 16, 8, key="neighbours", **LINKED)
    neighbours, distances = workbench.neighbours(int(query), k, count)
    image_row(workbench.originals([query]), f"query: image {query}, {workbench.names_of([query])[0]}", ["query"],
              width=72)
    image_row(workbench.originals(neighbours), [f"neighbour {position}: {name}, distance {d:.2f}" for position, (name, d)
                                                in enumerate(zip(workbench.names_of(neighbours), distances), 1)],
              [f"{workbench.class_names[workbench.labels()[i]]} d={d:.2f}" for i, d in zip(neighbours, distances)], width=72)
    st.caption("Distances are in the model's latent space" + ("" if decodes else " (cosine)") + ", not on the 2-D map.")

with right:
    st.subheader("Decode anywhere")
    if not decodes:
        st.info("This model has no decoder.")
    elif not result.invertible:
        st.info("t-SNE has no inverse: switch the map to PCA or UMAP to decode a location.")
    else:
        across = st.slider("Across the map (left to right)", 0.0, 1.0, 0.5, 0.01, key="decode_x", **LINKED)
        up = st.slider("Up the map (bottom to top)", 0.0, 1.0, 0.5, 0.01, key="decode_y", **LINKED)
        low, high = coordinates.min(0), coordinates.max(0)
        location = low + np.array([across, up]) * (high - low)
        decoded = workbench.decoded_at(result, location)
        image_row(decoded, f"The image decoded at map position ({location[0]:.1f}, {location[1]:.1f})",
                  [f"decoded at ({location[0]:.1f}, {location[1]:.1f})"], width=140)

if st.toggle("S4's view: PCA and t-SNE side by side", key="side_by_side", **LINKED):
    pair = st.columns(2)
    for column, side_method in zip(pair, ("pca", "tsne")):
        with column, st.spinner(f"{METHOD_NAMES[side_method]}..."):
            side = workbench.project(side_method, {"perplexity": 30.0} if side_method == "tsne" else {}, count, random_state)
            selection = stored_selection()
            figure = drawn_once(side, ("figure", indices_to_text(selection), "side by side"), lambda: class_map(
                side.coordinates, workbench.labels(count), workbench.class_names, workbench.ssim_scores(count), selection, 420,
                METHOD_NAMES[side_method]))
            st.plotly_chart(figure, width="stretch", key=f"side-{side_method}",
                            alt=f"{METHOD_NAMES[side_method]} map of {count:,} images coloured by class")

if st.toggle("Training replay: watch this latent space form, epoch by epoch", key="replay", **LINKED):
    replay = active_replay()
    if replay is None:
        st.info("The active model kept no record of its training: runs trained in this app keep one (a fixed set of "
                "validation images after every epoch); the shipped checkpoints were trained before it existed.")
    else:
        st.plotly_chart(replay[0], width="stretch", key="replay-figure", alt=REPLAY_WORDS)
        st.caption(replay[1])
