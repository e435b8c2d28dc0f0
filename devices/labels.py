"""How device codes read in words: audit actions and their targets."""

from django.utils.translation import gettext_lazy as _

from retail.labels import register_actions, register_group, register_target

register_actions(
    {
        "device.created": _("Device added"),
        "device.pairing_code": _("Pairing code issued"),
        "device.paired": _("Device paired"),
        "device.rotated": _("Device credential rotated"),
        "device.updated": _("Device changed"),
        "device.disabled": _("Device disabled"),
        "device.enabled": _("Device enabled"),
        "device.door_opened": _("Door opened remotely"),
        "device.command": _("Command sent to a device"),
    }
)
register_group(_("Devices"), "device.")
register_target("devices.Device", _("device"))
