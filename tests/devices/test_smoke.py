import pytest
from asgiref.sync import async_to_sync

from tests.helpers.devices import Device, make_device

pytestmark = pytest.mark.django_db(transaction=True)


def test_pair_hello_heartbeat_event(brand, brand_admin, store):
    device, secret = make_device(brand, brand_admin, store)

    async def run():
        d = Device(str(device.uid), secret)
        await d.connect()
        welcome = await d.hello()
        assert welcome["type"] == "welcome", welcome
        await d.send("heartbeat", {}, id="hb1")
        ack = await d.receive()
        assert ack["payload"] == {"ref": "hb1", "status": "ok", "server_time": ack["payload"]["server_time"]}
        await d.send("punch", {"method": "pin", "staff": 1, "pin": "1234"}, id="p1")
        assert (await d.receive())["payload"]["status"] == "stored"
        await d.send("punch", {"method": "pin", "staff": 1, "pin": "1234"}, id="p1")
        assert (await d.receive())["payload"]["status"] == "duplicate"
        await d.comm.disconnect()

    async_to_sync(run)()
