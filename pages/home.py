import streamlit as st

from pages.common import active_card, active_workbench, image_row

st.title("Latent-space explorer")
st.markdown(
    "Train or load the convolutional autoencoders of five seed projects (S0-S4), corrupt images with "
    "Gaussian noise or random erasing, compare reconstructions by **SSIM**, and explore what the encoder "
    "learned in interactive PCA / t-SNE / UMAP maps.\n\n"
    "**Where to start:** the active model (sidebar) is a pretrained checkpoint on the Fashion-MNIST test set. "
    "Open **Corrupt & reconstruct** to add noise, **Latent space** to lasso a cluster and decode any point, "
    "**Experiments** for the S3 denoising comparison, or **Train** to train a model of your own.")

bench = active_workbench()
card = active_card()
metrics = card.get("metrics", {})
st.subheader(card.get("name", card["model"]))
if "test" in metrics:
    clean = metrics["test"]["clean"]
    columns = st.columns(4)
    columns[0].metric("Test SSIM", f"{clean['ssim']:.3f}")
    columns[1].metric("Test PSNR", f"{clean['psnr']:.1f} dB")
    columns[2].metric("Test MSE", f"{clean['mse']:.4f}")
    columns[3].metric("Latent size", f"{bench.latents(1).shape[1]}")
    st.caption(f"Measured on {clean['images']:,} {card.get('dataset')} test images; "
               f"trained {card.get('training', {}).get('epochs_run', '?')} epochs "
               f"in {card.get('training', {}).get('seconds', 0) / 60:.1f} min.")
    _, outputs, scores = bench.reconstruct(range(8))
    st.write("Test images (top) and their reconstructions (bottom):")
    image_row(bench.images(8))
    image_row(outputs, [f"SSIM {s:.2f}" for s in scores["ssim"]])
elif "retrieval_accuracy" in metrics:
    columns = st.columns(len(metrics["retrieval_accuracy"]))
    for column, (classes, accuracy) in zip(columns, metrics["retrieval_accuracy"].items()):
        column.metric(f"Retrieval accuracy, {classes} classes", f"{accuracy:.1%}")
with st.expander("Model card (JSON)"):
    st.json(card, expanded=False)
