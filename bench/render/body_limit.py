# ruff: noqa: E501
"""The request body limit section of docs/benchmarks.md."""

from __future__ import annotations

from bench.render.common import MARKERS


def render(r: dict) -> str:
    m = r["machine"]
    lines = [
        f"{'chunked' if p['chunked'] else 'declared Content-Length':>24}: {p['status']} after {p['sent_mib']:.1f} "
        f"MiB sent; connection closed: {p['closed']}"
        for p in r["probes"]
    ]
    return f"""{MARKERS["body_limit"]}

## Request body limit

Measured {m["date"]} on {m["nproc"]} CPUs ({m["cpu"]}; Python {m["python"]}, uvicorn {m["uvicorn"]}, the
embedded default). `python -m bench body_limit` (not part of `make bench`) starts uvicorn with the
embedded default and offers a {r["total_bytes"] / 2**20:.0f} MiB body to `/api/v1/me/`, once with a
declared `Content-Length` and once chunked:

```
REQUEST_BODY_MAX_BYTES = {r["limit_bytes"] / 2**20:.0f} MiB, body offered: {r["total_bytes"] / 2**20:.0f} MiB
{chr(10).join(lines)}
```

A declared oversize body is refused as soon as its headers arrive (what is sent first is the
client racing the answer); a chunked one is read up to the limit, then refused and the
connection closed, so the rest is never read.
"""
