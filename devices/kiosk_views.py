"""The web kiosk page (/kiosk/): any tablet opens it, pairs with a code from the console and then
speaks the device protocol over the websocket (static/js/kiosk.js).

The page itself holds nothing secret: the device id and secret live in the tablet's
localStorage, so the page needs no login and runs in no brand's scope. Its words are rendered
here in both kiosk languages, because the language is the device's setting, known only after
the websocket's welcome."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from devices import protocol
from retail.middleware import brandless

KIOSK_LANGUAGES = ("zh-hans", "en")

# Every word kiosk.js shows, by key.
TEXTS = {
    "title": _("Clock-in kiosk"),
    "pair_title": _("Pair this device"),
    "pair_hint": _("Enter the 8-character pairing code shown in the console, or scan its QR code."),
    "pair_code": _("Pairing code"),
    "pair_button": _("Pair"),
    "pairing": _("Pairing…"),
    "pair_invalid": _("This pairing code is wrong, used or expired. Ask for a new one in the console."),
    "pair_failed": _("Pairing failed. Check the network and try again."),
    "repair_title": _("This device must be paired again"),
    "repair_hint": _(
        "It was disabled or its credential was changed in the console. Ask a manager for a new pairing code."
    ),
    "replaced_title": _("This device is connected elsewhere"),
    "replaced_hint": _("The same device opened the kiosk in another browser or tab, so this one stopped."),
    "reconnect": _("Connect here again"),
    "online": pgettext_lazy("device status", "Online"),
    "offline": pgettext_lazy("device status", "Offline"),
    "connecting": pgettext_lazy("device status", "Connecting…"),
    "look": _("Please look at the camera to clock in"),
    "face_button": _("Clock in by face"),
    "pin_button": _("Clock in by PIN"),
    "employee_no": _("Employee no."),
    "pin": _("PIN"),
    "pin_submit": _("Clock in"),
    "cancel": _("Cancel"),
    "clear": _("Clear"),
    "delete": pgettext_lazy("keypad", "Delete"),
    "pin_invalid": _("Enter your employee no. and a PIN of 4 to 8 digits."),
    "punch_ok": _("Punch received"),
    "punch_queued": _("Saved on this device; it is sent when the network is back."),
    "face_sent": _("Photo taken, being recognised"),
    "face_offline": _("Clocking in by face needs the network. Please use your PIN."),
    "camera_off": _("The camera is not available. Please use your PIN."),
    "refused": _("Not accepted. Please try again."),
    "door_opened": _("Door open"),
    "pending": _("Waiting to send: %(n)s"),
}


def catalogue(language: str) -> dict[str, str]:
    with translation.override(language):
        return {key: str(text) for key, text in TEXTS.items()}


@brandless
@require_safe
@never_cache
def kiosk(request):
    """The kiosk page. Not cached anywhere (a pairing code may be in its address), and no
    Referer leaves it."""
    language = translation.get_language()
    language = language if language in KIOSK_LANGUAGES else KIOSK_LANGUAGES[0]
    response = render(
        request,
        "devices/kiosk.html",
        {
            "kiosk_texts": {lang: catalogue(lang) for lang in KIOSK_LANGUAGES},
            "kiosk_settings": {
                "language": language,
                "pair_url": reverse("device-pair"),
                "ticket_url": reverse("device-ticket"),
                "websocket": "/ws/device/",
                "protocol": protocol.VERSION,
                "max_batch": protocol.MAX_BATCH_EVENTS,
            },
            "texts": catalogue(language),
        },
    )
    response["Referrer-Policy"] = "no-referrer"
    response["Permissions-Policy"] = "camera=(self), microphone=()"
    return response
