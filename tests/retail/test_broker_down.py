"""Losing the broker never fails the request that queued a task: the task is logged as not queued."""

import logging

from celery import Celery

from retail.celery import BrandTask


def test_a_brand_task_queued_while_the_broker_is_down_is_logged_not_raised(caplog):
    probe = Celery("probe", broker="redis://127.0.0.1:1/0")  # nothing listens on port 1
    probe.conf.task_publish_retry = False
    probe.conf.broker_connection_retry = False
    probe.conf.broker_connection_timeout = 1

    @probe.task(base=BrandTask, name="probe.touch")
    def touch(brand_id: int) -> None:  # pragma: no cover - never runs
        raise AssertionError("not queued, so never run")

    with caplog.at_level(logging.WARNING, logger="retail.degraded"):
        assert touch.delay(7) is None
    assert any("probe.touch not queued for brand 7" in r.getMessage() for r in caplog.records)
