"""CSV import and export jobs: dedup against existing members and within the file, per-row error
report, nothing written on failure, exports that follow roles."""

import csv
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from members import jobs, selectors, services
from members.models import GuideBinding, Member, MemberIdentity, MemberJob, MemberTag, Tag
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _csv(rows, header="phone,name,card_no,tags,consent,guide,joined_at"):
    return SimpleUploadedFile(
        "members.csv", ("\ufeff" + header + "\n" + "\n".join(rows) + "\n").encode(), content_type="text/csv"
    )


def _run_import(brand, admin, upload, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.import_start(brand=brand, manager=admin, actor=Actor(user=admin.user), upload=upload)
    with brand_scope(brand):
        return MemberJob.objects.get(pk=job.pk)


def test_import_dedupes_reports_bad_rows_and_binds_guides(
    brand, brand_admin, guide, member, django_capture_on_commit_callbacks
):
    with brand_scope(brand):
        guide.employee_no = "G001"
        guide.save()
    rows = [
        "13700000001,李一,VIP1,高价值;爱促销,yes,G001,2024-05-01",
        "13700000002,李二,,,no,,",
        "+86 137 0000 0001,李一重复,VIP9,新客,yes,,",  # duplicate of row 1 in the file (phone)
        "13711112222,已是会员,CARD-OLD,高价值,yes,,",  # the existing member
        "12345,坏号码,,,yes,,",  # bad phone
        ",无身份,,,yes,,",  # no identity
        "13700000003,坏日期,,,yes,,2024-13-01",  # bad date
        "13700000004,坏同意,,,maybe,,",  # bad consent
        "13700000005,没这个导购,,,yes,NOPE,",  # unknown guide
    ]
    job = _run_import(brand, brand_admin, _csv(rows), django_capture_on_commit_callbacks)
    assert job.status == MemberJob.Status.DONE, job.message
    assert (job.created_count, job.matched_count, job.error_count, job.total) == (2, 2, 5, 9)
    with brand_scope(brand):
        assert Member.objects.count() == 3
        li = services.member_find(brand=brand, kind="card", value="VIP9")
        assert li.name == "李一" and li.guide_id == guide.pk
        assert set(MemberTag.objects.filter(member=li).values_list("tag__name", flat=True)) == {
            "高价值",
            "爱促销",
            "新客",
        }
        binding = GuideBinding.objects.get(member=li)
        # The binding dates from when the member joined, so older orders are the guide's too.
        assert binding.start_reason == "import" and binding.started_at == li.joined_at
        assert li.joined_at.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat() == "2024-05-01"
        assert MemberIdentity.objects.filter(member=member, kind="card", value="CARD-OLD").exists()
        assert Tag.objects.filter(name="高价值").count() == 1
        report = list(csv.reader(io.StringIO(job.result_file.read().decode("utf-8-sig"))))
    assert report[0][:2] == ["line", "error"]
    assert [r[0] for r in report[1:]] == ["6", "7", "8", "9", "10"]
    assert "phone" in report[1][1] and "没有任何身份信息" in report[2][1]  # zh-hans is the default language


def test_import_writes_nothing_when_it_fails(
    brand, brand_admin, django_capture_on_commit_callbacks, monkeypatch
):
    rows = [f"1370000{i:04d},会员{i},,,yes,," for i in range(30)]

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(jobs.ConsentRecord.objects, "bulk_create", explode)
    with pytest.raises(RuntimeError):
        _run_import(brand, brand_admin, _csv(rows), django_capture_on_commit_callbacks)
    with brand_scope(brand):
        job = MemberJob.objects.get()
        assert job.status == MemberJob.Status.FAILED and "disk full" in job.message
        assert Member.objects.count() == 0 and MemberIdentity.objects.count() == 0


def test_import_refuses_files_that_are_not_member_csv(brand, brand_admin):
    actor = Actor(user=brand_admin.user)
    with pytest.raises(ValidationError):
        jobs.import_start(
            brand=brand,
            manager=brand_admin,
            actor=actor,
            upload=SimpleUploadedFile("x.csv", b"\x89PNG\r\n\x1a\n\x00\x00binary"),
        )
    with pytest.raises(ValidationError):
        jobs.import_start(
            brand=brand,
            manager=brand_admin,
            actor=actor,
            upload=SimpleUploadedFile("x.csv", b"foo,bar\n1,2\n"),
        )
    with pytest.raises(ValidationError):
        jobs.import_start(brand=brand, manager=brand_admin, actor=actor, upload=None)
    with brand_scope(brand):
        assert not MemberJob.objects.exists()


def test_only_brand_admins_import(brand, store_manager, guide):
    for who in (store_manager, guide):
        with pytest.raises(PermissionDenied):
            jobs.import_start(
                brand=brand, manager=who, actor=Actor(user=who.user), upload=_csv(["13700000001"])
            )


def test_identities_of_two_members_in_one_row_are_an_error(
    brand, brand_admin, django_capture_on_commit_callbacks
):
    MemberFactory(brand=brand, phone="13700000001")
    other = MemberFactory(brand=brand, phone="13700000002")
    services.member_identity_add(
        brand=brand, member=other, kind="card", value="C2", verified=False, actor=Actor.system()
    )
    job = _run_import(
        brand, brand_admin, _csv(["13700000001,x,C2,,yes,,"]), django_capture_on_commit_callbacks
    )
    assert (job.created_count, job.matched_count, job.error_count) == (0, 0, 1)


def test_export_follows_roles(brand, brand_admin, store_manager, guide, django_capture_on_commit_callbacks):
    services.member_join(brand=brand, phone="13700000001", guide=guide, consent=True)
    for viewer, phone in [(brand_admin, "13700000001"), (store_manager, "137****0001")]:
        with django_capture_on_commit_callbacks(execute=True):
            job = jobs.export_start(
                brand=brand, viewer=viewer, actor=Actor(user=viewer.user), filters=selectors.MemberFilters()
            )
        with brand_scope(brand):
            job = MemberJob.objects.get(pk=job.pk)
            rows = list(csv.DictReader(io.StringIO(job.result_file.read().decode("utf-8-sig"))))
        assert job.status == MemberJob.Status.DONE
        assert [r["phone"] for r in rows] == [phone]
    with pytest.raises(PermissionDenied):
        jobs.export_start(
            brand=brand, viewer=guide, actor=Actor(user=guide.user), filters=selectors.MemberFilters()
        )


def test_export_never_contains_another_brands_members(
    brand, brand_admin, other_member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.export_start(
            brand=brand,
            viewer=brand_admin,
            actor=Actor(user=brand_admin.user),
            filters=selectors.MemberFilters(),
        )
    with brand_scope(brand):
        body = MemberJob.objects.get(pk=job.pk).result_file.read().decode("utf-8-sig")
    assert "13711112222" not in body and "别家会员" not in body


def test_job_rerun_is_a_no_op(brand, brand_admin, django_capture_on_commit_callbacks):
    job = _run_import(brand, brand_admin, _csv(["13700000001,a,,,yes,,"]), django_capture_on_commit_callbacks)
    again = jobs.job_run(brand=brand, job_id=job.pk)
    assert again.status == MemberJob.Status.DONE
    with brand_scope(brand):
        assert Member.objects.count() == 1


def test_a_chinese_name_cut_at_the_first_4_kb_is_still_a_utf8_file(
    brand, brand_admin, django_capture_on_commit_callbacks
):
    """The header check reads the first 4 KB: a character split there is not an encoding error."""
    rows = [f"139{n:08d},Ann" for n in range(254)]  # 3 + 11 + 254 * 16 = 4078 bytes
    rows += ["13900000254,Annie王芳", "13900000255,李娜"]  # 王 takes bytes 4095-4097
    body = ("\ufeff" + "phone,name\n" + "\n".join(rows) + "\n").encode()
    assert body[4095:4098] == "王".encode()
    with pytest.raises(UnicodeDecodeError):
        body[:4096].decode("utf-8-sig")
    upload = SimpleUploadedFile("members.csv", body, content_type="text/csv")
    job = _run_import(brand, brand_admin, upload, django_capture_on_commit_callbacks)
    assert job.status == MemberJob.Status.DONE
    with brand_scope(brand):
        assert Member.objects.count() == 256
