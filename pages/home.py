import streamlit as st

from ui.display import image_row, listing
from ui.entry import start_page
from ui.active_model import active_card, active_workbench

start_page("pages/home.py")
st.markdown(
    "Train or load the convolutional autoencoders of five seed projects (S0-S4), corrupt images with "
    "Gaussian noise or random erasing, compare reconstructions by **SSIM**, and explore what the encoder "
    "learned in interactive PCA / t-SNE / UMAP maps.\n\n"
    "**Where to start:** the active model (sidebar) is a pretrained checkpoint on the Fashion-MNIST test set. "
    "Open **Corrupt & reconstruct** to add noise, **Latent space** to lasso a cluster and decode any point, "
    "**Experiments** for the S3 denoising comparison, or **Train** to train a model of your own.")

workbench = active_workbench()
card = active_card()
st.subheader(card.name)
if card.can_decode and card.ssim() is not None:
    clean = card.metrics["test"]["clean"]
    columns = st.columns(4)
    columns[0].metric("Test SSIM", f"{clean['ssim']:.3f}")
    columns[1].metric("Test PSNR", f"{clean['psnr']:.1f} dB")
    columns[2].metric("Test MSE", f"{clean['mse']:.4f}")
    columns[3].metric("Latent size", f"{workbench.latents(1).shape[1]}")
    st.caption(f"Measured on {clean['images']:,} {card.dataset} test images; "
               f"trained {card.training.get('epochs_run', '?')} epochs "
               f"in {card.training.get('seconds', 0) / 60:.1f} min.")
    _, outputs, scores = workbench.reconstruct(range(8))
    st.write("Test images (top) and their reconstructions (bottom):")
    names = workbench.names_of(range(8))
    image_row(workbench.originals(range(8)), listing("test images", names))
    image_row(outputs, [f"reconstructed {name}, SSIM {s:.2f}" for name, s in zip(names, scores["ssim"])],
              [f"SSIM {s:.2f}" for s in scores["ssim"]])
elif card.retrieval_accuracy:
    columns = st.columns(len(card.retrieval_accuracy))
    for column, (classes, accuracy) in zip(columns, card.retrieval_accuracy.items()):
        column.metric(f"Retrieval accuracy, {classes} classes", f"{accuracy:.1%}")
with st.expander("Model card (JSON)"):
    st.json(card.data, expanded=False)
