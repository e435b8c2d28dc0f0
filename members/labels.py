"""How members and the membership programme's audit events read in words."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.models import Member, MemberIdentity, MemberJob, MergeRecord
from retail.labels import register_actions, register_group, register_target
from retail.phones import mask_phone


def _rows(ids: Iterable[int]) -> tuple[list[tuple[int, str, str]], dict[int, str]]:
    ids = {int(i) for i in ids if i}
    if not ids:
        return [], {}
    rows = list(Member.objects.filter(pk__in=ids).values_list("pk", "name", "status"))
    phones = dict(
        MemberIdentity.objects.filter(member_id__in=ids, kind=MemberIdentity.Kind.PHONE)
        .order_by("-pk")
        .values_list("member_id", "value")
    )
    return rows, phones


def member_handles(ids: Iterable[int]) -> dict[int, str]:
    """Each member's name, or masked phone when they gave no name; "" for an erased member or
    one with neither. The same in every language, so it can be kept with a message."""
    rows, phones = _rows(ids)
    return {
        pk: "" if status == Member.Status.ERASED else (name or mask_phone(phones.get(pk, "")))
        for pk, name, status in rows
    }


def member_names(ids: Iterable[int]) -> dict[int, str]:
    """Each member's name, or masked phone when they gave no name, in the active language."""
    rows, phones = _rows(ids)
    out = {}
    for pk, name, status in rows:
        if status == Member.Status.ERASED:
            out[pk] = _("Erased member")
        else:
            out[pk] = name or mask_phone(phones.get(pk, "")) or _("Member without a name")
    return out


def member_name(member: Member | None) -> str:
    """One member in words (looks up the phone only for a member who gave no name)."""
    if member is None:
        return _("a shopper")
    if member.name and member.status != Member.Status.ERASED:
        return member.name
    return member_names([member.pk]).get(member.pk) or _("Member without a name")


def member_labels(members: Iterable[Member]) -> dict[int, str]:
    """``member_name`` of many members, by id, with one lookup for all who gave no name."""
    members = list(members)
    nameless = [m.pk for m in members if not m.name or m.status == Member.Status.ERASED]
    found = member_names(nameless) if nameless else {}
    return {
        m.pk: m.name
        if m.name and m.status != Member.Status.ERASED
        else found.get(m.pk) or _("Member without a name")
        for m in members
    }


def _describe_members(ids: list[str]) -> dict[str, str]:
    found = member_names(int(i) for i in ids if i.isdigit())
    return {str(pk): name for pk, name in found.items()}


def job_label(job: MemberJob) -> str:
    from django.utils import timezone

    when = timezone.localtime(job.created_at).strftime("%Y-%m-%d %H:%M")
    if job.kind == MemberJob.Kind.IMPORT:
        return _("Member import of %(when)s") % {"when": when}
    return _("Member export of %(when)s") % {"when": when}


def _describe_jobs(ids: list[str]) -> dict[str, str]:
    jobs = MemberJob.objects.filter(pk__in=[int(i) for i in ids if i.isdigit()])
    return {str(j.pk): job_label(j) for j in jobs}


register_actions(
    {
        "member.joined": gettext_lazy("Member joined"),
        "member.guide_bound": gettext_lazy("Exclusive guide set"),
        "member.updated": gettext_lazy("Member changed"),
        "member.identity_added": gettext_lazy("Member identity added"),
        "member.merged": gettext_lazy("Members merged"),
        "member.merge_undone": gettext_lazy("Merge undone"),
        "member.tags_changed": gettext_lazy("Member tags changed"),
        "tag.created": gettext_lazy("Tag created"),
        "member.handover": gettext_lazy("Members handed over"),
        "member.erased": gettext_lazy("Member data erased"),
        "membership.program_updated": gettext_lazy("Membership rules changed"),
        "membership.tier_saved": gettext_lazy("Tier saved"),
        "member.import_started": gettext_lazy("Member import started"),
        "member.export_started": gettext_lazy("Member export started"),
        "member_policy.published": gettext_lazy("Member policy published"),
    }
)
register_group(gettext_lazy("Members"), "member.", "tag.")
register_group(gettext_lazy("Membership rules"), "membership.", "member_policy.")
register_target("members.Member", gettext_lazy("member"), _describe_members)
register_target("members.MemberJob", gettext_lazy("member import or export"), _describe_jobs)
register_target("members.Tag", gettext_lazy("member tag"))
register_target("members.Tier", gettext_lazy("membership tier"))


