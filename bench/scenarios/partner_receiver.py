"""The webhook receiver of the partner benchmark: a small asyncio HTTP/1.1 server (keep-alive,
no framework, no Django) that answers every POST with 204 at once and records, per port, each
delivery's arrival time and its ``Retail-Event-Id``.

``python -m bench.scenarios.partner_receiver <out.json> <port> [<port> ...]`` listens on the
ports of 127.0.0.1; ``GET /stats`` answers the counts so far (deliveries and distinct events per
port); SIGTERM writes every arrival to ``out.json`` (``{port: [[event id, unix time], ...]}``) and
exits.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

arrivals: dict[int, list[tuple[str, float]]] = {}
distinct: dict[int, set[str]] = {}


async def handle(port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            now = time.time()
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                if k:
                    headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", 0) or 0)
            if length:
                await reader.readexactly(length)
            if method == "GET" and path == "/stats":
                body = json.dumps(
                    {
                        str(p): {"deliveries": len(arrivals.get(p, [])), "events": len(distinct.get(p, ()))}
                        for p in arrivals
                    }
                ).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
            else:
                event = headers.get("retail-event-id", "")
                arrivals[port].append((event, now))
                distinct[port].add(event)
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main(out: str, ports: list[int]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    servers = []
    for port in ports:
        arrivals[port], distinct[port] = [], set()
        servers.append(
            await asyncio.start_server(
                lambda r, w, p=port: handle(p, r, w), "127.0.0.1", port, reuse_address=True
            )
        )
    print(f"receiver listening on {ports}", flush=True)
    await stop.wait()
    for s in servers:
        s.close()
    with open(out, "w") as fh:
        json.dump({str(p): a for p, a in arrivals.items()}, fh)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], [int(p) for p in sys.argv[2:]]))
