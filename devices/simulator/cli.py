"""The device simulator's command line: ``python -m devices.simulator <command> ...`` (the same as
``manage.py device_sim <command> ...``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime

from devices.simulator import images
from devices.simulator import state as state_file
from devices.simulator.device import (
    CLOSE_CODES,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    Closed,
    SimDevice,
    SimError,
    new_event_id,
    now_ms,
    pair,
)
from devices.simulator.swarm import Swarm, load_credentials

EPILOG = (
    "exit codes: 0 done; 1 error; 2 usage or state file; 3 server unreachable; 4 pairing code refused\n"
    + "\n".join(
        f"  close {code} → exit {exit_code}: {text}" for code, (exit_code, text) in CLOSE_CODES.items()
    )
)


def _say(text: str) -> None:
    print(text, flush=True)


def _short(payload: dict, limit: int = 300) -> str:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def frame_printer(verbose: bool, incoming: bool = True):
    """on_frame hook: the frames received (``incoming``), and (verbose) all frames both ways."""

    def show(direction: str, frame: dict) -> None:
        if not verbose and (direction == "out" or not incoming):
            return
        payload = dict(frame.get("payload") or {})
        if frame.get("type") == "identify" and "image" in payload:
            payload["image"] = f"<{len(payload['image'])} base64 chars>"
        if frame.get("type") == "hello":
            payload["auth"] = {"method": payload.get("auth", {}).get("method"), "signature": "…"}
        arrow = "->" if direction == "out" else "<-"
        _say(f"{arrow} {frame.get('type')} {frame.get('id')} {_short(payload)}")

    return show


def _device(state: dict, args, *, incoming: bool = False, **kwargs) -> SimDevice:
    return SimDevice(
        state["url"],
        state["device"],
        state["secret"],
        ws_path=state.get("websocket") or "/ws/device/",
        on_frame=frame_printer(getattr(args, "verbose", False), incoming),
        **kwargs,
    )


# --- commands ------------------------------------------------------------------------------------


def cmd_pair(args) -> int:
    answer = pair(args.url, args.code, app_version=args.app_version)
    state = {
        "url": args.url.rstrip("/"),
        "device": answer["device"],
        "secret": answer["secret"],
        "name": answer.get("name"),
        "kind": answer.get("kind"),
        "brand": answer.get("brand"),
        "store": answer.get("store"),
        "websocket": answer.get("websocket", "/ws/device/"),
        "protocol": answer.get("protocol"),
        "paired_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pending": [],
        "sent": [],
    }
    state_file.save(args.state, state)
    _say(
        f"paired: device {state['device']} ({state['name']}, {state['kind']}) of "
        f"{(state['brand'] or {}).get('name')} / {(state['store'] or {}).get('name')}; "
        f"credential saved in {args.state}"
    )
    return EXIT_OK


async def _replay(device: SimDevice, state: dict, path: str, *, again: bool = False) -> dict:
    """Upload the kept events (``again``: those already acknowledged, once more); what the server has
    is forgotten after each batch, so an interrupted replay sends nothing twice."""
    events = list(state["sent"] if again else state["pending"])
    if not events:
        _say("replay: nothing to send" + (" again" if again else " (no events kept)"))
        return {"sent": 0, "stored": 0, "duplicate": 0, "rejected": 0, "batches": 0}

    def forget(batch: list[dict], ack: dict) -> None:
        if not again:
            state_file.forget_acked(state, batch, ack)
            state_file.save(path, state)
        for r in ack.get("rejected", []):
            _say(f"replay: event {r['id']} rejected for good ({r['code']}), dropped")

    totals = await device.replay(events, chunk=200, on_chunk=forget)
    _say(
        f"replay: {totals['sent']} events in {totals['batches']} batches: {totals['stored']} stored, "
        f"{totals['duplicate']} duplicate, {totals['rejected']} rejected; "
        f"{len(state['pending'])} still kept"
    )
    return totals


async def cmd_run(args) -> int:
    state = state_file.load(args.state)
    until = time.monotonic() + args.duration if args.duration else None
    backoff = 1.0
    started = time.monotonic()
    while True:
        device = _device(state, args, incoming=True)
        try:
            welcome = (await device.start())["payload"]
            backoff = 1.0
            _say(
                f"online: {welcome['name']} ({welcome['kind']}) at {welcome['store']['name']}; "
                f"heartbeat every {welcome['heartbeat_interval']} s; clock skew {welcome['skew_ms']} ms"
            )
            if state["pending"] and not args.no_replay:
                await _replay(device, state, args.state)
            if args.fetch_staff:
                staff = await device.fetch("staff")
                _say(f"staff: {len(staff['staff'])} people (version {staff['version']})")
            await device.heartbeats(
                interval=args.heartbeat,
                until=until,
                payload=lambda: {
                    "pending_events": len(state["pending"]),
                    "uptime_s": int(time.monotonic() - started),
                },
            )
            await device.close()
            _say(f"done: {device.commands_answered} commands answered")
            return EXIT_OK
        except Closed as exc:
            await device.close()
            _say(str(exc))
            if exc.fatal or not args.reconnect:
                return exc.exit_code
        except SimError as exc:
            await device.close()
            _say(str(exc))
            if not args.reconnect:
                return exc.exit_code
        if until is not None and time.monotonic() + backoff >= until:
            return EXIT_OK
        delay = backoff * random.uniform(0.5, 1.5)
        _say(f"reconnecting in {delay:.1f} s")
        await asyncio.sleep(delay)
        backoff = min(backoff * 2, 60.0)


async def _one_shot(args, action) -> int:
    state = state_file.load(args.state)
    device = _device(state, args)
    await device.start()
    try:
        return await action(device, state)
    finally:
        await device.close()


def _punch_payload(args) -> dict:
    payload: dict = {"method": args.method}
    for key in ("staff", "employee_no", "pin", "card", "reason"):
        value = getattr(args, key)
        if value not in (None, ""):
            payload[key] = value
    return payload


def _answer_line(reply: dict) -> str:
    """An ack's status, or a checked answer: the result, who, when and what the screen shows."""
    if "result" not in reply:
        return reply.get("status", "?")
    who = (reply.get("staff") or {}).get("name")
    parts = [reply["result"]]
    if who:
        parts.append(who)
    if reply.get("time"):
        parts.append(reply["time"])
    if reply.get("door_opened"):
        parts.append("door opened")
    if reply.get("message"):
        parts.append(f"«{reply['message']}»")
    return " ".join(parts)


