"""Count the SQL queries each benchmarked request makes, at two page sizes, to show the count
does not grow with the page (no N+1). Uses Django's test client in-process against the
benchmark database with the sessions bench/seed.py created.

    python bench/queries.py '{"brand_admin": "<session key>", "guide": "...", ...}'

Prints a JSON list on stdout.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retail.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

CASES = [
    ("brand_admin", "/api/v1/staff/?page_size=50"),
    ("brand_admin", "/api/v1/staff/?page_size=200"),
    ("store_manager", "/api/v1/staff/?page_size=50"),
    ("store_manager", "/api/v1/staff/?page_size=200"),
    ("brand_admin", "/api/v1/stores/?page_size=50"),
    ("brand_admin", "/api/v1/stores/?page_size=200"),
    ("guide", "/m/"),
    ("brand_admin", "/dashboard/staff/"),
    ("brand_admin", "/dashboard/staff/?page=40"),
]


def measure(session_key: str, path: str) -> dict:
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    client.get(path)  # warm caches (templates, permissions) so the count is the steady state
    with CaptureQueriesContext(connection) as ctx:
        try:
            response = client.get(path)
            status, error = response.status_code, ""
            if status == 200 and path.startswith("/api/"):
                body = response.json()
                rows = len(body.get("results", []))
            else:
                rows = None
        except Exception as exc:  # a page whose template has not landed yet, say
            status, error, rows = 500, f"{type(exc).__name__}: {exc}"[:200], None
    return {"path": path, "status": status, "queries": len(ctx), "rows": rows, "error": error}


def main() -> None:
    sessions = json.loads(sys.argv[1])
    out = []
    for role, path in CASES:
        result = measure(sessions[role], path)
        result["as"] = role
        out.append(result)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