# Points ledger sources ("order:60", "merge:7:...:in:0") described in words. Apps above members
# register their own prefixes: register_points_source("order", fn(keys) -> {key: words}).
PointsDescribe = Callable[[list[str]], dict[str, str]]
_POINTS_SOURCES: dict[str, PointsDescribe] = {}


def register_points_source(prefix: str, describe: PointsDescribe) -> None:
    _POINTS_SOURCES[prefix] = describe


def describe_points(entries: Iterable) -> list:
    """Set ``source_label`` on each points entry: where the points came from, in words; empty
    when the kind and note already say it all (a manual adjustment, an expiry)."""
    entries = list(entries)
    by_prefix: dict[str, set[str]] = {}
    for e in entries:
        by_prefix.setdefault(e.source.split(":", 1)[0], set()).add(e.source)
    found: dict[str, str] = {}
    for prefix, keys in by_prefix.items():
        describe = _POINTS_SOURCES.get(prefix)
        if describe is not None:
            found.update(describe(sorted(keys)))
    for e in entries:
        e.source_label = found.get(e.source, "")
        # the note may say the same ("F2612…" on an order's points): then it is not repeated
        e.note_repeated = bool(e.source_label and e.note and e.note in e.source_label)
    return entries


def _merge_sources(keys: list[str]) -> dict[str, str]:
    """merge:<absorbed member>:<stamp>:in:<n> on the kept member, ...:out on the merged one."""
    parsed = {}
    for key in keys:
        parts = key.split(":")
        if len(parts) >= 2 and parts[1].isdigit():
            parsed[key] = (int(parts[1]), "out" if parts[-1] == "out" else "in")
    absorbed = {
        pk: into
        for pk, into in Member.objects.filter(pk__in={a for a, _d in parsed.values()}).values_list(
            "pk", "merged_into_id"
        )
    }
    names = member_names(set(absorbed) | {i for i in absorbed.values() if i})
    out = {}
    for key, (member_id, direction) in parsed.items():
        if direction == "in" and member_id in names:
            out[key] = _("From %(member)s") % {"member": names[member_id]}
        elif direction == "out" and absorbed.get(member_id) in names:
            out[key] = _("Moved to %(member)s") % {"member": names[absorbed[member_id]]}
    return out


def _undo_sources(keys: list[str]) -> dict[str, str]:
    """undo:<merge record>:out on the kept member, ...:in:<n> on the member split off again."""
    parsed = {}
    for key in keys:
        parts = key.split(":")
        if len(parts) >= 2 and parts[1].isdigit():
            parsed[key] = (int(parts[1]), "out" if parts[-1] == "out" else "in")
    records = {r.pk: r for r in MergeRecord.objects.filter(pk__in={m for m, _d in parsed.values()})}
    names = member_names(
        {r.survivor_id for r in records.values()} | {r.absorbed_id for r in records.values()}
    )
    out = {}
    for key, (record_id, direction) in parsed.items():
        r = records.get(record_id)
        if r is None:
            continue
        if direction == "out":
            out[key] = _("Returned to %(member)s") % {"member": names.get(r.absorbed_id, "")}
        else:
            out[key] = _("From %(member)s") % {"member": names.get(r.survivor_id, "")}
    return out


register_points_source("merge", _merge_sources)
register_points_source("undo", _undo_sources)