async def cmd_punch(args) -> int:
    # A face punch with a photo: the photo goes as an identify frame (any image file; big ones and
    # other formats are scaled down and sent as JPEG), refused before connecting if unreadable.
    prepared = images.prepare(args.photo) if args.photo else None

    async def action(device: SimDevice, state: dict) -> int:
        event_id = args.event_id or new_event_id("punch")
        if prepared is not None:
            b64, fmt, facts = prepared
            reply = await device.send_event(
                "identify", {"image": b64, "format": fmt, "purpose": args.purpose}, id=event_id
            )
            _say(f"punch {event_id} with {facts['file']}: {_answer_line(reply)}")
            return EXIT_OK
        reply = await device.send_event("punch", _punch_payload(args), id=event_id)
        _say(f"punch {reply['ref']}: {_answer_line(reply)}")
        return EXIT_OK

    return await _one_shot(args, action)


async def cmd_identify(args) -> int:
    prepared = [images.prepare(p) for p in args.images]  # refuse bad files before connecting

    async def action(device: SimDevice, state: dict) -> int:
        for b64, fmt, facts in prepared:
            reply = await device.send_event(
                "identify", {"image": b64, "format": fmt, "purpose": args.purpose}
            )
            size = "x".join(map(str, facts.get("size", []))) or "?"
            sent = f"{fmt}, {size}, {facts['sent_bytes']} bytes"
            _say(f"identify {facts['file']} ({sent}): {_answer_line(reply)}")
        return EXIT_OK

    return await _one_shot(args, action)


