"""Member CSV files never carry a live spreadsheet formula: a name or tag that starts with =, +,
-, @, a tab or a carriage return is written as text, in the export and in the import's error
report (which echoes what was uploaded)."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from members import jobs, selectors
from members.models import MemberJob
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://evil.example","点我")', "+1", "-2", "@x", "\tx", "\r=1"]


def result_rows(brand, job_id: int) -> list[list[str]]:
    with brand_scope(brand):
        data = MemberJob.objects.get(pk=job_id).result_file.read()
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_the_member_export_writes_formula_names_as_text(
    brand, brand_admin, django_capture_on_commit_callbacks
):
    for i, name in enumerate(HOSTILE):
        MemberFactory(brand=brand, name=name, phone=f"1370000{i:04d}")
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.export_start(
            brand=brand,
            viewer=brand_admin,
            actor=Actor(user=brand_admin.user),
            filters=selectors.MemberFilters(),
        )
    rows = result_rows(brand, job.pk)
    assert rows[0] == jobs.EXPORT_COLUMNS
    names = sorted(r[1] for r in rows[1:])
    assert names == sorted("'" + n for n in HOSTILE)
    assert all(r[6] == "0.00" for r in rows[1:])  # spend stays a number


def test_the_import_error_report_writes_formula_cells_as_text(
    brand, brand_admin, django_capture_on_commit_callbacks
):
    # Every row has a bad phone, so every row (and its hostile name) lands in the error report.
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["phone", "name", "tags"])
    writer.writerows(["12345", n, "@tag"] for n in HOSTILE)
    upload = SimpleUploadedFile("m.csv", ("\ufeff" + out.getvalue()).encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.import_start(
            brand=brand, manager=brand_admin, actor=Actor(user=brand_admin.user), upload=upload
        )
    rows = result_rows(brand, job.pk)
    by_column = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    # The import strips surrounding whitespace, so "\tx" arrives as "x" (harmless by then).
    expected = sorted("'" + n.strip() if n.strip()[:1] in "=+-@" else n.strip() for n in HOSTILE)
    assert sorted(r["name"] for r in by_column) == expected
    assert {r["tags"] for r in by_column} == {"'@tag"}
    assert all(r["phone"] == "12345" for r in by_column)
