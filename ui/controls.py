"""Controls more than one page shows, and the link that reproduces a page's view.

Every control is bound to the URL (``bind="query-params"``, its key is the parameter's name), so the
address bar always holds the view: a teacher prepares it, copies the link, and students open exactly it.
Controls with the same key on two pages (the corruption) carry their value from one page to the other.
"""
from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urlencode

import streamlit as st

from explorer.corruption import Corruption, GaussianNoise, RandomErasing
from ui.workspace import PRIVATE_PARAMS

LINKED = {"bind": "query-params"}
CORRUPTIONS = ("None", "Gaussian noise", "Random erasing")


def corruption_controls(places: tuple = (st, st, st), kinds: tuple[str, ...] = CORRUPTIONS
                        ) -> tuple[Corruption | None, int]:
    """The corruption and its noise seed, as Corrupt & reconstruct and the corruption trail both use them.

    ``places``: where the kind, its parameters and the seed go (three columns make it one row). Only
    the chosen kind's parameters are shown; the others keep their values in the URL."""
    kind_place, parameter_place, seed_place = places
    kind = kind_place.radio("Corruption", kinds, key="corruption", **LINKED)
    corruption = None
    if kind == "Gaussian noise":
        corruption = GaussianNoise(parameter_place.slider("Gaussian sigma", 0.0, 1.0, 0.3, 0.01, key="sigma", **LINKED))
    elif kind == "Random erasing":
        probability = parameter_place.slider("Erasing probability", 0.0, 1.0, 1.0, 0.05, key="erasing", **LINKED)
        scale = parameter_place.slider("Erased area (fraction)", 0.02, 0.6, (0.02, 0.33), 0.01, key="area", **LINKED)
        corruption = RandomErasing(probability, scale=scale)
    seed = seed_place.number_input("Noise seed", 0, 10_000, 0, key="noise_seed", **LINKED,
                                   help="The same seed corrupts the same images identically for every model.")
    return corruption, int(seed)


def keep_valid(key: str, is_valid: Callable[[Any], bool], fallback: Any) -> None:
    """Reset a control whose kept value no longer fits its range (a map of fewer points, another dataset)
    before it is drawn: Streamlit refuses a widget whose state lies outside its options."""
    if key in st.session_state and not is_valid(st.session_state[key]):
        st.session_state[key] = fallback


def share_link() -> None:
    """A popover with this view's address (copy button included): every bound control is in it."""
    with st.popover("Copy link to this view", icon=":material/link:"):
        query = urlencode([(key, value) for key in st.query_params if key not in PRIVATE_PARAMS
                           for value in st.query_params.get_all(key)])
        st.code(f"{st.context.url or ''}{'?' + query if query else ''}", language=None, wrap_lines=True)
        st.caption("The link holds the model, the map and every control on this page; anyone opening it sees this "
                   "view, never your workspace (a model trained or uploaded in it stays yours: they get the default "
                   "model). Your workspace's own link is the address in your browser's bar.")