def cmd_offline(args) -> int:
    """Keep N punches as a device does while its link is down, each with its own time."""
    state = state_file.load(args.state)
    now = now_ms()
    for k in range(args.events):
        payload: dict = {"method": args.method}
        if args.employee_no:
            payload["employee_no"] = args.employee_no
        if args.pin:
            payload["pin"] = args.pin
        state["pending"].append(
            {
                "type": "punch",
                "id": new_event_id("off"),
                "ts": now - (args.events - 1 - k) * int(args.interval * 1000),
                "payload": payload,
            }
        )
    state_file.save(args.state, state)
    _say(f"offline: {args.events} punches kept; {len(state['pending'])} waiting for replay")
    return EXIT_OK


async def cmd_replay(args) -> int:
    state = state_file.load(args.state)
    if not args.again and not state["pending"]:
        _say("replay: nothing to send (no events kept)")
        return EXIT_OK

    async def action(device: SimDevice, _state: dict) -> int:
        totals = await _replay(device, state, args.state, again=args.again)
        if args.json:
            _say(json.dumps(totals))
        return EXIT_OK

    return await _one_shot(args, action)


async def cmd_swarm(args) -> int:
    creds = load_credentials(args.devices)
    if args.count:
        if args.count > len(creds):
            raise SimError(
                f"{args.devices} has {len(creds)} devices, fewer than --count {args.count}", EXIT_USAGE
            )
        creds = creds[: args.count]
    swarm = Swarm(args.url, creds, log=_say)
    report: dict = {"devices": len(creds)}
    try:
        swarm.interval = args.heartbeat
        report["connect"] = await swarm.connect_all(concurrency=args.concurrency, ramp=args.ramp)
        _say(f"connect: {_short(report['connect'])}")
        if args.punch:
            report["punch_before"] = await swarm.punch_all(lambda i: f"{args.punch}-{i}")
            _say(f"punch: {_short(report['punch_before'])}")
        if args.duration:
            report["heartbeat"] = await swarm.measure(args.duration)
            _say(f"heartbeat: {_short(report['heartbeat'])}")
        if args.storm is not None:
            report["storm"] = await swarm.storm(args.storm)
            _say(f"storm: {_short(report['storm'])}")
            if args.punch:
                report["punch_after"] = await swarm.punch_all(lambda i: f"{args.punch}-{i}")
                _say(f"punch again: {_short(report['punch_after'])}")
        if args.replay_devices:
            report["replay"] = await swarm.replay_all(args.replay_devices, args.replay_events)
            _say(f"replay: {_short(report['replay'])}")
    finally:
        await swarm.close_all()
    _say(json.dumps(report, ensure_ascii=False))
    return EXIT_OK


# --- parser --------------------------------------------------------------------------------------


