"""A simulated store device speaking the kiosk protocol (docs/kiosk-protocol.md) over a real
websocket: pairing, HMAC hello, heartbeats, events, offline replay, commands.

Run ``python -m devices.simulator --help`` (or ``manage.py device_sim --help``). As a library:
``SimDevice`` (one device) and ``Swarm`` (many in one asyncio process). It imports no Django: a
device knows only the server's URL, its pairing code and then its id and secret."""

from devices.simulator.device import (
    CLOSE_CODES,
    Closed,
    FrameRefused,
    SimDevice,
    SimError,
    Unreachable,
    hello_signature,
    new_event_id,
    pair,
)
from devices.simulator.swarm import Swarm

__all__ = [
    "CLOSE_CODES",
    "Closed",
    "FrameRefused",
    "SimDevice",
    "SimError",
    "Swarm",
    "Unreachable",
    "hello_signature",
    "new_event_id",
    "pair",
]
