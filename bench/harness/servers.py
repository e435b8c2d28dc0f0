"""The uvicorn server under test (2 workers on 127.0.0.1:8001, its own process group) and
plain HTTP clients for it."""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shlex
import signal
import string
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.harness.proc import PY, ROOT, log

HOST, PORT = "127.0.0.1", 8001
BASE = f"http://{HOST}:{PORT}"
APP = "retail.asgi:application"


def server_cmd(app: str = APP) -> list[str]:
    return [PY, "-m", "uvicorn", app, "--host", HOST, "--port", str(PORT), "--workers", "2",
            "--lifespan", "off", "--no-access-log", "--log-level", "warning"]  # fmt: skip


def server_cmd_text(app: str = APP) -> str:
    return " ".join(shlex.quote(c) for c in server_cmd(app)).replace(PY, "python")


def http_status(path: str, session: str | None) -> int:
    req = urllib.request.Request(BASE + path)
    if session:
        req.add_header("Cookie", f"sessionid={session}")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def stop_group(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM to the process group we started (a server or a worker: the master and its
    children), bounded; SIGKILL after ``timeout``."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def start_server(env: dict, logfile: Path | None = None, app: str = APP) -> subprocess.Popen:
    """uvicorn in its own process group (see stop_group()), up when /healthz answers 200; its
    output goes to ``logfile`` if given, else to ours."""
    cmd = server_cmd(app)
    log("$ " + " ".join(cmd) + (f" > {logfile} 2>&1" if logfile else ""))
    out = logfile.open("w") if logfile else None
    server = subprocess.Popen(
        cmd, cwd=ROOT, env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT if out else None
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit(f"bench: uvicorn exited with {server.returncode}")
            try:
                if http_status("/healthz", None) == 200:
                    return server
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("bench: uvicorn did not answer /healthz within 60s")
            time.sleep(0.5)
    except BaseException:
        stop_group(server)
        raise


def worker_connections(workers: int = 2) -> list[int]:
    """Established client connections held by each server process (``ss -tnp``), most first,
    padded to ``workers``: how the workers' shared listening socket split the clients."""
    try:
        out = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{PORT} )"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    counts: dict[str, int] = {}
    for pid in re.findall(r"pid=(\d+)", out):
        counts[pid] = counts.get(pid, 0) + 1
    split = sorted(counts.values(), reverse=True)
    return split + [0] * (workers - len(split))


def csrf_secret() -> str:
    """A CSRF cookie value Django accepts (32 letters/digits); the header repeats it."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


def session_headers(session: str, csrf: str) -> dict:
    return {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf}


def request(
    method: str, path: str, headers: dict, body: dict | bytes | None = None, timeout: float = 60
) -> tuple[int, dict, dict, float]:
    """One HTTP request on its own connection; (status, JSON body, headers by lower-case name,
    seconds from sending until the answer was read)."""
    conn = http.client.HTTPConnection(HOST, PORT, timeout=timeout)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    hdrs = dict(headers)
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    t0 = time.monotonic()
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        seconds = time.monotonic() - t0
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"raw": raw[:300].decode(errors="replace")}
        return resp.status, payload, {k.lower(): v for k, v in resp.getheaders()}, seconds
    finally:
        conn.close()
