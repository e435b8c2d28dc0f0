"""CSV import and export of members, run as Celery jobs with live progress.

Import is all-or-nothing for the rows it accepts: every row is parsed and checked first (bad
rows go to a per-row error report), then the good rows are written set-based in one
transaction, deduplicated against existing members by any identity. If anything fails, nothing
is written and the job says why. Progress is mirrored in the cache so a page can show it while
the transaction is still open.

The files (the upload, the export, the error report) hold personal data: they go to the private
storage under random names and expire (retail/private_files.py).

A worker holds a lease on the job it runs and renews it as it goes (``_heartbeat``). If the
worker dies, ``jobs_sweep`` (every minute) finds the lease run out and queues the job again, up
to ``JOB_MAX_ATTEMPTS`` runs, then fails it with a reason. A re-run is safe: an import writes in
one transaction with the job's DONE, so a dead worker wrote nothing, and rows are deduplicated
against existing members anyway.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime
import io
import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from members import events, selectors
from members.identities import mask_identity, normalize_identity
from members.models import (
    ConsentRecord,
    GuideBinding,
    Member,
    MemberIdentity,
    MemberJob,
    MemberTag,
    Tag,
    Tier,
)
from retail import csv_export, outbox, private_files, roles
from retail.events import Actor
from retail.models import Brand, Staff
from retail.phones import normalize_phone
from retail.tenancy import brand_scope
from retail.text import clean_text

MAX_IMPORT_BYTES = 50 * 1024 * 1024
MAX_IMPORT_ROWS = 500_000
CHUNK = 5000

IDENTITY_COLUMNS = {
    "phone": MemberIdentity.Kind.PHONE,
    "card_no": MemberIdentity.Kind.CARD,
    "shop_account": MemberIdentity.Kind.SHOP,
    "payment_account": MemberIdentity.Kind.PAYMENT,
    "wechat_openid": MemberIdentity.Kind.WECHAT,
    "alipay_openid": MemberIdentity.Kind.ALIPAY,
}
IMPORT_COLUMNS = [*IDENTITY_COLUMNS, "name", "tags", "consent", "guide", "joined_at"]
EXPORT_COLUMNS = [
    "member_id",
    "name",
    "phone",
    "card_no",
    "tier",
    "points",
    "spend_yuan",
    "guide",
    "tags",
    "consent",
    "joined_at",
    "last_purchase_at",
]
# How long a worker's claim on a job lasts without a heartbeat. Heartbeats come every CHUNK rows
# (well under a second apart); inside the job's one long transaction the job row stays locked,
# and the sweeper skips locked rows, so the lease only has to cover the gaps between.
JOB_LEASE = datetime.timedelta(minutes=2)
JOB_MAX_ATTEMPTS = 3
WORKER_LOST = "worker_lost"
ACTIVE = (MemberJob.Status.PENDING, MemberJob.Status.RUNNING, MemberJob.Status.RETRYING)

logger = logging.getLogger(__name__)

TRUE = {"1", "y", "yes", "true", "是", "同意"}
FALSE = {"", "0", "n", "no", "false", "否", "不同意"}


def progress_key(job_id: int) -> str:
    return f"member-job:{job_id}"


def progress_get(job: MemberJob) -> dict:
    """Live progress if the job is running, else the stored figures."""
    live = cache.get(progress_key(job.pk)) if job.status == MemberJob.Status.RUNNING else None
    return live or {"processed": job.processed, "total": job.total, "phase": job.status}


def _progress(job: MemberJob, processed: int, total: int, phase: str) -> None:
    cache.set(progress_key(job.pk), {"processed": processed, "total": total, "phase": phase}, 3600)
    _heartbeat(job)


def _heartbeat(job: MemberJob) -> None:
    """Renew the worker's lease. Outside the job's transaction this commits at once; inside it
    the job row stays locked until the commit, which the sweeper reads as "alive"."""
    with brand_scope(job.brand_id):
        MemberJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() + JOB_LEASE)


def _require_manager(brand: Brand, staff: Staff) -> None:
    if staff.brand_id != brand.pk or staff.status != Staff.Status.ACTIVE or not roles.can_manage_staff(staff):
        raise PermissionDenied(_("You are not allowed to do this."))


def import_start(*, brand: Brand, manager: Staff, actor: Actor, upload) -> MemberJob:
    """Accept an uploaded CSV and queue its import (brand admins only)."""
    if not roles.can_manage_stores(manager) or manager.brand_id != brand.pk:
        raise PermissionDenied(_("You are not allowed to do this."))
    if upload is None:
        raise ValidationError({"file": _("Choose a CSV file.")})
    if upload.size > MAX_IMPORT_BYTES:
        raise ValidationError({"file": _("The file is larger than 50 MB.")})
    head = upload.read(4096)
    upload.seek(0)
    try:
        # Incremental: a character cut in two at the end of the first 4 KB is not an error.
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
        first_line = text.splitlines()[0] if text else ""
    except UnicodeDecodeError as exc:
        raise ValidationError({"file": _("The file must be a UTF-8 CSV.")}) from exc
    columns = {c.strip() for c in next(csv.reader([first_line]), [])}
    if not columns & set(IDENTITY_COLUMNS):
        raise ValidationError(
            {
                "file": _("The first line must name the columns, with at least one of: %(cols)s.")
                % {"cols": ", ".join(IDENTITY_COLUMNS)}
            }
        )
    with brand_scope(brand):
        now = timezone.now()
        job = MemberJob(
            brand=brand,
            kind=MemberJob.Kind.IMPORT,
            created_by=actor.user or manager.user,
            files_expire_at=private_files.expiry(now),
            lease_expires_at=now + JOB_LEASE,
        )
        job.file.save("upload.csv", upload, save=False)  # a random name in the private storage
        job.save()
        events.job_started(brand=brand, actor=actor, job=job)
        _queue(brand, job)
    return job


def export_start(*, brand: Brand, viewer: Staff, actor: Actor, filters: selectors.MemberFilters) -> MemberJob:
    """Queue a CSV export of the filtered list; what it contains follows the viewer's role."""
    _require_manager(brand, viewer)
    with brand_scope(brand):
        now = timezone.now()
        job = MemberJob.objects.create(
            brand=brand,
            kind=MemberJob.Kind.EXPORT,
            created_by=actor.user or viewer.user,
            params={"viewer": viewer.pk, "filters": _filters_to_json(filters)},
            files_expire_at=private_files.expiry(now),
            lease_expires_at=now + JOB_LEASE,
        )
        events.job_started(brand=brand, actor=actor, job=job)
        _queue(brand, job)
    return job


