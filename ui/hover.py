"""The hovered point's image and reconstruction, shown beside the pointer without a click.

Streamlit reports clicks and selections on a Plotly chart, never hovers, so this is done in the
browser: the browser fetches the map's images once as a sprite (a static file), and a small script listens to Plotly's
own ``plotly_hover`` event on every chart of the page whose points carry an image index first in
``customdata`` (as ``ui.maps`` draws them) and draws that image's crop of the sprite.
"""
from __future__ import annotations

import functools
import hashlib
import json
import threading
from pathlib import Path

import streamlit as st

from explorer.images import SPRITE_COLUMNS
from explorer.workbench import Workbench

# The sprites of 2,000 Fashion-MNIST images and reconstructions weigh 0.8 MB, fetched once per model by
# each browser; beyond this many points, only the first ones have a preview.
HOVER_LIMIT = 2000
SCALE = 3
PUBLISHED_FOLDER = Path(__file__).resolve().parent.parent / "static" / "previews"
MAX_PUBLISHED = 64  # sprites kept on disk (two per model and map size): ~25 MB at most

_SCRIPT = """
<script>
(() => {
  const settings = %(settings)s;
  const load = source => { if (!source) return null; const image = new Image(); image.src = source; return image; };
  window.hoverPreview = {...settings, originals: load(settings.originals), reconstructions: load(settings.reconstructions)};
  if (window.hoverPreviewInstalled) return;
  window.hoverPreviewInstalled = true;
  const box = document.createElement("div");
  box.id = "hover-preview";
  box.style.cssText = "position:fixed;z-index:100000;pointer-events:none;display:none;background:white;" +
    "border:1px solid #bbb;border-radius:6px;padding:6px;box-shadow:0 2px 8px rgba(0,0,0,.25);" +
    "font:12px sans-serif;color:#222;text-align:center";
  document.body.appendChild(box);
  const crop = (sprite, index, caption) => {
    const s = window.hoverPreview, size = s.height * s.scale, canvas = document.createElement("canvas");
    canvas.width = s.width * s.scale; canvas.height = size;
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.drawImage(sprite, (index %% s.columns) * s.width, Math.floor(index / s.columns) * s.height,
                      s.width, s.height, 0, 0, canvas.width, canvas.height);
    const figure = document.createElement("figure");
    figure.style.cssText = "display:inline-block;margin:0 3px";
    figure.append(canvas, Object.assign(document.createElement("figcaption"), {textContent: caption}));
    return figure;
  };
  const show = event => {
    const point = event.points && event.points[0], s = window.hoverPreview;
    const data = point && point.customdata;  // an array, or an object keyed "0", "1" for NumPy-typed data
    const index = data != null && typeof data === "object" ? Math.round(Number(data[0])) : NaN;
    if (!Number.isInteger(index) || index >= s.count || !s.originals) { box.style.display = "none"; return; }
    box.replaceChildren(crop(s.originals, index, "image"));
    if (s.reconstructions) box.append(crop(s.reconstructions, index, "reconstruction"));
    box.append(Object.assign(document.createElement("div"), {textContent: `#${index} \u00b7 ${point.data.name}`}));
    const mouse = event.event || {clientX: 0, clientY: 0};
    box.style.display = "block";  // measured below; Plotly's own label sits right of the point, so go left
    const width = box.offsetWidth;
    box.style.left = (mouse.clientX > width + 30 ? mouse.clientX - width - 18 : mouse.clientX + 18) + "px";
    box.style.top = Math.max(mouse.clientY - box.offsetHeight / 2, 8) + "px";
    box.style.display = "block";
  };
  const attach = () => document.querySelectorAll(".js-plotly-plot").forEach(chart => {
    if (chart.hoverPreviewAttached || typeof chart.on !== "function") return;
    chart.hoverPreviewAttached = true;
    box.style.display = "none";  // a redrawn chart sends no unhover for the point it replaced
    chart.on("plotly_hover", show);
    chart.on("plotly_unhover", () => { box.style.display = "none"; });
    chart.addEventListener("mouseleave", () => { box.style.display = "none"; });
  });
  setInterval(attach, 400);
})();
</script>
"""


def hover_images(workbench: Workbench, count: int) -> None:
    """Turn on hover previews for the first ``min(count, HOVER_LIMIT)`` images on this page's maps."""
    shown = min(count, HOVER_LIMIT, len(workbench.pool))
    originals, reconstructions = workbench.preview_sprites(shown)
    height, width = workbench.pool.images.shape[-2:]
    settings = {"count": shown, "columns": SPRITE_COLUMNS, "width": width, "height": height, "scale": SCALE,
                "originals": published(originals),
                "reconstructions": None if reconstructions is None else published(reconstructions)}
    st.html(_SCRIPT % {"settings": json.dumps(settings)}, unsafe_allow_javascript=True, width="content")
    if count > shown:
        st.caption(f"Hover previews for the first {shown:,} points.")


def published(sprite: bytes) -> str:
    """The sprite as a static file the browser fetches once and caches (its name is its content's hash),
    so a rerun sends its address, not the picture: Streamlit serves ``static/`` beside app.py
    (``server.enableStaticServing``)."""
    path = PUBLISHED_FOLDER / _file_name(sprite)
    if not path.exists():
        PUBLISHED_FOLDER.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{threading.get_ident()}.partial")
        partial.write_bytes(sprite)
        partial.replace(path)
        for stale in sorted(PUBLISHED_FOLDER.glob("*.webp"), key=lambda file: file.stat().st_mtime)[:-MAX_PUBLISHED]:
            stale.unlink(missing_ok=True)
    return f"app/static/{PUBLISHED_FOLDER.name}/{path.name}"


@functools.lru_cache(maxsize=MAX_PUBLISHED)
def _file_name(sprite: bytes) -> str:
    """Hashed once per sprite: bytes keep their own hash, so a kept sprite is found in O(1)."""
    return hashlib.blake2b(sprite, digest_size=16).hexdigest() + ".webp"
