"""The chat sockets: the guide's ``/ws/chat/`` and the shopper's ``/ws/s/<brand_slug>/chat/``.

Thin: frames are checked here, every write goes through ``sending`` / ``conversations`` off the
event loop (``database_sync_to_async``), and live messages arrive from the channel layer after
the sender's transaction committed (``realtime``). A bad frame answers an error frame and the
socket stays open; a conversation that is not the guide's answers an error and stores nothing.

Frames in (JSON text, at most ``FRAME_MAX`` bytes):
  {"type": "send", "conversation": id (guide only), "client_id": "...", "kind": "text|product|
   coupon|order", "body": "...", "target": id (cards)}
  {"type": "read", "conversation": id (guide only), "upto": message id}
  {"type": "ping"}
Frames out: hello, sent (the sender's ack), message, read, conversation, error, pong."""

from __future__ import annotations

import asyncio
import json
import logging

from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _

from guides.messaging import conversations, realtime, sending, socket_reads, wire
from guides.messaging.models import Conversation, Message
from members import shopper
from members.models import Member
from retail import selectors as retail_selectors
from retail.middleware import SESSION_BRAND_KEY
from retail.models import Brand, Staff
from retail.socket_db import FrameConsumer, frame_db
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
FRAME_MAX = 8 * 1024  # bytes of one text frame
CLIENT_ID_MAX = 40
# A shopper's socket records "delivered" at most this often (one UPDATE for a burst of messages).
DELIVERED_EVERY_SECONDS = 1.0
# How many of its own acknowledged messages a socket remembers, to drop their echo from its groups
# (a message's echo comes back within milliseconds; a socket sends one frame at a time).
ACKED_REMEMBERED = 32


def db_frame(fn):
    """A frame's database work, off the event loop on the executor's threads (each with its own
    connection), so one process serves many sockets' frames at once. A socket handles its frames
    one after the other, so a sender's messages keep their order."""
    return frame_db(fn)


GUIDE_KINDS = (Message.Kind.TEXT, Message.Kind.PRODUCT, Message.Kind.COUPON, Message.Kind.ORDER)
MEMBER_KINDS = (Message.Kind.TEXT,)


