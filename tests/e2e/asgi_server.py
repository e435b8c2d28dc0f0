"""The whole ASGI application (HTTP and websockets) served by uvicorn on a thread of the test
process, for browser tests that need the websockets pytest-django's (WSGI) live server lacks.

It runs in the test process, so it shares the test database, the settings the test changed and
the channel layer's configuration; the test's own writes must be committed (transactional_db)
to be seen. Every database connection the server opened is closed when it stops, so the test
database can be flushed and dropped."""

from __future__ import annotations

import asyncio
import socket
import threading

from tests.helpers.waiting import wait_until


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AsgiServer:
    def __init__(self, host: str = "127.0.0.1"):
        import uvicorn

        from retail.asgi import application

        self.host = host
        self.port = _free_port()
        config = uvicorn.Config(
            application,
            host=host,
            port=self.port,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="asgi-live-server", daemon=True)
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start() or stop()
            self.error = exc

    async def _serve(self) -> None:
        from asgiref.sync import sync_to_async
        from django.db import connections

        try:
            await self.server.serve()
        finally:
            # Django's synchronous work (requests, the consumer's database calls) ran on asgiref's
            # one thread-sensitive executor thread: close its connections there.
            await sync_to_async(connections.close_all, thread_sensitive=True)()

    def start(self) -> AsgiServer:
        self.thread.start()
        wait_until(lambda: self.server.started or self.error or not self.thread.is_alive(), 20, "uvicorn")
        if not self.server.started:
            raise RuntimeError(f"the ASGI server did not start: {self.error!r}")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(5)