def parser(prog: str = "python -m devices.simulator") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="A simulated store device (door or clock-in terminal) speaking the kiosk protocol.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="command")

    def with_state(sp):
        sp.add_argument("--state", required=True, help="the device's state file (written by pair)")
        sp.add_argument("-v", "--verbose", action="store_true", help="print the frames sent too")
        return sp

    sp = sub.add_parser("pair", help="exchange a pairing code for the device's id and secret")
    sp.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    sp.add_argument("--code", required=True, help="the pairing code shown in the console (ABCD-EFGH)")
    sp.add_argument("--state", required=True, help="where to keep the credential (JSON, mode 600)")
    sp.add_argument("--app-version", default="sim-1.0")

    sp = with_state(sub.add_parser("run", help="stay connected: heartbeat, print frames, answer commands"))
    sp.add_argument("--duration", type=float, default=0, help="seconds to run (default: until stopped)")
    sp.add_argument(
        "--heartbeat", type=float, default=None, help="seconds between heartbeats (default: the server's)"
    )
    sp.add_argument("--no-replay", action="store_true", help="do not upload kept events on connecting")
    sp.add_argument("--no-reconnect", dest="reconnect", action="store_false", help="exit when the link drops")
    sp.add_argument("--fetch-staff", action="store_true", help="fetch the staff list after connecting")

    sp = with_state(sub.add_parser("punch", help="send one punch and wait for its answer"))
    sp.add_argument(
        "--photo",
        metavar="FILE",
        help="punch by face: send this photo (any image file) for the server to identify",
    )
    sp.add_argument("--purpose", choices=["punch", "door"], default="punch", help="with --photo")
    sp.add_argument("--method", choices=["pin", "card", "face"], default="pin")
    sp.add_argument("--employee-no", dest="employee_no")
    sp.add_argument("--pin")
    sp.add_argument("--staff", type=int)
    sp.add_argument("--card")
    sp.add_argument("--reason")
    sp.add_argument("--event-id", help="the event's id (default: a new one)")

    sp = with_state(sub.add_parser("identify", help="send image files as identify frames"))
    sp.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG or PNG files (others converted)")
    sp.add_argument("--purpose", choices=["punch", "door"], default="punch")

    sp = with_state(sub.add_parser("offline", help="keep N punches locally, as while disconnected"))
    sp.add_argument("--events", type=int, required=True)
    sp.add_argument("--method", choices=["pin", "card", "face"], default="pin")
    sp.add_argument("--employee-no", dest="employee_no", default="")
    sp.add_argument("--pin", default="")
    sp.add_argument("--interval", type=float, default=1.0, help="seconds between the kept punches' times")

    sp = with_state(sub.add_parser("replay", help="reconnect and upload the kept events"))
    sp.add_argument("--again", action="store_true", help="send the last replayed events once more (as a "
                    "device that lost the acks would): the server answers duplicate")  # fmt: skip
    sp.add_argument("--json", action="store_true", help="print the totals as JSON too")

    sp = sub.add_parser("swarm", help="many devices in one process (load tests)")
    sp.add_argument("--url", required=True)
    sp.add_argument("--devices", required=True, help='JSON list or lines of {"device": uid, "secret": ...}')
    sp.add_argument("--count", type=int, default=0, help="how many of them (default: all)")
    sp.add_argument(
        "--heartbeat", type=float, default=None, help="seconds between heartbeats (default: the server's)"
    )
    sp.add_argument("--duration", type=float, default=60, help="seconds of heartbeats (0: none)")
    sp.add_argument("--concurrency", type=int, default=100, help="handshakes at once")
    sp.add_argument(
        "--ramp", type=float, default=0, help="spread the first connections over this many seconds"
    )
    sp.add_argument(
        "--punch",
        metavar="PREFIX",
        help="each device punches once with id PREFIX-<n> (and after the storm again)",
    )
    sp.add_argument(
        "--storm", type=float, metavar="SECONDS", help="then drop all and reconnect within SECONDS"
    )
    sp.add_argument("--replay-devices", type=int, default=0)
    sp.add_argument("--replay-events", type=int, default=500)
    return p


COMMANDS = {
    "pair": cmd_pair,
    "run": cmd_run,
    "punch": cmd_punch,
    "identify": cmd_identify,
    "offline": cmd_offline,
    "replay": cmd_replay,
    "swarm": cmd_swarm,
}


def main(argv: list[str] | None = None, prog: str = "python -m devices.simulator") -> int:
    args = parser(prog).parse_args(argv)
    command = COMMANDS[args.command]
    try:
        result = command(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return result
    except SimError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # an unexpected failure: one line, not a traceback, for the operator
        print(f"{args.command}: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return EXIT_ERROR
