import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from explorer.checkpoint import Checkpoint, checkpoint_files, make_card
from explorer.corruption import GaussianNoise, RandomErasing
from explorer.datasets import list_datasets, load_dataset
from explorer.evaluation import evaluate_reconstruction, evaluate_retrieval
from explorer.models import create_model, list_models, model_info
from explorer.training import SCHEDULES, TrainConfig, train, training_record
from pages.common import USER_ERRORS, SessionModel, add_session_model, image_row, session_models, upload_checkpoint_form

st.title("Train a model")
models = {info.model_id: info for info in list_models()}
left, right = st.columns(2)
with left:
    model_id = st.selectbox("Model", list(models), format_func=lambda m: f"{models[m].seed or 'ours'} · {m}")
    st.caption(models[model_id].description)
    datasets = {info.name: info for info in list_datasets()}
    dataset = st.selectbox("Dataset", list(datasets), format_func=lambda d: f"{d} - {datasets[d].description}")
    csv_files = {}
    if dataset == "sign-mnist":
        csv_files["train_csv"] = st.file_uploader("sign_mnist_train.csv", type=["csv"])
        csv_files["test_csv"] = st.file_uploader("sign_mnist_test.csv", type=["csv"])
    recipe = models[model_id].recipe
    subset = st.select_slider("Training images (quick runs use fewer)", [500, 1000, 2000, 5000, 10000, 20000, "all"], 2000)
with right:
    epochs = st.number_input("Epochs", 1, 200, min(recipe.epochs, 5))
    batch_size = st.number_input("Batch size" + (" (classes per batch)" if recipe.loss == "anchor-positive" else ""),
                                 1, 1024, recipe.batch_size, disabled=recipe.loss == "anchor-positive")
    learning_rate = st.number_input("Learning rate", 1e-5, 1.0, recipe.learning_rate, format="%.5f")
    weight_decay = st.number_input("Weight decay", 0.0, 1.0, recipe.weight_decay, format="%.3f",
                                   help="Above zero trains with AdamW: weights shrink unless the data keeps them")
    schedule = st.radio("Learning-rate schedule", SCHEDULES, SCHEDULES.index(recipe.schedule), horizontal=True,
                        help="one-cycle warms up to the learning rate, then anneals it to nearly zero by the last epoch")
    bf16 = st.toggle("bf16 forward pass", help="About 1.5x faster training steps on CPUs with AVX-512 BF16 and on "
                     "recent GPUs; slower on CPUs without it. Weights and losses stay float32.")
    flip = st.toggle("Mirror half of each batch", recipe.flip,
                     help="Left-right mirroring: more varied training images, so the model memorises less")
    noise = st.radio("Denoising corruption (inputs only)", ["None", "Gaussian", "Random erasing"], horizontal=True)
    noise_level = st.slider("Sigma or erasing probability", 0.0, 1.0, 0.1 if noise == "Gaussian" else 0.5, 0.01,
                            disabled=noise == "None")
    seed = st.number_input("Seed", 0, 10_000, 0)
    name = st.text_input("Name", f"{model_id} on {dataset}")

corruption = {"None": None, "Gaussian": GaussianNoise(noise_level), "Random erasing": RandomErasing(noise_level)}[noise]
start = st.button("Train", type="primary")
stop_area = st.empty()
progress = st.progress(0.0, "Ready")
chart_area, samples_area = st.columns([3, 2])
chart_slot, samples_slot = chart_area.empty(), samples_area.empty()


def loss_figure(history: list[dict]) -> go.Figure:
    frame = pd.DataFrame(history)
    figure = go.Figure()
    if frame["val_accuracy"].notna().any():
        figure.add_scatter(x=frame.epoch, y=frame.val_accuracy, name="validation retrieval accuracy", mode="lines+markers")
        figure.update_layout(yaxis_title="accuracy")
    else:
        figure.add_scatter(x=frame.epoch, y=frame.train_loss, name="train loss", mode="lines+markers")
        figure.add_scatter(x=frame.epoch, y=frame.val_loss, name="validation loss", mode="lines+markers")
        figure.update_layout(yaxis_title="loss")
    figure.update_layout(xaxis_title="epoch", height=320, margin=dict(t=10, b=10))
    return figure


def stop_requested() -> bool:
    return st.session_state.get("stop_training", False)