class FrameError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _int(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (0 < value < 2**63):
        raise FrameError("bad_frame", f"'{field}' must be a positive integer.")
    return value


def _send_fields(msg: dict, kinds: tuple) -> dict:
    client_id = msg.get("client_id", "")
    if not isinstance(client_id, str) or len(client_id) > CLIENT_ID_MAX or "\x00" in client_id:
        raise FrameError("bad_frame", "'client_id' is text of at most 40 characters.")
    kind = msg.get("kind", Message.Kind.TEXT)
    if kind not in kinds:
        raise FrameError("bad_kind", "Unknown message kind.")
    body = msg.get("body", "")
    if not isinstance(body, str) or "\x00" in body:
        raise FrameError("bad_frame", "'body' must be text.")
    target = msg.get("target")
    if kind in (Message.Kind.PRODUCT, Message.Kind.COUPON, Message.Kind.ORDER):
        target = _int(target, "target")
    else:
        target = None
    return {"client_id": client_id, "kind": kind, "body": body, "target": target}


def _error_text(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)[:300]


def _error_code(exc: ValidationError) -> str:
    code = getattr(exc, "code", None)
    if not code and hasattr(exc, "error_dict"):
        for errors in exc.error_dict.values():
            code = next((e.code for e in errors if e.code), None)
            if code:
                break
    if not code and hasattr(exc, "error_list"):
        code = next((e.code for e in exc.error_list if getattr(e, "code", None)), None)
    return str(code or "invalid")


class ChatConsumer(FrameConsumer):
    """What both sides share: frame parsing, errors, the channel-layer events."""

    side = ""  # "guide" or "member"
    group = ""
    acked_ids: dict | None = None  # ids of this socket's own acknowledged messages, oldest first

    async def send_json(self, content: dict) -> None:
        await self.send(text_data=json.dumps(content, ensure_ascii=False))

    async def error(self, code: str, message: str, client_id: str | None = None) -> None:
        frame = {"type": "error", "code": code, "message": message}
        if client_id:
            frame["client_id"] = client_id
        await self.send_json(frame)

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None or len(text_data) > FRAME_MAX or len(text_data.encode("utf-8")) > FRAME_MAX:
            await self.error("bad_frame", "Text frames up to 8 KiB.")
            return
        try:
            msg = json.loads(text_data)
        except ValueError:
            await self.error("bad_json", "Frames are JSON objects.")
            return
        if not isinstance(msg, dict):
            await self.error("bad_frame", "Frames are JSON objects.")
            return
        kind = msg.get("type")
        client_id = msg.get("client_id") if isinstance(msg.get("client_id"), str) else None
        try:
            if kind == "ping":
                await self.send_json({"type": "pong"})
            elif kind == "send":
                await self.on_send(msg)
            elif kind == "read":
                await self.on_read(msg)
            else:
                raise FrameError("unknown_type", "Unknown frame type.")
        except FrameError as exc:
            await self.error(exc.code, exc.message, client_id)
        except PermissionDenied as exc:
            await self.error("forbidden", str(exc) or _("Not allowed."), client_id)
        except ValidationError as exc:
            await self.error(_error_code(exc), _error_text(exc), client_id)
        except Exception:
            logger.exception("chat frame failed")
            await self.error("server_error", _("Please try again."), client_id)

    async def on_send(self, msg: dict) -> None:  # pragma: no cover - per side
        raise NotImplementedError

    async def on_read(self, msg: dict) -> None:  # pragma: no cover - per side
        raise NotImplementedError

    async def ack(self, client_id: str, message: dict) -> None:
        await self.send_json({"type": "sent", "client_id": client_id, "message": message})
        # The sender's groups get the message too (her other tabs and devices show it); this
        # socket has it in the ack, so its own copy is dropped when it comes back.
        if self.acked_ids is None:
            self.acked_ids = {}
        acked = self.acked_ids
        acked[message.get("id")] = None
        if len(acked) > ACKED_REMEMBERED:
            del acked[next(iter(acked))]

    def own_echo(self, message: dict) -> bool:
        """Whether ``message`` is one this socket sent and already acknowledged (forgotten once
        seen: a message is published once)."""
        acked = self.acked_ids
        if not acked or message.get("id") not in acked:
            return False
        del acked[message["id"]]
        return True

    # --- channel-layer events (server code → this socket) ---------------------------------------
    async def chat_message(self, event):
        if self.own_echo(event["message"]):
            return
        await self.send_json({"type": "message", "message": event["message"]})

    async def chat_read(self, event):
        await self.send_json(
            {
                "type": "read",
                "conversation": event.get("conversation"),
                "side": event.get("side"),
                "upto": event.get("upto"),
            }
        )

    async def chat_conversation(self, event):
        await self.send_json({"type": "conversation", "conversation": event.get("conversation")})

    async def chat_close(self, event):
        await self.close(code=int(event.get("code") or CLOSE_FORBIDDEN))


class StaffChatConsumer(ChatConsumer):
    """The guide's socket: every conversation of hers (the staff of the session's brand)."""

    side = "guide"

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        staff = await database_sync_to_async(self._membership)(user)
        if staff is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.brand_id, self.staff_id = staff.brand_id, staff.pk
        self.group = realtime.chat_staff_group(staff.brand_id, staff.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "side": "guide", "brand": staff.brand_id, "staff": staff.pk})

    def _membership(self, user):
        brand_id = self.scope["session"].get(SESSION_BRAND_KEY)
        if not isinstance(brand_id, int):
            return None
        with transaction.atomic():
            return retail_selectors.membership_get(user=user, brand_id=brand_id)

    def _actor(self) -> tuple[Brand, Staff]:
        """The brand and the staff member now (a guide who left is refused at once). Called in
        the brand's scope, which the write then runs in too (one transaction per frame)."""
        staff = (
            Staff.objects.for_brand(self.brand_id)
            .select_related("brand")
            .filter(pk=self.staff_id, status=Staff.Status.ACTIVE, brand__status=Brand.Status.ACTIVE)
            .first()
        )
        if staff is None:
            raise PermissionDenied(_("Not allowed."))
        return staff.brand, staff

    def _conversation(self, conversation_id: int) -> Conversation:
        """The conversation with its member and brand, in one query, only if it is hers now: open,
        its member's exclusive guide is this staff member, and she and the brand are active (a
        guide who left or handed the member over is refused at once)."""
        conv = socket_reads.guide_frame(
            brand_id=self.brand_id, staff_id=self.staff_id, conversation_id=conversation_id
        )
        if conv is None:
            raise PermissionDenied(_("This conversation is not yours."))
        return conv

    def _send(self, fields: dict, conversation_id: int) -> dict:
        with brand_scope(self.brand_id):
            conv = self._conversation(conversation_id)
            brand, staff = conv.brand, conv.member.guide
            sent = sending.send_as_guide(
                brand=brand,
                staff=staff,
                conversation=conv,
                conversation_id=conversation_id,
                body=fields["body"],
                kind=fields["kind"],
                client_id=fields["client_id"],
                target_id=fields["target"],
            )
        return wire.message(sent.message, staff_name=staff.name)

    def _read(self, conversation_id: int, upto: int) -> int:
        with brand_scope(self.brand_id):
            brand, staff = self._actor()
            conv = conversations.guide_conversation(brand=brand, staff=staff, pk=conversation_id)
            return conversations.conversation_read(brand=brand, conversation=conv, side="guide", upto=upto)

    async def on_send(self, msg):
        fields = _send_fields(msg, GUIDE_KINDS)
        conversation_id = _int(msg.get("conversation"), "conversation")
        message = await db_frame(self._send)(fields, conversation_id)
        await self.ack(fields["client_id"], message)

    async def on_read(self, msg):
        conversation_id = _int(msg.get("conversation"), "conversation")
        upto = _int(msg.get("upto"), "upto")
        await db_frame(self._read)(conversation_id, upto)


