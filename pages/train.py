import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer.card import ModelCard
from explorer.datasets import dataset_info, list_datasets, sign_mnist_uploads
from explorer.errors import USER_ERRORS
from explorer.run_store import JobState
from explorer.models import list_models
from explorer.runs import (S3_CORRUPTIONS, SEED_PRESETS, TrainingRequest, preset_request, preset_takes_corruption,
                           quick_variant)
from explorer.training import SCHEDULES
from ui.display import image_row, line_chart
from ui.entry import start_page
from ui.training_run import (POLL_SECONDS, cancel_my_run, my_run, status_line, stop_my_run, submit,
                              where_runs_train)
from ui.board import show_on_board, shown_on_board
from ui.replay import REPLAY_WORDS, live_probe_figure
from ui.resources import run_store, stored_card, stored_replay
from ui.train_form import DEFAULT_NOISE_LEVEL, FORM_KEYS, NOISE_KINDS, form_values, request_from_form
from ui.upload import upload_checkpoint_form
from ui.workspace import save, workspace

start_page("pages/train.py")
MODELS = {info.model_id: info for info in list_models()}
DATASETS = {info.name: info for info in list_datasets()}
SUBSETS = [500, 1000, 2000, 5000, 10000, 20000, "all"]
kept = workspace()


def remembered(key: str) -> str:
    """A widget key whose value comes back from the workspace's form: Streamlit forgets a widget's value while
    its page is not drawn, and a reload starts a new session; the student finds the same form either way."""
    if key not in st.session_state and key in kept.form:
        st.session_state[key] = kept.form[key]
    return key


def apply(request: TrainingRequest) -> None:
    """Fill every control from a request."""
    st.session_state.update(form_values(request))


def apply_preset() -> None:
    apply(preset_request(st.session_state["train_preset"], st.session_state.get("train_s3", "gaussian:0.1"),
                         st.session_state["train_quick"]))


def apply_model_recipe() -> None:
    """A new model or dataset: its recipe fills the form. The image count may not be a widget yet (a
    callback runs before the script draws it), so the form's copy stands in."""
    subset = st.session_state.get("train_subset", workspace().form.get("train_subset", "all"))
    apply(TrainingRequest(st.session_state["train_model"], st.session_state["train_dataset"],
                          subset=None if subset == "all" else subset))


if not kept.form and "train_model" not in st.session_state:
    st.session_state.update(train_preset=next(iter(SEED_PRESETS)), train_quick=True, train_s3="gaussian:0.1", train_seed=0)
    apply(quick_variant(TrainingRequest("s4-conv-392", "digits")))

with st.expander("Reproduce a seed in one click", expanded=True):
    preset_columns = st.columns([3, 2, 1])
    preset_columns[0].selectbox("Seed experiment", list(SEED_PRESETS), key=remembered("train_preset"))
    if preset_takes_corruption(st.session_state["train_preset"]):  # only where it applies: a disabled label is grey
        st.session_state.setdefault(remembered("train_s3"), "gaussian:0.1")
        preset_columns[1].selectbox("S3 corruption", S3_CORRUPTIONS, key="train_s3")
    preset_columns[2].toggle("Quick", key=remembered("train_quick"), help="2,000 images and at most 3 epochs, for a lesson")
    st.button("Fill the form with this experiment", on_click=apply_preset)

left, right = st.columns(2)
with left:
    model_id = st.selectbox("Model", list(MODELS), key=remembered("train_model"), on_change=apply_model_recipe,
                            format_func=lambda m: f"{MODELS[m].seed_system or 'ours'} · {m}")
    st.caption(MODELS[model_id].description)
    dataset = st.selectbox("Dataset", list(DATASETS), key=remembered("train_dataset"),
                           format_func=lambda d: f"{d} - {DATASETS[d].description}")
    located = dataset_info(dataset).locate()
    sources = {}
    if dataset == "sign-mnist" and located is None:
        st.info("Sign Language MNIST is not in data/sign-mnist/ here: upload Kaggle's archive as downloaded, "
                "or sign_mnist_train.csv and sign_mnist_test.csv (plain or .gz).")
        uploads = st.file_uploader("Sign Language MNIST files", type=["zip", "csv", "gz"], accept_multiple_files=True)
        if uploads:
            try:
                sources = sign_mnist_uploads({upload.name: upload.getvalue() for upload in uploads})
            except USER_ERRORS as error:
                st.error(str(error))
    elif located is None:
        st.warning(f"{dataset} is not on this machine; training will try to download it.")
    else:
        st.caption(f"Found: {located}")
    st.select_slider("Training images (quick runs use fewer)", SUBSETS, key=remembered("train_subset"))
    metric_learning = MODELS[model_id].recipe.loss == "anchor-positive"
    if metric_learning:
        st.radio("Classes (S2: the first 4, 7 or 10)", [4, 7, 10], key=remembered("train_classes"), horizontal=True)
        st.number_input("Steps per epoch (one anchor/positive batch each)", 10, 5000, key=remembered("train_steps"))