if start:
    st.session_state["stop_training"] = False
    try:
        if dataset == "sign-mnist" and not all(csv_files.values()):
            raise ValueError("upload both Sign Language MNIST CSV files (train and test) first")
        sources = {key: file.getvalue() for key, file in csv_files.items()}
        splits = load_dataset(dataset, seed=seed, **sources).subset(None if subset == "all" else int(subset), seed=seed)
        channels, size, _ = splits.image_shape
        torch.manual_seed(seed)
        model = create_model(model_id, channels=channels, size=size)
        config = TrainConfig.from_recipe(model_info(model_id), epochs=int(epochs), batch_size=int(batch_size),
                                         learning_rate=float(learning_rate), weight_decay=float(weight_decay),
                                         schedule=schedule, precision="bf16" if bf16 else "fp32", flip=flip,
                                         corruption=corruption,
                                         seed=int(seed), steps_per_epoch=200)
        config.validate()
    except USER_ERRORS as error:
        st.error(f"Cannot start training: {error}")
        st.stop()
    stop_area.button("Stop (keeps the best weights so far)", on_click=lambda: st.session_state.update(stop_training=True))
    history = []
    preview = splits.val.take(range(min(6, len(splits.val)))).as_tensor()

    def on_step(report) -> None:
        done = ((report.epoch - 1) + report.step / report.steps) / config.epochs
        progress.progress(min(done, 1.0), f"epoch {report.epoch}/{config.epochs}, step {report.step}/{report.steps}, "
                                          f"loss {report.loss:.4f}")

    def on_epoch(report) -> None:
        history.append(vars(report))
        chart_slot.plotly_chart(loss_figure(history), width="stretch", key=f"loss-{report.epoch}")
        if hasattr(model, "decode"):
            with torch.no_grad():
                model.eval()
                outputs = model(preview.to(next(model.parameters()).device)).cpu()
                model.train()
            with samples_slot.container():
                st.caption(f"Validation images and reconstructions after epoch {report.epoch}")
                image_row(preview, width=56)
                image_row(outputs, width=56)

    result = train(model, splits, config, on_step=on_step, on_epoch=on_epoch, should_stop=stop_requested)
    stop_area.empty()
    if result.failed or not result.history:
        st.error(f"Training failed: {result.stop_reason}. Nothing was kept; the active model is unchanged.")
        st.stop()
    progress.progress(1.0, f"{result.stop_reason}; best epoch {result.best_epoch} ({result.seconds:.0f} s)")
    info = model_info(model_id)
    if info.is_autoencoder:
        metrics = {"test": {"clean": evaluate_reconstruction(model, splits.test)}}
    else:
        metrics = {"retrieval_accuracy": {str(len(splits.class_names)):
                                          evaluate_retrieval(model, splits.test, len(splits.class_names))[0]}}
    card = make_card(model, name=name, seed_system=info.seed, dataset=dataset, description=info.description,
                     class_names=list(splits.class_names), corruption=corruption.describe() if corruption else None,
                     split={"subset": subset, "train": len(splits.train), "val": len(splits.val), "test": len(splits.test)},
                     training=training_record(config, result),
                     history=[vars(h) for h in result.history], metrics=metrics)
    add_session_model(name, SessionModel(Checkpoint(model.cpu().eval(), card), splits.test, splits.class_names))
    st.session_state["last_trained"] = name
    st.rerun()

last = st.session_state.get("last_trained")
if last and last in session_models():
    trained = session_models()[last]
    card = trained.checkpoint.card
    st.success(f"**{last}** is trained and is now the active model ({card['training']['stop_reason']}).")
    chart_slot.plotly_chart(loss_figure(card["history"]), width="stretch")
    metrics = card["metrics"]
    if "test" in metrics:
        clean = metrics["test"]["clean"]
        st.write(f"Test ({clean['images']:,} images): SSIM **{clean['ssim']:.3f}**, MSE {clean['mse']:.4f}, "
                 f"PSNR {clean['psnr']:.2f} dB")
    else:
        st.write("Test retrieval accuracy: " + ", ".join(f"{k} classes {v:.1%}" for k, v in metrics["retrieval_accuracy"].items()))
    weights_data, card_data = checkpoint_files(trained.checkpoint.model, card)
    stem = last.replace(" ", "-").replace("/", "-")
    download = st.columns(2)
    download[0].download_button("Download weights (.safetensors)", weights_data, f"{stem}.safetensors")
    download[1].download_button("Download model card (.json)", card_data, f"{stem}.json")

with st.expander("Upload a checkpoint (.safetensors + .json card)"):
    upload_checkpoint_form("train")