def _queue(brand: Brand, job: MemberJob) -> None:
    """Run the job after commit, through its task named (tasks import jobs, not the reverse)."""
    outbox.enqueue_on_commit("members.tasks.run_member_job", brand.pk, job.pk)


def _filters_to_json(f: selectors.MemberFilters) -> dict:
    out = {}
    for k, v in f.__dict__.items():
        out[k] = v.isoformat() if isinstance(v, datetime.date) else v
    return out


def _filters_from_json(data: dict) -> selectors.MemberFilters:
    f = selectors.MemberFilters()
    for k, v in data.items():
        if k in {"joined_from", "joined_to", "purchased_from", "purchased_to"} and v:
            v = datetime.date.fromisoformat(v)
        setattr(f, k, v)
    return f


def job_run(*, brand: Brand, job_id: int) -> MemberJob:
    """Run a queued job (from the Celery task). Idempotent: a finished job, or one that a live
    worker holds, is left alone; a job already tried JOB_MAX_ATTEMPTS times is failed."""
    with brand_scope(brand):
        job = MemberJob.objects.select_for_update().get(pk=job_id)
        now = timezone.now()
        if job.status in (MemberJob.Status.DONE, MemberJob.Status.FAILED):
            return job
        if job.status == MemberJob.Status.RUNNING and job.lease_expires_at and job.lease_expires_at > now:
            return job  # a second delivery of the message: the worker holding the lease carries on
        if job.attempts >= JOB_MAX_ATTEMPTS:
            _give_up(job, now)
            return job
        job.status = MemberJob.Status.RUNNING
        job.attempts += 1
        job.lease_expires_at = now + JOB_LEASE
        job.save(update_fields=["status", "attempts", "lease_expires_at"])
    try:
        if job.kind == MemberJob.Kind.IMPORT:
            _run_import(brand, job)
        else:
            _run_export(brand, job)
    except Exception as exc:  # the job's own transaction rolled back: record why, write nothing else
        with brand_scope(brand):
            MemberJob.objects.filter(pk=job.pk).update(
                status=MemberJob.Status.FAILED,
                message=str(exc)[:255],
                finished_at=timezone.now(),
                lease_expires_at=None,
            )
        cache.delete(progress_key(job.pk))
        raise
    cache.delete(progress_key(job.pk))
    with brand_scope(brand):
        return MemberJob.objects.get(pk=job.pk)


