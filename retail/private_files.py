"""Private files: every file that holds personal data (member exports and imports, error
reports, chat images).

* Stored in the ``private`` storage under ``PRIVATE_MEDIA_ROOT``, outside ``MEDIA_ROOT``, so no
  web server or CDN that serves media can hand them out; the storage has no URL at all.
* Named by ``PrivateName``: a random token in a folder of the month; never the brand, the
  person or anything else that could be guessed.
* Served only by ``serve``, which a view calls after checking brand and role; it refuses a
  request of another brand, answers an expired file with a readable "gone" page, audits every
  download and sends it as an attachment that browsers and proxies do not sniff or keep.
* Expired ``PRIVATE_FILE_TTL`` after they are made: a model with a private file field has a
  ``files_expire_at`` field (a system check insists), and ``delete_expired`` (run by the beat
  task ``retail.tasks.expire_private_files``) deletes the files whose time has come.

Product photos and other public media keep using the default storage.
"""

from __future__ import annotations

import datetime
import mimetypes
import os
import posixpath
import re
import secrets
from typing import TYPE_CHECKING

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.files.storage import FileSystemStorage, storages
from django.db import models
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.deconstruct import deconstructible
from django.views import static

from retail import events
from retail.tenancy import BrandOwned, brand_owned_models, brand_scope

if TYPE_CHECKING:
    from retail.models import Brand

STORAGE_ALIAS = "private"
EXPIRY_FIELD = "files_expire_at"
# Folders of MEDIA_ROOT that held personal data before it moved here (delete them on upgrade).
LEGACY_PUBLIC_FOLDERS = ("member-jobs/",)
_EXT = re.compile(r"^\.[a-z0-9]{1,8}$")


class PrivateStorage(FileSystemStorage):
    """Files under ``PRIVATE_MEDIA_ROOT``, readable by the application only, with no URL."""

    def __init__(self, location=None, **kwargs):
        kwargs.setdefault("file_permissions_mode", 0o600)
        kwargs.setdefault("directory_permissions_mode", 0o700)
        super().__init__(location=location, base_url=None, **kwargs)

    # Read on each use (not cached) so that the root follows the settings, tests included.
    @property
    def base_location(self):
        return self._value_or_setting(self._location, settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Private files have no URL; a view serves them with private_files.serve().")


def private_storage() -> PrivateStorage:
    """The ``private`` storage (a callable, so model fields and migrations name it, not a path)."""
    return storages[STORAGE_ALIAS]


@deconstructible
class PrivateName:
    """``upload_to`` of private files: ``<folder>/<yyyy>/<mm>/<random token><.ext>``."""

    def __init__(self, folder: str):
        self.folder = folder.strip("/")

    def __call__(self, instance, filename: str) -> str:
        ext = os.path.splitext(filename or "")[1].lower()
        ext = ext if _EXT.match(ext) else ""
        return f"{self.folder}/{timezone.now():%Y/%m}/{secrets.token_urlsafe(24)}{ext}"

    def __eq__(self, other) -> bool:
        return isinstance(other, PrivateName) and other.folder == self.folder

    def __hash__(self) -> int:
        return hash(self.folder)


def expiry(now: datetime.datetime | None = None) -> datetime.datetime:
    """When a private file made now is deleted."""
    return (now or timezone.now()) + settings.PRIVATE_FILE_TTL


def is_private(field: models.Field) -> bool:
    return isinstance(field, models.FileField) and isinstance(field.storage, PrivateStorage)


def private_file_models() -> list[tuple[type[models.Model], list[str]]]:
    """Brand-owned models with private file fields, and those fields' names."""
    found = []
    for model in brand_owned_models():
        names = [f.name for f in model._meta.get_fields() if is_private(f)]
        if names:
            found.append((model, names))
    return found


def check_models() -> list[checks.CheckMessage]:
    """Every model that keeps private files is brand-owned and says when they expire."""
    return [e for model in apps.get_models() for e in check_model(model)]


def check_model(model: type[models.Model]) -> list[checks.CheckMessage]:
    fields = model._meta.get_fields()
    if not any(is_private(f) for f in fields):
        return []
    if issubclass(model, BrandOwned) and EXPIRY_FIELD in {f.name for f in fields}:
        return []
    return [
        checks.Error(
            f"{model._meta.label} keeps private files but is not brand-owned or has no "
            f"{EXPIRY_FIELD} field, so its files would never expire.",
            hint="Derive from BrandOwned and add files_expire_at = "
            "models.DateTimeField(null=True, blank=True), set with private_files.expiry().",
            obj=model,
            id="retail.E002",
        )
    ]


# --- serving ----------------------------------------------------------------------------------


def gone(request, *, status: int = 410) -> HttpResponse:
    """The readable page of a private file that has expired or was deleted."""
    days = int(settings.PRIVATE_FILE_TTL.total_seconds() // 86400)
    response = render(request, "errors/file_gone.html", {"days": days}, status=status)
    add_never_cache_headers(response)
    return response


def serve(
    request,
    file: FieldFile,
    *,
    brand: Brand,
    filename: str,
    expires_at: datetime.datetime | None,
    target: models.Model,
    label: str = "",
    content_type: str | None = None,
) -> HttpResponse:
    """Send a private file as an audited download.

    The calling view has checked the role and found ``target`` within ``brand``; this refuses
    anyone not acting for ``brand`` (404), answers an expired or deleted file with a readable
    410 page, writes an audit entry and streams the file as an attachment that is neither
    sniffed nor cached.
    """
    staff = getattr(request, "staff", None)
    acting = getattr(request, "brand", None)
    if staff is None or acting is None or acting.pk != brand.pk or staff.brand_id != brand.pk:
        raise Http404("No such file.")
    if not file:
        raise Http404("No such file.")
    if not isinstance(file.storage, PrivateStorage):
        raise ValueError("private_files.serve() only serves files in the private storage")
    if expires_at is not None and expires_at <= timezone.now():
        return gone(request)
    try:
        fh = file.open("rb")
    except FileNotFoundError:
        return gone(request)
    events.private_file_downloaded(
        brand=brand,
        actor=events.Actor.from_request(request),
        target=target,
        label=label,
        field=file.field.name,
    )
    response = FileResponse(
        fh,
        as_attachment=True,
        filename=filename,
        content_type=content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    add_never_cache_headers(response)
    return response


def serve_public_media(request, path: str) -> HttpResponse:
    """The development media route (``SERVE_MEDIA``): public media only. The folders where
    personal data was kept before it moved to the private storage are never served."""
    if posixpath.normpath(path).lstrip("/").startswith(LEGACY_PUBLIC_FOLDERS):
        raise Http404("Not public.")
    return static.serve(request, path, document_root=settings.MEDIA_ROOT)


# --- expiry -----------------------------------------------------------------------------------


def delete_expired(*, brand: Brand | int, now: datetime.datetime | None = None) -> int:
    """Delete the brand's private files past their expiry; returns how many files went."""
    now = now or timezone.now()
    deleted = 0
    for model, names in private_file_models():
        with brand_scope(brand):
            has_file = models.Q()
            for name in names:
                has_file |= ~models.Q(**{name: ""})
            rows = (
                model.objects.for_brand(brand)
                .filter(**{f"{EXPIRY_FIELD}__lte": now})
                .filter(has_file)
                .select_for_update()
            )
            for obj in rows:
                for name in names:
                    ff = getattr(obj, name)
                    if ff:
                        ff.storage.delete(ff.name)  # a file already gone is no error
                        deleted += 1
                        setattr(obj, name, "")
                obj.save(update_fields=names)
    return deleted
