"""Latent-space explorer: the library behind the app. It knows nothing of Streamlit."""