with right:
    st.number_input("Epochs", 1, 200, key=remembered("train_epochs"))
    st.number_input("Batch size" + (" (one anchor and positive per class)" if metric_learning else ""),
                    1, 1024, key=remembered("train_batch"), disabled=metric_learning)
    st.number_input("Learning rate", 1e-5, 1.0, key=remembered("train_lr"), format="%.5f")
    st.number_input("Weight decay", 0.0, 1.0, key=remembered("train_decay"), format="%.3f",
                    help="Above zero trains with AdamW: weights shrink unless the data keeps them")
    st.radio("Learning-rate schedule", SCHEDULES, key=remembered("train_schedule"), horizontal=True,
             help="one-cycle warms up to the learning rate, then anneals it to nearly zero by the last epoch")
    st.toggle("bf16 forward pass", key=remembered("train_bf16"), help="About 1.5x faster training steps on CPUs with "
              "AVX-512 BF16 and on recent GPUs; slower on CPUs without it. Weights and losses stay float32.")
    st.toggle("Mirror half of each batch", key=remembered("train_flip"),
              help="Left-right mirroring: more varied training images, so the model memorises less")
    noise = st.radio("Denoising corruption (inputs only)", list(NOISE_KINDS), key=remembered("train_noise"), horizontal=True)
    if noise != "None":
        st.session_state.setdefault(remembered("train_level"), DEFAULT_NOISE_LEVEL)
        st.slider("Sigma or erasing probability", 0.0, 1.0, key="train_level", step=0.01)
    st.number_input("Seed", 0, 10_000, key=remembered("train_seed"))
    st.text_input("Name", key=remembered("train_name"))

form = {**kept.form, **{key: st.session_state[key] for key in FORM_KEYS if key in st.session_state}}
if form != kept.form:
    kept.form = form
    save(kept)
request = request_from_form(form, sources)


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
    figure.update_layout(xaxis=dict(title="epoch", dtick=max(1, len(frame) // 10)), height=320, margin=dict(t=10, b=10))
    return figure


def loss_words(history) -> str:
    last = list(history)[-1]
    if last.get("val_accuracy") is not None:
        return f"Validation retrieval accuracy against epoch: {last['val_accuracy']:.1%} after epoch {last['epoch']}"
    return (f"Training and validation loss against epoch: {last['train_loss']:.4f} and {last['val_loss']:.4f} "
            f"after epoch {last['epoch']}")


def watch_run() -> None:
    """The run's progress, refreshed without blocking the page; Stop and Cancel act at once."""
    status = my_run()
    if status is None or not status.state.active:
        st.rerun()
    st.info(status_line(status))
    st.progress(status.progress.fraction)
    buttons = st.columns(2)
    buttons[0].button("Stop (keeps the best weights so far)", on_click=stop_my_run,
                      disabled=status.state is JobState.QUEUED)
    buttons[1].button("Cancel (discards the run)", on_click=cancel_my_run)
    chart, probe = st.columns(2)
    progress = status.progress
    if progress.history:
        with chart:
            line_chart(loss_figure(list(progress.history)), loss_words(progress.history))
    with probe:
        if progress.probe_map is not None:
            st.caption(f"The latent space after epoch {progress.history[-1]['epoch']}: validation images, PCA")
            st.plotly_chart(live_probe_figure(*progress.probe_map), width="stretch",
                            alt="PCA map of the validation images' latents, coloured by class")
        if progress.samples is not None:
            st.caption("Validation images over their reconstructions")
            count = len(progress.samples[0])
            image_row(progress.samples[0], f"{count} validation images", width=48)
            image_row(progress.samples[1], f"their {count} reconstructions after epoch {progress.history[-1]['epoch']}"
                      if progress.history else f"their {count} reconstructions", width=48)


def show_result(run: str) -> None:
    """The finished run's curves, its test figure, the command that re-runs it, and its two files."""
    card = ModelCard(stored_card(run))
    st.success(f"**{card.name}** is trained and is now the active model ({card.training['stop_reason']}).")
    curves, replay = st.columns(2)
    with curves:
        line_chart(loss_figure(card.history), loss_words(card.history))
    stored = stored_replay(run)
    if stored is not None:
        with replay:
            st.caption("**Replay**: the latent space of a fixed set of validation images after every epoch (press Play)")
            st.plotly_chart(stored[0], width="stretch", key=f"replay-{run}", alt=REPLAY_WORDS)
            st.caption(stored[1])
    st.write(f"Test: {card.headline()} · re-run from a terminal: `{card.data['command']}`")
    shown = shown_on_board(run)
    if shown is not None:
        st.toggle("Show this run on the class board", value=shown, key=f"on-board-{run}",
                  on_change=lambda: show_on_board(run, st.session_state[f"on-board-{run}"]))
    weights_path, card_path = run_store().checkpoint_paths(run)
    stem = card.name.replace(" ", "-").replace("/", "-")
    download = st.columns(2)
    download[0].download_button("Download weights (.safetensors)", weights_path.read_bytes, f"{stem}.safetensors")
    download[1].download_button("Download model card (.json)", card_path.read_bytes, f"{stem}.json")


if message := st.session_state.pop("left_run_message", None):
    st.info(message)
status = my_run()
st.caption(where_runs_train())
train_button = st.empty()
if (status is None or not status.state.active) and train_button.button("Train", type="primary"):
    try:
        request.config().validate()
        submit(request)
    except USER_ERRORS as error:
        st.error(f"Cannot start training: {error}")
    status = my_run()
    if status is not None and status.has_model:
        st.rerun()  # joined an identical finished run: the sidebar adopts its model as it is drawn again
    if status is not None and status.state.active:
        train_button.empty()  # the run's Stop and Cancel take its place until the run ends
if status is not None and status.state.active:
    st.fragment(watch_run, run_every=POLL_SECONDS)()
elif status is not None and status.state in (JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED):
    (st.error if status.state is JobState.FAILED else st.warning)(f"{status.message} The active model is unchanged.")
elif status is not None and status.has_model:
    show_result(status.run_id)

with st.expander("Upload a checkpoint (.safetensors + .json card)"):
    upload_checkpoint_form("train")
