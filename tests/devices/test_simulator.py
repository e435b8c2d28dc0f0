"""The device simulator against a real ASGI server (uvicorn in a subprocess, on the test database):
pairing, hello and heartbeats, a punch, offline events replayed exactly once, identify, commands,
and a wrong secret refused with its exit code and message."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.db import connection

from devices import protocol, services
from devices.models import Device, DeviceCommand, DeviceEvent
from devices.simulator import SimDevice, hello_signature
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.attendance.kiosk_helpers import enroll
from tests.factories import StaffFactory
from tests.helpers.devices import make_device
from tests.helpers.faces import FACES
from tests.helpers.sandbox import WORKER

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """uvicorn serving retail.asgi on a free port, on this run's test database."""
    name = django_settings.DATABASES["default"]["NAME"]
    env = {
        **os.environ,
        "DATABASE_URL": urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}").geturl(),
        "DJANGO_ENV": "development",
        "LOG_LEVEL": "WARNING",
        "DEVICE_SEEN_WRITE_SECONDS": "3600",
    }
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "retail.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--lifespan", "off", "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the ASGI server did not start")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


@pytest.fixture
def server_channel_layer(settings):
    """The server process's channel-layer prefix (no pytest-xdist worker suffix), so commands sent
    from this test reach its connections."""
    layers = json.loads(json.dumps(settings.CHANNEL_LAYERS))
    config = layers["default"].get("CONFIG", {})
    if WORKER and "prefix" in config:
        config["prefix"] = config["prefix"].removesuffix(f":{WORKER}")
    settings.CHANNEL_LAYERS = layers


