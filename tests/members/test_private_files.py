"""Member imports, exports and error reports hold personal data: they live in the private storage
under random names, outside MEDIA_ROOT; only staff of the job's brand with access to the job
download them (everyone else gets a 404), each download is audited, and they expire."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from members import jobs, selectors
from members.models import MemberJob
from retail import private_files
from retail.events import Actor
from retail.models import AuditLog
from retail.tenancy import brand_scope
from tests.helpers.auth import login_as

pytestmark = pytest.mark.django_db


def export(brand, viewer, capture) -> MemberJob:
    with capture(execute=True):
        job = jobs.export_start(
            brand=brand, viewer=viewer, actor=Actor(user=viewer.user), filters=selectors.MemberFilters()
        )
    with brand_scope(brand):
        return MemberJob.objects.get(pk=job.pk)


def import_with_errors(brand, admin, capture) -> MemberJob:
    upload = SimpleUploadedFile(
        "会员-悦颜.csv",
        "\ufeffphone,name\n13700000001,李一\n12345,坏号码\n".encode(),
        content_type="text/csv",
    )
    with capture(execute=True):
        job = jobs.import_start(brand=brand, manager=admin, actor=Actor(user=admin.user), upload=upload)
    with brand_scope(brand):
        return MemberJob.objects.get(pk=job.pk)


def downloads(brand) -> list[AuditLog]:
    with brand_scope(brand):
        return list(AuditLog.objects.filter(action="file.downloaded"))


def test_job_files_live_in_private_storage_under_random_names(
    brand, brand_admin, member, django_capture_on_commit_callbacks
):
    imp = import_with_errors(brand, brand_admin, django_capture_on_commit_callbacks)
    exp = export(brand, brand_admin, django_capture_on_commit_callbacks)
    names = [imp.file.name, imp.result_file.name, exp.result_file.name]
    private_root = Path(settings.PRIVATE_MEDIA_ROOT).resolve()
    media_root = Path(settings.MEDIA_ROOT).resolve()
    for name, field in zip(names, [imp.file, imp.result_file, exp.result_file], strict=True):
        path = Path(field.path).resolve()
        assert path.is_file() and path.is_relative_to(private_root) and not path.is_relative_to(media_root)
        # member-jobs/<yyyy>/<mm>/<32 random url-safe characters>.csv: no brand, no person, no time of day
        assert re.fullmatch(r"member-jobs/\d{4}/\d{2}/[A-Za-z0-9_-]{32}\.csv", name), name
        assert path.stat().st_mode & 0o077 == 0  # readable by the application only
        with pytest.raises(ValueError):
            field.url  # noqa: B018  (no URL exists for a private file)
    assert len(set(names)) == 3
    assert not any(media_root.rglob("*.csv"))
    ttl = datetime.timedelta(days=7)
    assert timezone.now() + ttl - exp.files_expire_at < datetime.timedelta(minutes=1)


def test_the_owner_admin_downloads_the_file_and_the_download_is_audited(
    client, brand, brand_admin, member, django_capture_on_commit_callbacks
):
    job = import_with_errors(brand, brand_admin, django_capture_on_commit_callbacks)
    login_as(client, brand_admin)
    response = client.get(reverse("dash-member-job-file", args=[job.pk]), REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[0].startswith("line,error") and "坏号码" in body
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"member-import-{job.pk}-errors.csv" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"] and "no-cache" in response["Cache-Control"]
    [entry] = downloads(brand)
    assert entry.actor_id == brand_admin.user_id and entry.ip == "10.1.2.3"
    assert (entry.target_type, entry.target_id) == ("members.MemberJob", str(job.pk))
    assert entry.data == {"field": "result_file"}


def test_anyone_else_gets_404_and_nothing_is_audited(
    client, brand, brand_admin, store_manager, guide, other_admin, member, django_capture_on_commit_callbacks
):
    job = export(brand, brand_admin, django_capture_on_commit_callbacks)
    url = reverse("dash-member-job-file", args=[job.pk])
    assert Client().get(url).status_code == 404  # logged out: no login redirect that confirms the file
    login_as(client, other_admin)
    assert client.get(url).status_code == 404  # another brand's admin
    login_as(client, guide)
    assert client.get(url).status_code == 404  # a guide: no access to member files
    login_as(client, store_manager)
    assert client.get(url).status_code == 404  # a store manager: not their job
    assert downloads(brand) == []


def test_the_media_route_never_serves_member_job_files(client, brand_admin, settings):
    media = Path(settings.MEDIA_ROOT)
    legacy = media / "member-jobs" / "2026" / "05" / "members-yueyan-20260501-1200.csv"
    legacy.parent.mkdir(parents=True)
    legacy.write_text("phone\n13711112222\n")
    photo = media / "products" / "a.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8\xff")
    login_as(client, brand_admin)
    for path in (
        "/media/member-jobs/2026/05/members-yueyan-20260501-1200.csv",
        "/media/products/../member-jobs/2026/05/members-yueyan-20260501-1200.csv",
        "/media//member-jobs/2026/05/members-yueyan-20260501-1200.csv",
    ):
        assert client.get(path).status_code == 404, path
    assert client.get("/media/products/a.jpg").status_code == 200  # product photos stay public


def test_an_expired_file_answers_a_readable_410_then_is_deleted(
    client, brand, brand_admin, member, django_capture_on_commit_callbacks
):
    from retail.tasks import expire_private_files

    imp = import_with_errors(brand, brand_admin, django_capture_on_commit_callbacks)
    exp = export(brand, brand_admin, django_capture_on_commit_callbacks)
    paths = [Path(imp.file.path), Path(imp.result_file.path), Path(exp.result_file.path)]
    with brand_scope(brand):
        MemberJob.objects.filter(pk=imp.pk).update(
            files_expire_at=timezone.now() - datetime.timedelta(seconds=1)
        )
    login_as(client, brand_admin)
    gone = client.get(reverse("dash-member-job-file", args=[imp.pk]))
    assert gone.status_code == 410
    assert "此文件已不可用" in gone.content.decode() and "7 天" in gone.content.decode()
    page = client.get(reverse("dash-member-job", args=[imp.pk])).content.decode()
    assert 'data-testid="job-file-expired"' in page and 'data-testid="job-file"' not in page
    assert downloads(brand) == []

    expire_private_files.delay()  # the hourly beat task
    assert [p.exists() for p in paths] == [False, False, True]  # the export has not expired yet
    with brand_scope(brand):
        imp = MemberJob.objects.get(pk=imp.pk)
    assert not imp.file and not imp.result_file
    assert client.get(reverse("dash-member-job-file", args=[imp.pk])).status_code == 404
    assert client.get(reverse("dash-member-job-file", args=[exp.pk])).status_code == 200

    # Once the export expires too, the next sweep deletes it.
    with brand_scope(brand):
        MemberJob.objects.filter(pk=exp.pk).update(files_expire_at=timezone.now())
    assert private_files.delete_expired(brand=brand) == 1
    assert not paths[2].exists()


def test_every_model_with_private_files_lets_them_expire():
    assert private_files.check_models() == []
    assert (MemberJob, ["file", "result_file"]) in private_files.private_file_models()
