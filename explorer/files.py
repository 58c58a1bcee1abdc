"""Files written whole or not at all: a reader (another session, replica or worker) sees the old contents or
the new, never half of them, and a crash or a full disk leaves no partial file behind."""
from __future__ import annotations

import os
import uuid
from pathlib import Path


def atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target``, flush it to disk, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "xb") as file:  # unlike mkstemp's 0600, the user's umask sets the permissions
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