# --- import -----------------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    identities: list[tuple[str, str]]
    name: str = ""
    tags: list[str] = field(default_factory=list)
    consent: bool = False
    guide: str = ""
    joined_at: datetime.datetime | None = None


def _parse(job: MemberJob) -> tuple[list[_Row], list[tuple[int, str, dict]]]:
    rows: list[_Row] = []
    errors: list[tuple[int, str, dict]] = []
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    with job.file.open("rb") as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text)
        reader.fieldnames = [c.strip() for c in (reader.fieldnames or [])]
        for line, raw in enumerate(reader, start=2):
            if line - 1 > MAX_IMPORT_ROWS:
                raise ValidationError(_("The file has more than %(n)s rows.") % {"n": MAX_IMPORT_ROWS})
            if None in raw:  # more cells than columns
                errors.append((line, _("More cells than columns."), raw))
                continue
            raw = {k: clean_text(v or "", multiline=False).strip() for k, v in raw.items() if k}
            try:
                rows.append(_parse_row(line, raw, tz))
            except ValidationError as exc:
                errors.append((line, "; ".join(_messages(exc)), raw))
            if line % CHUNK == 0:
                _progress(job, line, 0, "reading")
    return rows, errors


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{k}: {m}" for k, errs in exc.message_dict.items() for m in errs]
    return exc.messages


def _parse_row(line: int, raw: dict, tz) -> _Row:
    identities = []
    for column, kind in IDENTITY_COLUMNS.items():
        if raw.get(column):
            try:
                identities.append((kind, normalize_identity(kind, raw[column])))
            except ValidationError as exc:
                raise ValidationError(
                    {
                        column: exc.messages
                        if not hasattr(exc, "error_dict")
                        else [m for errs in exc.message_dict.values() for m in errs]
                    }
                ) from exc
    if not identities:
        raise ValidationError(_("No identity (phone, card_no, ...) in this row."))
    consent = raw.get("consent", "").lower()
    if consent not in TRUE | FALSE:
        raise ValidationError({"consent": _("Use yes or no.")})
    joined_at = None
    if raw.get("joined_at"):
        try:
            d = datetime.date.fromisoformat(raw["joined_at"])
        except ValueError as exc:
            raise ValidationError({"joined_at": _("Use YYYY-MM-DD.")}) from exc
        joined_at = datetime.datetime(d.year, d.month, d.day, tzinfo=tz)
    name = raw.get("name", "")
    if len(name) > 64:
        raise ValidationError({"name": _("At most 64 characters.")})
    tags = [t.strip() for t in raw.get("tags", "").replace("；", ";").split(";") if t.strip()]
    if any(len(t) > 32 for t in tags):
        raise ValidationError({"tags": _("A tag has more than 32 characters.")})
    return _Row(
        line=line,
        identities=identities,
        name=name,
        tags=tags,
        consent=consent in TRUE,
        guide=raw.get("guide", ""),
        joined_at=joined_at,
    )


