import numpy as np
import plotly.express as px
import streamlit as st

from explorer.evaluation import RETRIEVAL_CLASS_COUNTS, evaluate_retrieval
from explorer.images import ImageFormatError, image_from_upload
from explorer.metrics import nearest_neighbours
from explorer.workbench import Workbench
from pages.common import image_row, session_models, shipped_cards, shipped_workbench, test_split

st.title("Similarity search (S2)")
st.markdown("S2's metric-learning network maps each image to an 8-d unit vector; similar images point the same "
            "way. Pick a query and see the most similar test images by cosine similarity.")

embedding_models = {name: card for name, card in shipped_cards().items() if card["model"] == "s2-embedding"}
if not embedding_models:
    st.warning("No S2 checkpoint is shipped here: train one on the Train page (model s2-embedding).")
    st.stop()
trained_session = [name for name, m in session_models().items() if m.checkpoint.card["model"] == "s2-embedding"]
choice = st.selectbox("Embedding model", list(embedding_models) + [f"session:{n}" for n in trained_session],
                      format_func=lambda n: embedding_models[n]["name"] if n in embedding_models else n,
                      index=len(embedding_models) - 1 if len(embedding_models) else 0)
if choice.startswith("session:"):
    stored = session_models()[choice.split(":", 1)[1]]
    bench = Workbench(stored.checkpoint.model, stored.test, stored.class_names)
else:
    bench = shipped_workbench(choice)

query_side, result_side = st.columns([1, 3])
with query_side:
    source = st.radio("Query", ["A test image", "Upload an image"], horizontal=True)
    if source == "A test image":
        index = st.number_input("Test image index", 0, len(bench.pool) - 1, 0)
        query_image = bench.pool.take(np.array([index])).as_tensor()
        exclude = int(index)
    else:
        upload = st.file_uploader("Image (PNG, JPEG, ...)", type=["png", "jpg", "jpeg", "bmp", "gif", "webp"])
        if upload is None:
            st.stop()
        try:
            query_image = image_from_upload(upload.getvalue(), *bench.pool.images.shape[1:3])
        except ImageFormatError as error:
            st.error(f"{upload.name}: {error}. Try a PNG or JPEG.")
            st.stop()
        exclude = None
    image_row(query_image, ["query, as the model sees it"], width=120)
    k = st.slider("Results", 4, 24, 12)

latents = bench.latents()
query = bench.model.encode(query_image).detach().numpy()[0]
neighbours, distances = nearest_neighbours(latents, query, k, metric="cosine", exclude=exclude)
with result_side:
    labels = bench.labels()
    image_row(bench.pool.take(neighbours).as_tensor(),
              [f"{bench.class_names[labels[i]]} · {1 - d:.3f}" for i, d in zip(neighbours, distances)], width=80)
    st.caption("Caption: class · cosine similarity to the query.")


@st.cache_data(show_spinner="Measuring retrieval on the test set...")
def retrieval_table(name: str, class_count: int) -> tuple[float, np.ndarray]:
    return evaluate_retrieval(shipped_workbench(name).model, test_split(shipped_cards()[name]["dataset"]), class_count)


st.subheader("Retrieval accuracy and confusion (the seed's table)")
st.caption("Each test image queries all others; it counts as right when its most similar image has its class.")
columns = st.columns(len(RETRIEVAL_CLASS_COUNTS))
for column, class_count in zip(columns, RETRIEVAL_CLASS_COUNTS):
    name = next((n for n, c in embedding_models.items() if len(c.get("classes") or c["class_names"]) == class_count), choice)
    accuracy, confusion = retrieval_table(name, class_count)
    names = bench.class_names[:class_count]
    column.metric(f"{class_count} classes ({embedding_models[name]['name']})", f"{accuracy:.1%}")
    figure = px.imshow(confusion, x=list(names), y=list(names), color_continuous_scale="Viridis",
                       labels=dict(x="class of most similar image", y="query class", color="images"))
    figure.update_layout(height=360, margin=dict(l=0, r=0, t=10, b=0), coloraxis_showscale=False)
    column.plotly_chart(figure, width="stretch")