class _SessionRequest:
    """What ``members.shopper`` reads of a request: the session."""

    def __init__(self, session):
        self.session = session


class ShopperChatConsumer(ChatConsumer):
    """The shopper's socket: their own conversation at the brand of the URL, by the session."""

    side = "member"

    async def connect(self):
        slug = self.scope.get("url_route", {}).get("kwargs", {}).get("brand_slug", "")
        found = await database_sync_to_async(self._member)(slug)
        if found is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        brand, member, conv = found
        self.brand_id, self.member_id, self.conversation_id = brand.pk, member.pk, conv.pk
        self.delivered_upto = conv.member_delivered_upto
        self.delivered_pending = 0
        self.delivered_task: asyncio.Task | None = None
        self.group = realtime.chat_member_group(brand.pk, member.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "side": "member", "brand": brand.pk, "conversation": conv.pk})

    def _member(self, slug: str):
        try:
            brand = shopper.brand_for_slug(slug)
        except Http404:
            return None
        with brand_scope(brand):
            member = shopper.current_member(_SessionRequest(self.scope["session"]), brand)
            if member is None:
                return None
            conv = conversations.conversation_for_member(brand=brand, member=member)
        return brand, member, conv

    def _actor(self) -> tuple[Brand, Member, Conversation]:
        """The brand, the member and their conversation now, in one query (erased or merged away,
        or the brand suspended: refused). Called in the brand's scope, which the write then runs
        in too (one transaction per frame)."""
        conv = socket_reads.shopper_frame(
            brand_id=self.brand_id, member_id=self.member_id, conversation_id=self.conversation_id
        )
        if conv is None or conv.brand.status != Brand.Status.ACTIVE:
            raise PermissionDenied(_("Not allowed."))
        if not conv.member.is_active:
            raise PermissionDenied(_("This membership is closed."))
        return conv.brand, conv.member, conv

    def _send(self, fields: dict) -> dict:
        with brand_scope(self.brand_id):
            brand, member, conv = self._actor()
            sent = sending.send_as_member(
                brand=brand,
                member=member,
                conversation=conv,
                body=fields["body"],
                kind=fields["kind"],
                client_id=fields["client_id"],
            )
        return wire.message(sent.message)

    def _read(self, upto: int) -> int:
        with brand_scope(self.brand_id):
            brand, _member, conv = self._actor()
            return conversations.conversation_read(brand=brand, conversation=conv, side="member", upto=upto)

    async def on_send(self, msg):
        fields = _send_fields(msg, MEMBER_KINDS)
        try:
            message = await db_frame(self._send)(fields)
        except PermissionDenied:
            await self.error("forbidden", _("This membership is closed."), fields["client_id"])
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.ack(fields["client_id"], message)

    async def on_read(self, msg):
        upto = _int(msg.get("upto"), "upto")
        mark = await db_frame(self._read)(upto)
        self.delivered_upto = max(self.delivered_upto, mark)

    # --- delivered marks: one UPDATE per burst, not one per message -----------------------------
    async def chat_message(self, event):
        await super().chat_message(event)
        message = event.get("message") or {}
        if (
            message.get("sender") != Message.Sender.MEMBER
            and message.get("conversation") == self.conversation_id
        ):
            pk = message.get("id") or 0
            if pk > max(self.delivered_upto, self.delivered_pending):
                self.delivered_pending = pk
                if self.delivered_task is None:
                    self.delivered_task = asyncio.ensure_future(self._flush_delivered_later())

    async def _flush_delivered_later(self):
        try:
            await asyncio.sleep(DELIVERED_EVERY_SECONDS)
        finally:
            self.delivered_task = None
        await self.flush_delivered()

    async def flush_delivered(self) -> None:
        upto = self.delivered_pending
        if upto <= self.delivered_upto:
            return
        self.delivered_upto = upto
        try:
            await db_frame(_mark_delivered)(self.brand_id, self.conversation_id, upto)
        except Exception:  # the page marks it read when it loads; nothing is lost
            logger.warning("could not mark conversation %s delivered", self.conversation_id, exc_info=True)

    async def disconnect(self, code):
        task = getattr(self, "delivered_task", None)
        if task is not None:
            task.cancel()
            self.delivered_task = None
            await self.flush_delivered()
        await super().disconnect(code)


def _mark_delivered(brand_id: int, conversation_id: int, upto: int) -> None:
    with brand_scope(brand_id):
        conversations.mark_delivered(brand_id=brand_id, conversation_id=conversation_id, upto=upto)
