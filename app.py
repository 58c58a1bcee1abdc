"""Entry point: navigation and the shared sidebar (active model). All logic lives in explorer/."""
import streamlit as st

from explorer.memory import return_freed_memory_promptly
from pages.common import render_sidebar, start_background_warm_up

return_freed_memory_promptly()
st.set_page_config(page_title="Latent-space explorer", page_icon=":material/scatter_plot:", layout="wide")

navigation = st.navigation([
    st.Page("pages/home.py", title="Start here", icon=":material/home:", default=True),
    st.Page("pages/reconstruct.py", title="Corrupt & reconstruct", icon=":material/blur_on:"),
    st.Page("pages/latent.py", title="Latent space", icon=":material/scatter_plot:"),
    st.Page("pages/similarity.py", title="Similarity search", icon=":material/image_search:"),
    st.Page("pages/experiments.py", title="Experiments", icon=":material/science:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
])
render_sidebar()
navigation.run()
start_background_warm_up()  # after the first page is drawn: numba compiling alongside it delayed the first map
