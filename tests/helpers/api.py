"""Calling the REST API from a test: JSON requests with an idempotency key, and the one error shape."""

from __future__ import annotations

from django.test import TestCase


def api_error(resp, status: int, code: str | None = None) -> dict:
    """Assert ``resp`` is the API's one error shape with ``status`` (and ``code``); return its error."""
    assert resp.status_code == status, resp.content
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


def send_json(client, url: str, data=None, key: str | None = None, *, method: str = "post", commit=False):
    """Send ``data`` (a dict or list, or a ready JSON string) as JSON, with an Idempotency-Key when given.

    ``commit=True`` runs what the request queues for after commit (tasks, eagerly) before returning,
    as a worker would."""
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = {} if data is None else data

    def send():
        return getattr(client, method)(url, body, content_type="application/json", **headers)

    if not commit:
        return send()
    with TestCase.captureOnCommitCallbacks(execute=True):
        return send()
