"""Names that one student types and others see (run names, board nicknames): plain text, short, safe anywhere.

A name reaches other students' screens (the class board, a joined run, a comparison's captions and map
titles), so it keeps only letters, digits, spaces and a few marks that no Markdown, HTML or link syntax can be
built from, and at most a line's length.
"""
from __future__ import annotations

import re
import unicodedata

RUN_NAME_CHARACTERS = 60
NICKNAME_CHARACTERS = 40
_ALLOWED_MARKS = set(" -.,'#+=/")


def plain_name(text: str | None, limit: int = RUN_NAME_CHARACTERS) -> str:
    """``text`` as a plain one-line name of at most ``limit`` characters ('' when nothing usable is left)."""
    text = unicodedata.normalize("NFKC", text or "")
    kept = "".join(c if c.isalnum() or c in _ALLOWED_MARKS else " " for c in text
                   if unicodedata.category(c)[0] != "C")  # control, format (bidi overrides), private use
    return re.sub(r"\s+", " ", kept).strip()[:limit].strip()
