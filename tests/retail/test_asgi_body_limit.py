"""The ASGI body limit: oversized bodies are refused before they are read or spooled.

The application is driven directly with a receive/send pair that counts what was read, the
way uvicorn feeds it.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync

from retail.asgi import application
from retail.asgi_http import BodyLimitMiddleware

LIMIT = 10_000
CHUNK = 1_000


class Conversation:
    """An HTTP request fed to an ASGI app: a body in chunks, every receive and send recorded."""

    def __init__(self, path="/api/v1/me/", *, chunks=(), declared=None, cookie=None, method="POST"):
        headers = [(b"host", b"localhost"), (b"content-type", b"application/json")]
        if declared is not None:
            headers.append((b"content-length", str(declared).encode()))
        else:
            headers.append((b"transfer-encoding", b"chunked"))
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("localhost", 80),
        }
        self.chunks = list(chunks)
        self.reads = 0
        self.sent: list[dict] = []

    async def receive(self):
        if self.reads < len(self.chunks):
            body = self.chunks[self.reads]
            self.reads += 1
            return {"type": "http.request", "body": body, "more_body": self.reads < len(self.chunks)}
        # The client is still there, waiting for the answer (Django listens for a disconnect).
        self.reads += 1
        await asyncio.Event().wait()

    async def send(self, message):
        self.sent.append(message)

    def run(self, app):
        async_to_sync(app)(self.scope, self.receive, self.send)
        return self

    @property
    def chunks_read(self) -> int:
        return min(self.reads, len(self.chunks))

    @property
    def status(self) -> int:
        return next(m["status"] for m in self.sent if m["type"] == "http.response.start")

    @property
    def headers(self) -> dict:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return {k.decode(): v.decode() for k, v in start["headers"]}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


class EchoApp:
    """Reads the whole body, then answers with its length (stands in for Django's reader)."""

    def __init__(self):
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


@pytest.fixture
def limit(settings):
    settings.REQUEST_BODY_MAX_BYTES = LIMIT
    return LIMIT


def test_declared_oversize_is_refused_without_reading_the_body(limit):
    echo = EchoApp()
    conv = Conversation(declared=300 * 1024 * 1024, chunks=[b"x" * CHUNK] * 5).run(BodyLimitMiddleware(echo))
    assert conv.status == 413
    assert conv.reads == 0
    assert echo.bodies == []
    assert conv.headers["connection"] == "close"


def test_chunked_oversize_stops_reading_past_the_limit(limit):
    echo = EchoApp()
    chunks = [b"x" * CHUNK] * 300
    conv = Conversation(chunks=chunks).run(BodyLimitMiddleware(echo))
    assert conv.status == 413
    # 11 chunks are 11,000 bytes, the first count past 10,000; the other 289 are never read.
    assert conv.reads == LIMIT // CHUNK + 1
    assert echo.bodies == [], "the app must never finish reading a truncated body"


def test_a_body_within_the_limit_passes_whole(limit):
    echo = EchoApp()
    conv = Conversation(chunks=[b"x" * CHUNK] * 10).run(BodyLimitMiddleware(echo))
    assert conv.status == 200
    assert echo.bodies == [b"x" * LIMIT]
    declared = Conversation(declared=LIMIT, chunks=[b"y" * LIMIT]).run(BodyLimitMiddleware(echo))
    assert declared.status == 200 and echo.bodies[-1] == b"y" * LIMIT


def test_websockets_and_lifespan_pass_untouched(limit):
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    async_to_sync(BodyLimitMiddleware(app))({"type": "lifespan"}, None, None)
    assert seen == ["lifespan"]


# --- the real application: the middleware in front of Django -----------------------------


@pytest.mark.django_db
def test_django_app_declared_oversize_api_gets_the_error_shape(limit):
    conv = Conversation("/api/v1/me/", declared=LIMIT + 1, chunks=[b"{}"]).run(application)
    assert conv.status == 413 and conv.reads == 0
    assert conv.headers["content-type"] == "application/json"
    error = json.loads(conv.body)["error"]
    assert error["code"] == "payload_too_large"
    assert error["fields"] == {}
    assert error["message"]


@pytest.mark.django_db
def test_django_app_chunked_oversize_page_is_readable_in_the_request_language(limit):
    chunks = [b"x" * CHUNK] * 300
    conv = Conversation("/dashboard/members/import/", chunks=chunks).run(application)
    assert conv.status == 413
    assert conv.reads == LIMIT // CHUNK + 1
    assert conv.headers["content-type"].startswith("text/html")
    page = conv.body.decode()
    assert "请求内容过大" in page and 'lang="zh-hans"' in page

    english = Conversation("/login/", chunks=chunks, cookie="django_language=en").run(application)
    assert english.status == 413
    assert "The request is too large" in english.body.decode()


@pytest.mark.django_db
def test_django_app_normal_body_reaches_django(limit):
    conv = Conversation("/api/v1/me/", declared=2, chunks=[b"{}"]).run(application)
    # Django answered (anonymous: not logged in), so the request went through whole.
    assert conv.status == 403
    assert json.loads(conv.body)["error"]["code"] == "not_authenticated"
    assert conv.chunks_read == 1
