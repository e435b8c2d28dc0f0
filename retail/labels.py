"""Words for the codes the system records: audit actions and the things they were done to.

The kernel does not know the apps above it, so each app registers its own labels (from its
``labels`` module, imported by its AppConfig.ready()). A code nobody registered is still shown
as a generic phrase, never as the code itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.apps import apps
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# A batch look-up: target ids (as stored on the audit entry) -> how to name each one now.
Describe = Callable[[list[str]], dict[str, str]]


@dataclass(frozen=True)
class TargetKind:
    noun: Promise
    describe: Describe | None = None


_ACTIONS: dict[str, Promise] = {}
_GROUPS: dict[str, tuple[Promise, tuple[str, ...]]] = {}
_TARGETS: dict[str, TargetKind] = {}

# What a model's default __str__ or an id-only reference looks like.
_CODE_LIKE = re.compile(r"^(?:\w+ object \(\d+\)|#\d+)$")


def register_actions(labels: dict[str, Promise]) -> None:
    """Register the human label of each audit action code (``"store.created": _("Store created")``)."""
    _ACTIONS.update(labels)


def register_group(label: Promise, *prefixes: str) -> None:
    """A family of actions (``"product.", "sku."``) offered as one filter of the audit log; the
    filter's value is its first prefix."""
    _GROUPS[prefixes[0]] = (label, prefixes)


def register_target(model_label: str, noun: Promise, describe: Describe | None = None) -> None:
    """How to name an audit target of this model (``"members.Member"``): a noun, and optionally a
    batch look-up that names each row in words (the look-up runs in the viewer's brand scope)."""
    _TARGETS[model_label] = TargetKind(noun=noun, describe=describe)


def known_actions() -> dict[str, Promise]:
    return dict(_ACTIONS)


def action_groups() -> dict[str, Promise]:
    """Filter value -> label, in the order the apps registered them."""
    return {key: label for key, (label, _p) in _GROUPS.items()}


def group_prefixes(key: str) -> tuple[str, ...]:
    """The action prefixes a filter value stands for (an unregistered value stands for itself)."""
    return _GROUPS[key][1] if key in _GROUPS else ((key,) if key else ())


def action_label(code: str) -> str:
    """The action in words; a code nobody registered reads as a generic phrase."""
    label = _ACTIONS.get(code)
    if label is not None:
        return str(label)
    group = next((g for g, prefixes in _GROUPS.values() if code.startswith(prefixes)), None)
    if group is not None:
        return str(_("%(area)s: other change") % {"area": group})
    return str(_("Other change"))


def _noun(model_label: str) -> str:
    kind = _TARGETS.get(model_label)
    if kind is not None:
        return str(kind.noun)
    try:
        return str(apps.get_model(model_label)._meta.verbose_name)
    except (LookupError, ValueError):
        return str(_("Record"))


def describe_targets(entries: Iterable) -> list:
    """Set ``target_label`` on each audit entry: the target in words, in the active language.

    Registered look-ups run once per target kind for the whole page; otherwise the name stored
    with the entry is used, unless it is only a model's default name or an id."""
    entries = list(entries)
    ids: dict[str, set[str]] = {}
    for e in entries:
        kind = _TARGETS.get(e.target_type)
        if kind is not None and kind.describe is not None and e.target_id:
            ids.setdefault(e.target_type, set()).add(e.target_id)
    found = {t: _TARGETS[t].describe(sorted(v)) for t, v in ids.items()}
    for e in entries:
        label = found.get(e.target_type, {}).get(e.target_id)
        if label is None:
            repr_ = (e.target_repr or "").strip()
            if repr_ and not _CODE_LIKE.match(repr_):
                label = repr_
            elif e.target_type:
                label = _noun(e.target_type)
            else:
                label = ""
        e.target_label = label
    return entries


# The kernel's own actions and targets.
register_actions(
    {
        "store.created": _("Store created"),
        "store.updated": _("Store changed"),
        "staff.invited": _("Staff invited"),
        "staff.updated": _("Staff changed"),
        "staff.deactivated": _("Marked as left"),
        "staff.reactivated": _("Reinstated"),
        "invitation.accepted": _("Invitation accepted"),
        "user.password_changed": _("Password changed"),
        "brand.status_changed": _("Brand status changed"),
        "platform.rls_bypass": _("Platform operator access"),
        "file.downloaded": _("File with personal data downloaded"),
    }
)
register_group(_("Stores"), "store.")
register_group(pgettext_lazy("people of the brand", "Staff"), "staff.")
register_group(_("Invitations"), "invitation.")
register_group(_("Passwords"), "user.")
register_target("retail.Store", _("store"))
register_target("retail.Staff", _("staff member"))
register_target("retail.User", _("user"))
register_target("retail.Brand", _("brand"))
