import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.controls import LINKED, corruption_controls, keep_valid, share_link
from ui.display import image_columns, image_row, line_chart, listing
from ui.entry import start_page
from ui.figures import drawn_once
from ui.active_model import active_card, active_ref, card_for, labels_of, model_refs, require_decoder, workbench_for

start_page("pages/reconstruct.py")
workbench = require_decoder()
share_link()

controls, view = st.columns([1, 3])
with controls:
    corruption, seed = corruption_controls()
    keep_valid("classes", lambda chosen: all(c < len(workbench.class_names) for c in chosen), [])
    count = st.slider("Images in the grid", 4, 24, 12, 4, key="grid_images", **LINKED)
    chosen = st.multiselect("Classes", list(range(len(workbench.class_names))), format_func=lambda c: workbench.class_names[c],
                            help="Empty = all classes", key="classes", **LINKED)
    subset = st.select_slider("Images for the mean figures", [500, 1000, 2000, 5000, 10000], 1000, key="mean_images",
                              **LINKED)
pool_labels = workbench.labels()
candidates = np.flatnonzero(np.isin(pool_labels, chosen)) if chosen else np.arange(len(pool_labels))
indices = candidates[:count]

with view:
    inputs, outputs, scores = workbench.reconstruct(indices, corruption, seed)
    summary = workbench.quality(subset, corruption, seed)
    metrics = st.columns(3)
    metrics[0].metric(f"Mean SSIM ({subset:,} images)", f"{summary['ssim']:.3f}")
    metrics[1].metric("Mean PSNR", f"{summary['psnr']:.2f} dB")
    metrics[2].metric("Mean MSE", f"{summary['mse']:.4f}")
    names = [workbench.class_names[pool_labels[i]] for i in indices]
    st.caption("Each column: the original, the corrupted input, the reconstruction; below, the class and the "
               "reconstruction's SSIM")
    input_words = "corrupted" if corruption is not None else "uncorrupted"
    image_columns([(workbench.originals(indices), None, [f"original {name}" for name in names]),
                   (inputs, None, [f"input: the {name} {input_words}" for name in names]),
                   (outputs, [f"{name} {s:.3f}" for name, s in zip(names, scores["ssim"])],
                    [f"reconstruction of the {name}, SSIM {s:.3f}" for name, s in zip(names, scores["ssim"])])])

    if st.toggle("Show the worst and best reconstructions", key="extremes", **LINKED):
        subset_ssim = workbench.scores(subset, corruption, seed)["ssim"]
        order = np.argsort(subset_ssim)
        for title, picked in (("Worst", order[:8]), ("Best", order[-8:][::-1])):
            st.caption(f"{title} 8 of {len(subset_ssim):,} (original, input, reconstruction)")
            picked_inputs, picked_outputs = workbench.reconstruct_scored(subset, picked, corruption, seed)
            picked_names = workbench.names_of(picked)
            image_row(workbench.originals(picked), listing(f"originals, the {title.lower()} reconstructed", picked_names))
            if corruption is not None:
                image_row(picked_inputs, listing("their corrupted inputs", picked_names))
            image_row(picked_outputs, [f"reconstruction of the {name}, SSIM {subset_ssim[i]:.3f}"
                                       for name, i in zip(picked_names, picked)], [f"{subset_ssim[i]:.3f}" for i in picked])

st.subheader("Noise sweep")
st.caption("Mean SSIM against the corruption level: a denoising model (S3) degrades more slowly than a clean-trained one.")
comparable = [ref for ref in model_refs() if ref.shipped and ref != active_ref()
              and card_for(ref).dataset == active_card().dataset and card_for(ref).can_decode]
keep_valid("compare", lambda chosen: all(ref in comparable for ref in chosen), [])
others = st.multiselect("Compare with", comparable, format_func=labels_of(comparable), key="compare", **LINKED)
sweep_kind = st.radio("Sweep", ["gaussian", "erasing"], horizontal=True, key="sweep", **LINKED)
levels = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0]
sweep_count = 500


def sweep_figure() -> go.Figure:
    figure = go.Figure()
    with st.spinner("Sweeping..."):
        for ref in [active_ref(), *others]:
            figure.add_scatter(x=levels, y=workbench_for(ref).noise_sweep(sweep_kind, levels, sweep_count, seed),
                               mode="lines+markers", name=card_for(ref).name)
    figure.update_layout(xaxis_title="sigma" if sweep_kind == "gaussian" else "erasing probability",
                         yaxis_title=f"mean SSIM ({sweep_count} test images)", height=380, margin=dict(t=20))
    return figure


line_chart(drawn_once(workbench, ("noise sweep", sweep_kind, tuple(others), seed), sweep_figure),
           f"Mean SSIM of {sweep_count} test images against {'sigma' if sweep_kind == 'gaussian' else 'erasing probability'}"
           f", one line per model")
