"""Imports and exports whose worker dies are not left "running" forever: the worker holds a lease
it renews as it goes, and the sweeper (every minute) queues a job whose lease ran out again, up to
JOB_MAX_ATTEMPTS runs, then fails it with a reason people can read. A re-run never writes a
member twice."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation

from members import jobs, selectors
from members.models import Member, MemberIdentity, MemberJob
from members.tasks import sweep_jobs
from retail.celery import BrandTask
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.helpers.auth import login_as

pytestmark = pytest.mark.django_db

ROWS = 12


class WorkerKilled(BaseException):
    """What the job sees of a worker killed mid-run: not an error it could record, just the end."""


@pytest.fixture(autouse=True)
def _language_back_to_default():
    """Pages here are also read in English; later tests expect the default language."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def upload():
    body = "phone,name\n" + "".join(f"1370000{i:04d},会员{i}\n" for i in range(ROWS))
    return SimpleUploadedFile("m.csv", ("\ufeff" + body).encode(), content_type="text/csv")


@pytest.fixture
def killer(monkeypatch):
    """Kill the worker while it writes, after the members of the first chunk went in."""
    state = {"on": True}
    original = jobs.ConsentRecord.objects.bulk_create

    def bulk_create(objs, *args, **kwargs):
        if state["on"]:
            raise WorkerKilled
        return original(objs, *args, **kwargs)

    monkeypatch.setattr(jobs.ConsentRecord.objects, "bulk_create", bulk_create)
    return state


def get(brand, job_id) -> MemberJob:
    with brand_scope(brand):
        return MemberJob.objects.get(pk=job_id)


def members(brand) -> int:
    with brand_scope(brand):
        return Member.objects.count()


def lease_runs_out(brand, job_id) -> None:
    """Time passes: the dead worker's lease is now in the past."""
    with brand_scope(brand):
        MemberJob.objects.filter(pk=job_id).update(
            lease_expires_at=timezone.now() - datetime.timedelta(seconds=1)
        )


def start_import_that_dies(brand, admin, upload, capture) -> MemberJob:
    with pytest.raises(WorkerKilled), capture(execute=True):
        jobs.import_start(brand=brand, manager=admin, actor=Actor(user=admin.user), upload=upload)
    with brand_scope(brand):
        job = MemberJob.objects.get()
    assert (job.status, job.attempts) == (MemberJob.Status.RUNNING, 1)
    assert job.lease_expires_at > timezone.now()
    assert members(brand) == 0  # the killed run's writes were rolled back
    return job


def sweep(capture) -> int:
    with capture(execute=True):
        return sweep_jobs.delay().get()


def test_a_dead_workers_import_is_queued_again_and_finishes_once(
    brand, brand_admin, upload, killer, django_capture_on_commit_callbacks
):
    job = start_import_that_dies(brand, brand_admin, upload, django_capture_on_commit_callbacks)

    # While the lease runs, the job is the (dead) worker's: the sweeper leaves it alone, and a
    # second delivery of the task message does nothing.
    assert sweep(django_capture_on_commit_callbacks) == 0
    assert jobs.job_run(brand=brand, job_id=job.pk).attempts == 1
    assert get(brand, job.pk).status == MemberJob.Status.RUNNING

    lease_runs_out(brand, job.pk)
    killer["on"] = False  # the next worker lives
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert jobs.jobs_sweep(brand=brand) == 1
    job = get(brand, job.pk)
    assert job.status == MemberJob.Status.RETRYING and job.lease_expires_at > timezone.now()
    assert len(queued) == 1  # queued again (on commit)
    queued[0]()  # the worker takes it
    job = get(brand, job.pk)
    assert (job.status, job.attempts, job.created_count, job.lease_expires_at) == (
        MemberJob.Status.DONE,
        2,
        ROWS,
        None,
    )
    assert members(brand) == ROWS
    with brand_scope(brand):
        assert MemberIdentity.objects.count() == ROWS

    # A late redelivery of the first message (the broker's visibility timeout) changes nothing.
    jobs.job_run(brand=brand, job_id=job.pk)
    assert members(brand) == ROWS and get(brand, job.pk).attempts == 2


