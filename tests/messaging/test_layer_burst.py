"""A burst of deliveries to one busy process is not dropped by the channel layer.

channels-redis keeps all of a process's sockets' messages in one Redis list, and its capacity
bounds that list (default 100): a process that falls a moment behind would lose the rest of a
burst. The configured layer holds a burst of many times that."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.layers import channel_layers
from django.conf import settings

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (set REDIS_URL)")

BURST = 600  # deliveries queued for one process before it reads any


def test_a_burst_to_one_process_arrives_whole():
    async def burst() -> list[int]:
        layer = channel_layers.make_backend("default")  # as configured; this test's own instance
        layer.prefix = f"{layer.prefix}:test:{uuid.uuid4().hex[:8]}"  # nothing shared with others
        sockets = [await layer.new_channel() for _ in range(200)]  # one process's sockets
        for i, name in enumerate(sockets):  # each in its own conversation's group
            await layer.group_add(f"chat.burst.{i}", name)
        for n in range(BURST // len(sockets)):
            for i in range(len(sockets)):
                await layer.group_send(f"chat.burst.{i}", {"type": "chat.message", "n": n})
        got = []
        for name in sockets:
            for _ in range(BURST // len(sockets)):
                got.append((await asyncio.wait_for(layer.receive(name), 5))["n"])
        await layer.flush()
        return got

    got = asyncio.run(burst())
    assert len(got) == BURST
