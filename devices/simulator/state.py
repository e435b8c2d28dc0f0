"""The simulated device's state file: its credential (written at pairing) and the events it keeps
while offline. JSON, written atomically and readable by its owner only (it holds the secret)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from devices.simulator.device import EXIT_USAGE, SimError

# How many replayed events the file remembers (``replay --again`` sends them once more).
SENT_KEEP = 5000


def load(path: str | Path) -> dict:
    path = Path(path)
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise SimError(f"no state file {path}: pair the device first (pair --code ...)", EXIT_USAGE) from None
    except ValueError as exc:
        raise SimError(f"state file {path} is not JSON: {exc}", EXIT_USAGE) from None
    if not isinstance(state, dict) or not state.get("device") or not state.get("url"):
        raise SimError(f"state file {path} holds no paired device: pair it first", EXIT_USAGE)
    state.setdefault("pending", [])
    state.setdefault("sent", [])
    return state


def save(path: str | Path, state: dict) -> None:
    """Replace the file in one step (a crash leaves the old or the new one, never half of one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(state, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def forget_acked(state: dict, batch: list[dict], ack: dict) -> int:
    """Drop from ``pending`` the batch's events the server acknowledged (stored, duplicate, or
    rejected for good), remembering the acknowledged ones in ``sent``; how many were dropped."""
    acked = set(ack.get("stored", [])) | set(ack.get("duplicate", []))
    rejected = {r["id"] for r in ack.get("rejected", [])}
    done = acked | rejected
    batch_ids = {e["id"] for e in batch}
    before = len(state["pending"])
    state["pending"] = [e for e in state["pending"] if not (e["id"] in done and e["id"] in batch_ids)]
    state["sent"] = (state["sent"] + [e for e in batch if e["id"] in acked])[-SENT_KEEP:]
    return before - len(state["pending"])