def _existing_owners(brand: Brand, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in pairs:
        by_kind[kind].append(value)
    owners: dict[tuple[str, str], int] = {}
    for kind, values in by_kind.items():
        for i in range(0, len(values), CHUNK):
            chunk = values[i : i + CHUNK]
            for value, member_id in (
                MemberIdentity.objects.for_brand(brand)
                .filter(kind=kind, value__in=chunk)
                .values_list("value", "member_id")
            ):
                owners[(kind, value)] = member_id
    return owners


def _guides(brand: Brand, refs: set[str]) -> dict[str, Staff]:
    out: dict[str, Staff] = {}
    if not refs:
        return out
    phones = set()
    for r in refs:
        with contextlib.suppress(ValidationError):
            phones.add(normalize_phone(r))
    staff = (
        Staff.objects.for_brand(brand)
        .filter(Q(employee_no__in=refs) | Q(user__phone__in=phones), status=Staff.Status.ACTIVE)
        .exclude(role=Staff.Role.BRAND_ADMIN)
        .select_related("user")
    )
    for s in staff:
        if s.employee_no:
            out[s.employee_no] = s
        if s.user.phone:
            out[s.user.phone] = s
    return out


def _run_import(brand: Brand, job: MemberJob) -> None:
    rows, errors = _parse(job)
    total = len(rows) + len(errors)
    _progress(job, 0, total, "checking")
    with brand_scope(brand):
        _heartbeat(job)  # locks the job row until this transaction ends: the worker is alive
        owners = _existing_owners(brand, {p for r in rows for p in r.identities})
        guides = _guides(brand, {r.guide for r in rows if r.guide})
        new_rows: list[_Row] = []
        matched: dict[int, _Row] = {}
        seen: dict[tuple[str, str], object] = {}  # identity -> existing member id or a new _Row
        for row in rows:
            if row.guide and row.guide not in guides and _normal_phone(row.guide) not in guides:
                errors.append((row.line, _("guide: no active guide with this employee no. or phone."), {}))
                continue
            targets = {owners[p] for p in row.identities if p in owners}
            earlier = {id(seen[p]): seen[p] for p in row.identities if p in seen}
            if len(targets) > 1 or (targets and any(isinstance(e, _Row) for e in earlier.values())):
                errors.append((row.line, _("These identities belong to different members."), {}))
                continue
            if targets:
                member_id = targets.pop()
                matched.setdefault(member_id, row)
                for p in row.identities:
                    seen[p] = member_id
                continue
            if earlier:  # a duplicate of an earlier new row in this file
                first = next(iter(earlier.values()))
                if len(earlier) > 1 or not isinstance(first, _Row):
                    errors.append((row.line, _("These identities belong to different members."), {}))
                    continue
                for p in row.identities:
                    if p not in seen:
                        first.identities.append(p)
                        seen[p] = first
                first.tags = sorted(set(first.tags) | set(row.tags))
                job.matched_count += 1
                continue
            for p in row.identities:
                seen[p] = row
            new_rows.append(row)
        _progress(job, len(rows) // 2, total, "writing")
        _write_import(brand, job, new_rows, matched, guides)
        job.total, job.processed = total, total
        job.created_count = len(new_rows)
        job.matched_count += len(matched)
        job.error_count = len(errors)
        if errors:
            job.result_file.save("errors.csv", ContentFile(_error_report(errors)), save=False)
            job.files_expire_at = private_files.expiry()
        job.status, job.finished_at = MemberJob.Status.DONE, timezone.now()
        job.lease_expires_at = None
        job.message = _("%(created)s new, %(matched)s already members, %(errors)s rows with errors.") % {
            "created": job.created_count,
            "matched": job.matched_count,
            "errors": job.error_count,
        }
        job.save()


def _normal_phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except ValidationError:
        return value


def _write_import(
    brand: Brand, job: MemberJob, new_rows: list[_Row], matched: dict[int, _Row], guides
) -> None:
    now = timezone.now()
    base_tier = Tier.objects.for_brand(brand).filter(min_spend_fen__lte=0).order_by("-min_spend_fen").first()
    tag_names = {t for r in new_rows for t in r.tags} | {t for r in matched.values() for t in r.tags}
    tags = dict(Tag.objects.for_brand(brand).filter(name__in=tag_names).values_list("name", "pk"))
    missing = [Tag(brand=brand, name=n) for n in sorted(tag_names - set(tags))]
    for t in Tag.objects.bulk_create(missing):
        tags[t.name] = t.pk

    total = len(new_rows)
    for start in range(0, total, CHUNK):
        chunk = new_rows[start : start + CHUNK]
        members = [
            Member(
                brand=brand,
                name=r.name,
                tier=base_tier,
                marketing_consent=r.consent,
                joined_at=r.joined_at or now,
                guide=_guide(guides, r.guide),
                join_guide=_guide(guides, r.guide),
            )
            for r in chunk
        ]
        Member.objects.bulk_create(members)
        MemberIdentity.objects.bulk_create(
            [
                MemberIdentity(brand=brand, member=m, kind=k, value=v, verified=False, created_at=now)
                for m, r in zip(members, chunk, strict=True)
                for k, v in r.identities
            ]
        )
        MemberTag.objects.bulk_create(
            [
                MemberTag(brand=brand, member=m, tag_id=tags[t], source=MemberTag.Source.IMPORT)
                for m, r in zip(members, chunk, strict=True)
                for t in r.tags
            ]
        )
        ConsentRecord.objects.bulk_create(
            [
                ConsentRecord(
                    brand=brand,
                    member=m,
                    granted=r.consent,
                    source=ConsentRecord.Source.IMPORT,
                    created_at=now,
                )
                for m, r in zip(members, chunk, strict=True)
            ]
        )
        GuideBinding.objects.bulk_create(
            [
                GuideBinding(
                    brand=brand,
                    member=m,
                    guide=m.guide,
                    # The member was the guide's since joining (in the brand's old system), so
                    # orders from then on are the guide's too.
                    started_at=m.joined_at,
                    start_reason=GuideBinding.Reason.IMPORT,
                    created_by=job.created_by,
                )
                for m in members
                if m.guide is not None
            ]
        )
        _progress(job, start + len(chunk), total, "writing")

    # Existing members: add the identities and tags they lack; nothing else is overwritten.
    if matched:
        have = set(
            MemberIdentity.objects.for_brand(brand)
            .filter(member_id__in=list(matched))
            .values_list("kind", "value")
        )
        MemberIdentity.objects.bulk_create(
            [
                MemberIdentity(brand=brand, member_id=mid, kind=k, value=v, verified=False, created_at=now)
                for mid, r in matched.items()
                for k, v in r.identities
                if (k, v) not in have
            ],
            ignore_conflicts=True,
        )
        MemberTag.objects.bulk_create(
            [
                MemberTag(brand=brand, member_id=mid, tag_id=tags[t], source=MemberTag.Source.IMPORT)
                for mid, r in matched.items()
                for t in r.tags
            ],
            ignore_conflicts=True,
        )


def _guide(guides: dict[str, Staff], ref: str) -> Staff | None:
    if not ref:
        return None
    return guides.get(ref) or guides.get(_normal_phone(ref))


def _error_report(errors: list[tuple[int, str, dict]]) -> bytes:
    # The cells echo the uploaded file: written through the safe writer like every export.
    return csv_export.csv_bytes(
        [
            ["line", "error", *IMPORT_COLUMNS],
            *(
                [line, message, *[raw.get(c, "") for c in IMPORT_COLUMNS]]
                for line, message, raw in sorted(errors, key=lambda e: e[0])
            ),
        ]
    )


# --- export -----------------------------------------------------------------------------------


def _run_export(brand: Brand, job: MemberJob) -> None:
    with brand_scope(brand):
        _heartbeat(job)  # locks the job row until this transaction ends: the worker is alive
        viewer = Staff.objects.get(pk=job.params["viewer"])
        full = roles.sees_all_stores(viewer)
        qs = selectors.member_list(
            brand=brand, viewer=viewer, filters=_filters_from_json(job.params["filters"])
        )
        total = qs.count()
        tz = zoneinfo.ZoneInfo("Asia/Shanghai")

        def rows():
            yield EXPORT_COLUMNS
            for n, m in enumerate(qs.iterator(chunk_size=2000), start=1):
                ids = {i.kind: i.value for i in m.identities.all()}
                phone = ids.get(MemberIdentity.Kind.PHONE, "")
                card = ids.get(MemberIdentity.Kind.CARD, "")
                yield [
                    m.pk,
                    m.name,
                    phone if full else mask_identity(MemberIdentity.Kind.PHONE, phone) if phone else "",
                    card if full else mask_identity(MemberIdentity.Kind.CARD, card) if card else "",
                    m.tier.name if m.tier else "",
                    m.points_balance,
                    csv_export.fen_cell(m.qualifying_spend_fen),
                    m.guide.name if m.guide else "",
                    ";".join(mt.tag.name for mt in m.member_tags.all()),
                    "yes" if m.marketing_consent else "no",
                    m.joined_at.astimezone(tz).date().isoformat(),
                    m.last_purchase_at.astimezone(tz).date().isoformat() if m.last_purchase_at else "",
                ]
                if n % CHUNK == 0:
                    _progress(job, n, total, "writing")

        job.result_file.save("export.csv", ContentFile(csv_export.csv_bytes(rows())), save=False)
        job.files_expire_at = private_files.expiry()
        job.total = job.processed = total
        job.status, job.finished_at = MemberJob.Status.DONE, timezone.now()
        job.lease_expires_at = None
        job.message = _("%(n)s members exported.") % {"n": total}
        job.save()


# --- leases -----------------------------------------------------------------------------------


def _give_up(job: MemberJob, now: datetime.datetime) -> None:
    job.status, job.finished_at, job.lease_expires_at = MemberJob.Status.FAILED, now, None
    job.params = {**job.params, "failure": WORKER_LOST}
    job.message = _(
        "The job stopped %(n)s times without finishing (the server running it was lost); "
        "nothing was written. Please start it again."
    ) % {"n": job.attempts}
    job.save(update_fields=["status", "finished_at", "lease_expires_at", "params", "message"])
    cache.delete(progress_key(job.pk))
    logger.warning("member job %s of brand %s failed after %s attempts", job.pk, job.brand_id, job.attempts)


def jobs_sweep(*, brand: Brand, now: datetime.datetime | None = None) -> int:
    """Queue again the brand's jobs whose lease ran out (their worker died, or their message was
    lost); fail those already run JOB_MAX_ATTEMPTS times. Returns how many jobs it touched."""
    now = now or timezone.now()
    touched = 0
    with brand_scope(brand):
        stale = (
            MemberJob.objects.for_brand(brand)
            .filter(status__in=ACTIVE)
            .filter(
                Q(lease_expires_at__lt=now)
                # Jobs queued before leases existed.
                | Q(lease_expires_at__isnull=True, created_at__lt=now - JOB_LEASE)
            )
            # A row locked by a worker's open transaction has a live worker: skip it, don't wait.
            .select_for_update(skip_locked=True)
        )
        for job in stale:
            touched += 1
            if job.attempts >= JOB_MAX_ATTEMPTS:
                _give_up(job, now)
                continue
            if job.status == MemberJob.Status.RUNNING:
                job.status = MemberJob.Status.RETRYING
            job.lease_expires_at = now + JOB_LEASE  # time for a worker to pick it up
            job.save(update_fields=["status", "lease_expires_at"])
            cache.delete(progress_key(job.pk))
            _queue(brand, job)
    return touched
