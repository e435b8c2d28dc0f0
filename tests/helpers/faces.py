"""Where the real face photos for tests are: ../shared/faces beside the checkout (never copied into
the project). ``FACE_PHOTOS_DIR`` names another place; a clone elsewhere on this machine finds them
in /work/shared/faces."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def faces_dir() -> Path:
    candidates = [
        os.environ.get("FACE_PHOTOS_DIR", ""),
        ROOT.parent / "shared" / "faces",
        "/work/shared/faces",
    ]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return ROOT.parent / "shared" / "faces"


FACES = faces_dir()