def sim(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devices.simulator", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def events(brand, device, **filters):
    with brand_scope(brand):
        return list(DeviceEvent.objects.for_brand(brand).filter(device=device, **filters))


@pytest.fixture
def paired(server, brand, brand_admin, store, tmp_path):
    """A device registered in the console and paired by the simulator: (device, state file)."""
    device, code = make_device(brand, brand_admin, store, pair=False)
    state = tmp_path / "dev.json"
    done = sim("pair", "--url", server, "--code", code, "--state", str(state))
    assert done.returncode == 0, done.stderr
    assert "paired: device" in done.stdout
    return device, state


def test_pair_punch_offline_replay_identify(paired, brand, tmp_path):
    device, state = paired
    kept = json.loads(state.read_text())
    assert kept["device"] == str(device.uid) and kept["secret"]
    assert stat.S_IMODE(state.stat().st_mode) == 0o600  # it holds the secret

    done = sim("punch", "--state", str(state), "--method", "pin", "--employee-no", "E001", "--pin", "1234")
    assert done.returncode == 0, done.stderr
    # The server checks the PIN (settings.DEVICE_EVENT_HANDLER): no staff E001 in this store.
    assert "unknown_staff" in done.stdout, done.stdout
    (punch,) = events(brand, device, type="punch")
    assert punch.payload == {
        "method": "pin",
        "employee_no": "E001",
        "pin_given": True,
        "result": "unknown_staff",
        "punch": False,
    }

    assert sim("offline", "--state", str(state), "--events", "5").returncode == 0
    assert len(json.loads(state.read_text())["pending"]) == 5
    done = sim("replay", "--state", str(state))
    assert done.returncode == 0, done.stderr
    assert "5 stored, 0 duplicate" in done.stdout
    assert len(events(brand, device, offline=True)) == 5
    assert json.loads(state.read_text())["pending"] == []

    done = sim("replay", "--state", str(state))  # a re-run sends nothing twice
    assert done.returncode == 0 and "nothing to send" in done.stdout
    done = sim("replay", "--state", str(state), "--again")  # the same ids again: duplicates
    assert done.returncode == 0, done.stderr
    assert "0 stored, 5 duplicate" in done.stdout
    assert len(events(brand, device, offline=True)) == 5

    from PIL import Image

    big = tmp_path / "face.png"
    Image.new("RGB", (1280, 960), (180, 120, 90)).save(big)
    done = sim("identify", "--state", str(state), str(big))
    assert done.returncode == 0, done.stderr
    assert "(jpeg, 640x480" in done.stdout and ": bad_frame" in done.stdout  # no face in it
    (identify,) = events(brand, device, type="identify")
    assert identify.payload["format"] == "jpeg" and identify.payload["bytes"] > 0
    assert "image" not in identify.payload


@pytest.mark.skipif(not FACES.is_dir(), reason="the face photos (../shared/faces) are not here")
def test_punch_with_a_photo_is_recognised_by_name(paired, brand, brand_admin, store):
    """``punch --photo FILE``: any photo file, sent as an identify frame; the server names the
    person enrolled with another photo of the same face."""
    device, state = paired
    person = StaffFactory(brand=brand, stores=[store], name="奥巴马")
    enroll(brand, brand_admin, person, "obama.jpg")
    done = sim("punch", "--state", str(state), "--photo", str(FACES / "obama2.jpg"))
    assert done.returncode == 0, done.stderr
    assert "奥巴马" in done.stdout and ("granted" in done.stdout or "punched" in done.stdout), done.stdout
    done = sim("punch", "--state", str(state), "--photo", str(FACES / "biden.jpg"))
    assert done.returncode == 0 and ": unknown" in done.stdout and "未识别" in done.stdout, done.stdout
    (identify, _other) = events(brand, device, type="identify")
    assert "image" not in identify.payload
    done = sim("punch", "--state", str(state), "--photo", str(FACES / "missing.jpg"))
    assert done.returncode == 2 and "cannot read" in done.stdout + done.stderr


def test_library_hello_heartbeat_and_commands(paired, brand, brand_admin, server_channel_layer):
    device, state = paired
    kept = json.loads(state.read_text())
    assert hello_signature(secret="s", nonce="ab", device_uid="u", ts=1) == services.hello_signature(
        secret="s", nonce="ab", device_uid="u", ts=1
    )
    seen = []

    def check(direction, frame):
        if direction == "in":
            protocol.check_server(frame)  # every frame the server sent matches its schema
            seen.append(frame["type"])

    async def device_side():
        d = SimDevice(kept["url"], kept["device"], kept["secret"], on_frame=check)
        welcome = (await d.start())["payload"]
        assert welcome["device"] == str(device.uid) and welcome["heartbeat_interval"] == 10
        assert await d.heartbeat() > 0
        # Idle past the channel layer's 5 s Redis poll: the socket stays open.
        assert await d.wait_closed(7) is None
        assert await d.heartbeat() > 0
        staff = await d.fetch("staff")
        assert staff["staff"] == []
        # The console opens the door (after commit, through the channel layer).
        await asyncio.to_thread(open_door)
        frame = await d.next_frame(timeout=10)
        assert frame["type"] == "open_door"
        for _ in range(50):  # the answer and the door event are sent by the device on its own
            if d.commands_answered:
                break
            await asyncio.sleep(0.1)
        await d.close()
        return frame["id"]

    def open_door():
        try:
            with brand_scope(brand):
                live = Device.objects.for_brand(brand).get(pk=device.pk)
            assert live.status == Device.Status.ONLINE and live.connection
            services.door_open_remote(brand=brand, manager=brand_admin, actor=Actor.system(), device=live)
        finally:
            connection.close()  # this thread's own connection

    command_id = asyncio.run(device_side())
    assert {"challenge", "welcome", "ack", "staff_list", "open_door"} <= set(seen)
    with brand_scope(brand):
        command = DeviceCommand.objects.for_brand(brand).get(uid=command_id)
    assert command.status == DeviceCommand.Status.DONE
    (opened,) = events(brand, device, type="door_opened")
    assert opened.payload == {"method": "remote", "command": command_id}


def test_wrong_secret_exits_with_the_auth_message(paired, tmp_path):
    _device, state = paired
    kept = json.loads(state.read_text())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**kept, "secret": "not-the-secret"}))
    done = sim("punch", "--state", str(bad), "--method", "pin", "--pin", "1234")
    assert done.returncode == 5
    assert "4401" in done.stderr and "authentication failed" in done.stderr


def test_unreachable_server_and_missing_state(tmp_path):
    done = sim("pair", "--url", f"http://127.0.0.1:{_free_port()}", "--code", "ABCD-EFGH",
               "--state", str(tmp_path / "x.json"))  # fmt: skip
    assert done.returncode == 3 and "cannot reach" in done.stderr
    done = sim("run", "--state", str(tmp_path / "missing.json"))
    assert done.returncode == 2 and "pair the device first" in done.stderr
