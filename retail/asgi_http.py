"""Django's ASGI handler, serving each process's synchronous work on one long-lived thread.

Django's own handler gives every request a fresh thread (asgiref's ThreadSensitiveContext), and
database connections belong to threads, so each request would open a new PostgreSQL connection
(a process fork on the server) and CONN_MAX_AGE could never apply. Here the synchronous part of
every request runs on the process's single sync thread, exactly like a synchronous worker, so
the connection is reused. Concurrency comes from running several worker processes
(uvicorn --workers); the event loop still handles slow clients and websockets.

``BodyLimitMiddleware`` wraps it (retail.asgi): oversized bodies are refused before they are read.
"""

from django.core.handlers.asgi import ASGIHandler


class SerialSyncASGIHandler(ASGIHandler):
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)


def get_asgi_application() -> SerialSyncASGIHandler:
    import django

    django.setup(set_prefix=False)
    return SerialSyncASGIHandler()


class BodyTooLarge(Exception):
    """Raised from the counting ``receive`` once a body passes the limit: the app stops reading."""


class BodyLimitMiddleware:
    """Refuse HTTP request bodies over REQUEST_BODY_MAX_BYTES before they are read or spooled.

    A declared Content-Length over the limit is answered 413 at once, without reading any of
    the body. A chunked (or undeclared) body is counted as it arrives; once it passes the limit
    reading stops, the app is abandoned before it sees a request (Django reads the whole body
    before it builds one), and the 413 is sent. The connection is closed after the answer, so
    the rest of the body is never read. Django's BodySizeLimitMiddleware stays as the check
    under WSGI.
    """

    def __init__(self, app, max_bytes: int | None = None):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from django.conf import settings

        limit = self.max_bytes if self.max_bytes is not None else settings.REQUEST_BODY_MAX_BYTES
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            return await send_payload_too_large(scope, send)

        received = 0
        started = False

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def watching_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if not started:
                await send_payload_too_large(scope, send)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _language(scope) -> str:
    """The request's language: the language cookie if it names one we have, else the default."""
    from django.conf import settings
    from django.http import parse_cookie

    cookie = _header(scope, b"cookie")
    lang = parse_cookie(cookie).get(settings.LANGUAGE_COOKIE_NAME) if cookie else None
    return lang if lang in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


async def send_payload_too_large(scope, send) -> None:
    """413: the API's error shape under /api/, a short page in the request's language elsewhere."""
    import json

    from django.utils import translation
    from django.utils.html import escape
    from django.utils.translation import gettext

    lang = _language(scope)
    with translation.override(lang):
        title = gettext("The request is too large")
        message = gettext("The data sent is larger than this site accepts. Send less at a time.")
        back = gettext("Back to home")
    if scope.get("path", "").startswith("/api/"):
        error = {"code": "payload_too_large", "message": message, "fields": {}}
        body = json.dumps({"error": error}, ensure_ascii=False).encode()
        content_type = b"application/json"
    else:
        body = (
            f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title></head><body><main>"
            f"<h1>{escape(title)}</h1><p>{escape(message)}</p>"
            f'<p><a href="/">{escape(back)}</a></p></main></body></html>'
        ).encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"content-language", lang.encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
