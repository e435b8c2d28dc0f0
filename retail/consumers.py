"""Staff websocket: live notifications and badges for the signed-in staff member."""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from retail import selectors
from retail.middleware import SESSION_BRAND_KEY

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def staff_group(brand_id: int, staff_id: int) -> str:
    return f"brand.{brand_id}.staff.{staff_id}"


class StaffConsumer(AsyncWebsocketConsumer):
    """Authenticates from the page's session; joins the staff member's own group.

    Frames in: {"type": "ping"}. Frames out: {"type": "hello"|"pong"|"notify"|"error", ...}.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        brand_id = self.scope["session"].get(SESSION_BRAND_KEY)
        staff = await database_sync_to_async(self._membership)(user, brand_id)
        if staff is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.brand_id, self.staff_id = staff.brand_id, staff.pk
        self.group = staff_group(staff.brand_id, staff.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json(
            {"type": "hello", "brand": staff.brand_id, "staff": staff.pk, "name": staff.name}
        )

    @staticmethod
    def _membership(user, brand_id):
        if not brand_id:
            return None
        from django.db import transaction

        with transaction.atomic():
            return selectors.membership_get(user=user, brand_id=brand_id)

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None or len(text_data) > 4096:
            await self.send_json(
                {"type": "error", "code": "bad_frame", "message": "Text frames up to 4 KiB."}
            )
            return
        try:
            msg = json.loads(text_data)
        except ValueError:
            await self.send_json({"type": "error", "code": "bad_json", "message": "Frames are JSON objects."})
            return
        if not isinstance(msg, dict) or msg.get("type") != "ping":
            await self.send_json({"type": "error", "code": "unknown_type", "message": "Unknown frame type."})
            return
        await self.send_json({"type": "pong"})

    async def notify(self, event):
        """Group message {"type": "notify", "payload": {...}} from server code."""
        await self.send_json({"type": "notify", "payload": event.get("payload", {})})

    async def send_json(self, content):
        await self.send(text_data=json.dumps(content, ensure_ascii=False))
