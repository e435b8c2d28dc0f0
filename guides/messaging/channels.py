"""Outbound channels for notices to a shopper who is not on the chat page.

* ``sms``: the project's SMS sender (``retail.notify.get_sender()``, ``NOTIFY_BACKEND``) to the
  member's phone identity;
* ``wechat``: a WeChat template message to the member's WeChat open id, through the class named
  by ``MESSAGING_WECHAT_BACKEND``; a real deployment points it at a class with the same ``send``
  that calls the WeChat API. The embedded default records the sends (like ``ConsoleSender``).

``channel_for(kind)`` gives the adapter: ``address(brand, member)`` finds where to send (None: the
member has no such identity) and ``send(brand, member, address, text, link)`` sends."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.module_loading import import_string

from members.models import Member, MemberIdentity
from retail.models import Brand
from retail.notify import get_sender
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)


class SimulatedWeChatTemplate:
    """The embedded WeChat template sender: logs the message and keeps the last ones in memory."""

    outbox: list[dict] = []

    def send(self, *, brand_id: int, openid: str, template: str, data: dict, url: str) -> None:
        logger.info("wechat template %s to %s: %s", template, openid, data)
        SimulatedWeChatTemplate.outbox.append(
            {"brand": brand_id, "openid": openid, "template": template, "data": data, "url": url}
        )
        del SimulatedWeChatTemplate.outbox[:-1000]


def _identity(brand: Brand, member: Member, kind: str) -> str | None:
    with brand_scope(brand):
        return (
            MemberIdentity.objects.for_brand(brand)
            .filter(member=member, kind=kind)
            .order_by("-verified", "-created_at")
            .values_list("value", flat=True)
            .first()
        )


class SmsChannel:
    kind = "sms"

    def address(self, brand: Brand, member: Member) -> str | None:
        return _identity(brand, member, MemberIdentity.Kind.PHONE)

    def send(self, *, brand: Brand, member: Member, address: str, text: str, link: str) -> None:
        get_sender().send(phone=address, text=f"{text} {link}")


class WeChatTemplateChannel:
    kind = "wechat"
    template = "chat_new_message"

    def address(self, brand: Brand, member: Member) -> str | None:
        return _identity(brand, member, MemberIdentity.Kind.WECHAT)

    def send(self, *, brand: Brand, member: Member, address: str, text: str, link: str) -> None:
        sender = import_string(settings.MESSAGING_WECHAT_BACKEND)()
        sender.send(brand_id=brand.pk, openid=address, template=self.template, data={"text": text}, url=link)


CHANNELS = {"sms": SmsChannel, "wechat": WeChatTemplateChannel}


def channel_for(kind: str):
    """The adapter of ``MessagingSettings.outbound_channel`` (None for "off" or unknown)."""
    cls = CHANNELS.get(kind)
    return cls() if cls else None