def test_a_job_that_keeps_dying_fails_after_the_last_attempt_with_a_reason(
    client, brand, brand_admin, upload, killer, django_capture_on_commit_callbacks
):
    job = start_import_that_dies(brand, brand_admin, upload, django_capture_on_commit_callbacks)
    for attempt in range(2, jobs.JOB_MAX_ATTEMPTS + 1):
        lease_runs_out(brand, job.pk)
        with pytest.raises(WorkerKilled):
            sweep(django_capture_on_commit_callbacks)  # queued again; that worker dies too
        job = get(brand, job.pk)
        assert (job.status, job.attempts) == (MemberJob.Status.RUNNING, attempt)
    lease_runs_out(brand, job.pk)
    assert sweep(django_capture_on_commit_callbacks) == 1
    job = get(brand, job.pk)
    assert job.status == MemberJob.Status.FAILED and job.finished_at is not None
    assert job.attempts == jobs.JOB_MAX_ATTEMPTS and job.params["failure"] == jobs.WORKER_LOST
    assert members(brand) == 0
    assert sweep(django_capture_on_commit_callbacks) == 0  # failed stays failed

    login_as(client, brand_admin)
    page = client.get(reverse("dash-member-job", args=[job.pk])).content.decode()
    assert 'data-testid="job-failed"' in page and "失败" in page
    assert "任务 3 次中途中断" in page and 'hx-trigger="every 1s"' not in page
    listing = client.get(reverse("dash-member-import")).content.decode()
    assert "任务 3 次中途中断" in listing
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("dash-member-job", args=[job.pk])).content.decode()
    assert "Failed" in page and "The job stopped 3 times without finishing" in page


def test_the_progress_page_says_retrying_not_a_frozen_bar(
    client, brand, brand_admin, upload, killer, django_capture_on_commit_callbacks
):
    job = start_import_that_dies(brand, brand_admin, upload, django_capture_on_commit_callbacks)
    lease_runs_out(brand, job.pk)
    with django_capture_on_commit_callbacks(execute=False):  # queued, no worker has taken it yet
        jobs.jobs_sweep(brand=brand)
    login_as(client, brand_admin)
    url = reverse("dash-member-job-progress", args=[job.pk])
    body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="retrying"' in body and 'data-testid="job-retrying"' in body
    assert "正在重试" in body and "第 2 次，共 3 次" in body
    assert 'hx-trigger="every 1s"' in body  # keeps watching
    assert 'role="progressbar"' not in body
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Retrying" in body and "try 2 of 3" in body


def test_an_export_whose_message_was_lost_is_sent_again(
    brand, brand_admin, django_capture_on_commit_callbacks
):
    # Redis restarted without its data: the queued message is gone, the job still "waiting".
    with django_capture_on_commit_callbacks(execute=False):
        job = jobs.export_start(
            brand=brand,
            viewer=brand_admin,
            actor=Actor(user=brand_admin.user),
            filters=selectors.MemberFilters(),
        )
    assert sweep(django_capture_on_commit_callbacks) == 0  # still within its time to be picked up
    lease_runs_out(brand, job.pk)
    assert sweep(django_capture_on_commit_callbacks) == 1
    job = get(brand, job.pk)
    assert (job.status, job.attempts) == (MemberJob.Status.DONE, 1) and job.result_file


def test_the_sweeper_and_the_broker_run_on_a_schedule_that_fits_the_jobs():
    beat = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert beat["members.tasks.sweep_jobs"] == 60.0
    assert "retail.tasks.expire_private_files" in beat
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    # Longer than the longest back-off a retried task waits, shorter than kombu's default hour.
    assert BrandTask.retry_backoff_max < timeout < 3600
    assert jobs.JOB_LEASE.total_seconds() < timeout


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_live_worker_inside_its_transaction_is_skipped_without_waiting(brand, brand_admin):
    """On PostgreSQL the job row stays locked while the worker's one transaction is open: the
    sweeper skips it (even with the lease's timestamp run out) instead of queueing it twice."""
    with brand_scope(brand):
        job = MemberJob.objects.create(
            brand=brand,
            kind=MemberJob.Kind.EXPORT,
            status=MemberJob.Status.RUNNING,
            attempts=1,
            created_by=brand_admin.user,
            params={"viewer": brand_admin.pk, "filters": {}},
            lease_expires_at=timezone.now() - datetime.timedelta(minutes=5),
        )
    holding, release = threading.Event(), threading.Event()

    def worker():
        try:
            with brand_scope(brand):
                jobs._heartbeat(job)
                MemberJob.objects.filter(pk=job.pk).update(
                    lease_expires_at=timezone.now() - datetime.timedelta(minutes=5)
                )
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert holding.wait(30)
        assert jobs.jobs_sweep(brand=brand) == 0
        assert get(brand, job.pk).status == MemberJob.Status.RUNNING
    finally:
        release.set()
        t.join(30)
    # The worker's transaction ended without finishing the job (it died): now it is swept, queued
    # again on commit, and this time it runs to the end.
    assert jobs.jobs_sweep(brand=brand) == 1
    job = get(brand, job.pk)
    assert (job.status, job.attempts) == (MemberJob.Status.DONE, 2) and job.result_file
