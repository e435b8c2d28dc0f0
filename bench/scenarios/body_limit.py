"""How much of an oversized request body a real uvicorn server reads before it answers 413.

Starts `uvicorn retail.asgi:application` on a free local port (the embedded default: SQLite, no
Redis), sends a 300 MiB body twice, once with a declared Content-Length and once chunked, and
records how many bytes had been sent when the 413 came back and whether the server closed the
connection. Not part of `make bench`: `python -m bench body_limit`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time

from bench.harness.machine import machine_info
from bench.harness.proc import PY, ROOT, log
from bench.harness.runs import Run
from bench.harness.servers import stop_group

TOTAL = 300 * 1024 * 1024
CHUNK = 64 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _probe(port: int, *, chunked: bool, path: str = "/api/v1/me/") -> tuple[float, bytes, bool]:
    """(MiB sent before the answer, status line, connection closed after it)."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {TOTAL}\r\n\r\n"
    sock.sendall(head.encode())
    data = b"x" * CHUNK
    piece = f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data
    sent, answer = 0, b""
    sock.settimeout(0.001)
    while sent < TOTAL and not answer:
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(data)
        with contextlib.suppress(TimeoutError):
            answer = sock.recv(65536)
    sock.settimeout(5)
    closed = False
    try:
        while True:
            more = sock.recv(65536)
            if not more:
                closed = True
                break
            answer += more
    except (TimeoutError, ConnectionResetError):
        closed = True
    sock.close()
    return sent / 2**20, answer.split(b"\r\n", 1)[0], closed


STEPS: dict = {}


def run(run: Run) -> dict:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DJANGO_SETTINGS_MODULE"] = "retail.settings"
    cmd = [PY, "-m", "uvicorn", "retail.asgi:application", "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    probes = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        limit = int(os.environ.get("REQUEST_BODY_MAX_BYTES", 55 * 1024 * 1024))
        for chunked in (False, True):
            mib, status, closed = _probe(port, chunked=chunked)
            probes.append(
                {"chunked": chunked, "sent_mib": round(mib, 1), "status": status.decode(), "closed": closed}
            )
            kind = "chunked" if chunked else "declared Content-Length"
            log(f"{kind}: {status.decode()} after {mib:.1f} MiB sent; "
                f"connection closed: {closed}")  # fmt: skip
    finally:
        stop_group(server, timeout=10)
    m = machine_info({}, "not used")
    return run.finish({"machine": m, "limit_bytes": limit, "total_bytes": TOTAL, "probes": probes})
