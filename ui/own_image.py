"""The student's own image on the Latent page: drawn on a canvas, photographed or uploaded, then placed on
the map beside its reconstruction and its nearest test images.

The images live in this session only (they are the student's own): a copied link does not carry them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st
import torch

from explorer.corruption import Corruption
from explorer.drawing import NothingDrawn, from_canvas, from_upload
from explorer.placement import Placement, place
from explorer.workbench import MapResult, Workbench
from ui.display import image_row
from ui.upload import uploaded_image

SOURCES = {"draw": ":material/draw: Draw", "camera": ":material/photo_camera: Camera", "file": ":material/upload: File"}
CANVAS_SIDE = 280
MOST_KEPT = 6
KEPT, NUMBERED, CANVAS_ROUND, PLACED = "own_kept", "own_numbered", "own_canvas_round", "own_placed"


@dataclass(frozen=True)
class OwnImages:
    """What goes on the map: the kept images, numbered, and the one being drawn or shot now."""

    kept: list[tuple[int, torch.Tensor]]
    current: torch.Tensor | None


def own_image_input(workbench: Workbench) -> OwnImages:
    """The input (canvas, camera or file) and the kept images; every stroke's end reruns the fragment it is in."""
    source = st.segmented_control("Your image", list(SOURCES), format_func=SOURCES.get, default="draw",
                                  key="own_source") or "draw"
    current = {"draw": _drawing, "camera": _photo, "file": _upload}[source](workbench)
    kept = st.session_state.setdefault(KEPT, [])
    keep, forget = st.columns(2)
    if keep.button("Keep it on the map", disabled=current is None, icon=":material/push_pin:",
                   help=f"Pins this image to the map as a numbered point (the last {MOST_KEPT} stay) and starts a "
                        "new one"):
        number = st.session_state[NUMBERED] = st.session_state.get(NUMBERED, 0) + 1
        kept[:] = (kept + [(number, current)])[-MOST_KEPT:]
        st.session_state[CANVAS_ROUND] = st.session_state.get(CANVAS_ROUND, 0) + 1
        st.rerun(scope="fragment")
    if forget.button("Forget kept images", disabled=not kept, icon=":material/delete_sweep:"):
        kept.clear()
        st.rerun(scope="fragment")
    st.caption("Your images stay in this tab: a copied link does not carry them.")
    return OwnImages(list(kept), current)


def _drawing(workbench: Workbench) -> torch.Tensor | None:
    from streamlit_drawable_canvas import st_canvas  # its component registers itself on import, in a running app

    channels, size = workbench.pool.images.shape[1:3]
    light_on_dark = workbench.style.light_on_dark and channels == 1
    width_place, colour_place = st.columns(2) if channels == 3 else (st, None)
    stroke_width = width_place.slider("Stroke width", 4, 50, 20, key="stroke_width")
    stroke = colour_place.color_picker("Colour", "#1f5fbf", key="stroke_colour") if colour_place else (
        "#ffffff" if light_on_dark else "#000000")
    background = "#000000" if light_on_dark else "#ffffff"
    drawn = st_canvas(stroke_width=stroke_width, stroke_color=stroke, background_color=background,
                      height=CANVAS_SIDE, width=CANVAS_SIDE, return_image_data=True,
                      key=f"canvas-{st.session_state.get(CANVAS_ROUND, 0)}")
    st.caption("Draw with the mouse or a finger; the toolbar above the canvas undoes a stroke or clears it. "
               + ("Draw light on black, as the dataset does." if light_on_dark else ""))
    if drawn.image_data is None:
        return None
    try:
        return from_canvas(drawn.image_data, background, workbench.style, channels, size)
    except NothingDrawn:
        return None


def _photo(workbench: Workbench) -> torch.Tensor | None:
    shot = st.camera_input("Show it to the camera", key="own_camera")
    if shot is None:
        return None
    try:
        return from_upload(shot.getvalue(), workbench.style, *workbench.pool.images.shape[1:3])
    except NothingDrawn:
        st.info("The photo shows no object against its background: try a plain background.")
        return None


def _upload(workbench: Workbench) -> torch.Tensor | None:
    return uploaded_image("An image file (any size, colour or grey)", workbench, key="own_file")


def placed(workbench: Workbench, result: MapResult, images: OwnImages, corruption: Corruption | None,
           seed: int) -> tuple[list[tuple[int, Placement]], Placement | None]:
    """The kept images and the current one on this map, placed once per map and set of images: a lasso or a
    rerun that changes neither costs nothing (a t-SNE placement takes about 0.3 s)."""
    tensors = [tensor for _, tensor in images.kept] + ([images.current] if images.current is not None else [])
    if not tensors:
        return [], None
    key = (id(result), tuple(_digest(tensor) for tensor in tensors), corruption, seed)
    remembered = st.session_state.get(PLACED)
    if remembered is None or remembered[0] != key:
        remembered = st.session_state[PLACED] = (key, place(workbench, result, torch.cat(tensors), corruption=corruption,
                                                            seed=seed))
    placements = remembered[1]
    kept = [(number, placement) for (number, _), placement in zip(images.kept, placements)]
    return kept, placements[-1] if images.current is not None else None


def show_placement(workbench: Workbench, placement: Placement | None) -> None:
    """The image as the model sees it, what it draws back, and the nearest test images with their vote."""
    if placement is None:
        st.caption("Draw something, take a photo or upload a picture: it lands on the map as a star.")
        return
    names = workbench.class_names
    shown = [placement.image] + ([placement.reconstruction] if placement.reconstruction is not None else [])
    image_row(torch.cat(shown), ["your image as the model sees it"] + (
        [f"the model's reconstruction of your image, SSIM {placement.ssim:.3f}"] if placement.ssim is not None else []),
        ["as the model sees it"] + ([f"reconstruction, SSIM {placement.ssim:.3f}"] if placement.ssim is not None else []),
        width=110)
    voters = len(placement.neighbours)
    st.markdown(f"Its {voters} nearest test images vote **{names[placement.vote]}** "
                f"({placement.votes} of {voters}, {placement.certainty:.0%})")
    neighbour_names = workbench.names_of(placement.neighbours)
    image_row(workbench.originals(placement.neighbours),
              [f"neighbour {position}: {name}, distance {distance:.2f}" for position, (name, distance)
               in enumerate(zip(neighbour_names, placement.distances), 1)],
              [f"{name} d={distance:.2f}" for name, distance in zip(neighbour_names, placement.distances)], width=52)


def own_words(kept: list[tuple[int, Placement]], current: Placement | None, class_names: tuple[str, ...]) -> str:
    """Your own images on the map, in words (for the map's description)."""
    words = [f" Your kept images are the numbered diamonds ({', '.join(str(number) for number, _ in kept)})." if kept else ""]
    if current is not None:
        voters = len(current.neighbours)
        words.append(f" Your image is the star at ({current.point[0]:.1f}, {current.point[1]:.1f}); its {voters} "
                     f"nearest test images are ringed and vote {class_names[current.vote]} ({current.votes} of {voters}).")
        if current.corrupted_point is not None:
            words.append(" An arrow points to where its corrupted version lands.")
    return "".join(words)


def _digest(tensor: torch.Tensor) -> str:
    return hashlib.blake2b(tensor.numpy().tobytes(), digest_size=12).hexdigest()
