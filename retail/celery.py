"""The Celery app. Tasks that touch brand data derive from ``BrandTask``."""

import contextlib
import logging
import os

from celery import Celery, Task
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retail.settings")

logger = logging.getLogger("retail.degraded")

app = Celery("retail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class BrandTask(Task):
    """A task whose first argument is a brand id; it runs inside that brand's scope.

    The scope opens the task's transaction and sets PostgreSQL's ``app.brand_id`` so row-level
    security applies exactly as in a request. Failures are retried with exponential back-off.
    """

    acks_late = True
    autoretry_for = (ConnectionError, TimeoutError)
    retry_backoff = True
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 8

    # False for long jobs: the task body then only names the brand, and the services it calls
    # open their own brand-scoped transactions (so progress can be committed as it goes).
    single_transaction = True

    def apply_async(self, args=None, kwargs=None, **options):
        """Queue the task; with the broker unreachable, log it and carry on instead of failing
        the request whose data is already committed (the periodic sweeps find the work again)."""
        try:
            return super().apply_async(args, kwargs, **options)
        except OperationalError as exc:
            logger.warning(
                "broker unreachable, %s not queued for brand %s: %s", self.name, (args or [None])[0], exc
            )
            return None

    def __call__(self, brand_id: int, *args, **kwargs):
        from retail.tenancy import brand_context, brand_scope

        scope = brand_scope if self.single_transaction else brand_context
        with scope(brand_id), self._providers():
            return super().__call__(brand_id, *args, **kwargs)

    def _providers(self):
        """The simulated providers only, for a task queued by a test-mode partner call
        (retail.outbox.SIMULATED_HEADER: a message header in a worker, ``headers`` when eager)."""
        from retail import payments

        name = "retail_simulated_providers"
        request = self.request
        flagged = getattr(request, name, None) or (getattr(request, "headers", None) or {}).get(name)
        return payments.simulated_providers() if flagged else contextlib.nullcontext()
