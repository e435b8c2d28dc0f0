"""Django's ASGI handler, serving each process's synchronous work on one long-lived thread.

Django's own handler gives every request a fresh thread (asgiref's ThreadSensitiveContext), and
database connections belong to threads, so each request would open a new PostgreSQL connection
(a process fork on the server) and CONN_MAX_AGE could never apply. Here the synchronous part of
every request runs on the process's single sync thread, exactly like a synchronous worker, so
the connection is reused. Concurrency comes from running several worker processes
(uvicorn --workers); the event loop still handles slow clients and websockets.
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
