"""The app's pages, listed once: app.py builds its navigation from this table, and the tests and the
benchmark visit every page from it. Adding a page is its file in pages/ plus one line here."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    heading: str
    icon: str
    url_path: str

    @property
    def default(self) -> bool:
        return self.url_path == ""


PAGES = (
    PageSpec("pages/home.py", "Start here", "Latent-space explorer", ":material/home:", ""),
    PageSpec("pages/reconstruct.py", "Corrupt & reconstruct", "Corrupt & reconstruct", ":material/blur_on:",
             "reconstruct"),
    PageSpec("pages/latent.py", "Latent space", "Latent space", ":material/scatter_plot:", "latent"),
    PageSpec("pages/similarity.py", "Similarity search", "Similarity search (S2)", ":material/image_search:",
             "similarity"),
    PageSpec("pages/experiments.py", "Experiments", "Experiments", ":material/science:", "experiments"),
    PageSpec("pages/train.py", "Train", "Train a model", ":material/model_training:", "train"),
    PageSpec("pages/board.py", "Class board", "Class board", ":material/table_view:", "board"),
)


def page_spec(path: str) -> PageSpec:
    return next(spec for spec in PAGES if spec.path == path)
