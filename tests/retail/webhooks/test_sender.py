"""Webhooks cannot be pointed at our own network (SSRF): private, loopback, link-local, multicast,
reserved and unspecified addresses are refused, IPv6 and IPv4 wrapped in IPv6 too, whether the
URL names the address or a host name resolving to it, when the endpoint is saved and again at
every send; only http(s), https alone in production."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from retail.events import Actor
from retail.tenancy import brand_scope
from retail.webhooks import engine, services
from retail.webhooks.models import WebhookDelivery
from retail.webhooks.sender import Sender, address_is_public, parse_url, validate_url
from tests.helpers.commission import committed
from tests.helpers.partners import make_app
from tests.helpers.webhook_receiver import Receiver

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2001:db8::1",  # documentation
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "203.0.114.9", "2001:4860:4860::8888", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address):
    assert not address_is_public(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert address_is_public(address)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/",
        "https://localhost/hook",
        "https://localhost:8443/hook",
        "https://2130706433/",  # 127.0.0.1 as one number
    ],
)
def test_private_urls_are_refused_when_saved_in_production(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(ValidationError):
        validate_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "gopher://example.com/",
        "javascript:alert(1)",
        "https://user:pass@example.com/",
        "https:///nohost",
        "https://exa mple.com/",
        "https://example.com:99999/",
        "https://[::1/",
        "https://" + "a" * 500 + ".com/",
        "",
    ],
)
def test_malformed_urls_are_refused(url):
    with pytest.raises(ValidationError):
        validate_url(url)


def test_plain_http_only_where_private_networks_are_allowed(settings):
    assert parse_url("http://127.0.0.1:8080/x", allow_private=True).port == 8080
    with pytest.raises(ValidationError):
        parse_url("http://203.0.113.5/x", allow_private=False)
    target = parse_url("https://203.0.113.5:8443/hooks?a=1", allow_private=False)
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "203.0.113.5",
        8443,
        "/hooks?a=1",
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_sender_refuses_a_private_address_at_send_time(settings, host):
    """A name resolving to 127.0.0.1 (localhost) is refused after resolution: nothing is sent."""
    with Receiver() as receiver:
        settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
        assert Sender(receiver.url).post(b"{}", {"Content-Type": "application/json"}).status == 200
        settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
        url = receiver.url.replace("127.0.0.1", host).replace("http://", "https://")
        sender = Sender(url)
        answer = sender.post(b"{}", {"Content-Type": "application/json"})
        assert answer.status is None and answer.error.startswith("address refused")
        assert len(receiver.received) == 1


@pytest.mark.django_db
def test_an_endpoint_saved_while_allowed_is_refused_at_send_time_when_not(brand, brand_admin, settings):
    app, _s = make_app(brand, brand_admin, scopes=["webhooks:manage"])
    with Receiver() as receiver:
        endpoint, _secret = services.endpoint_create(
            brand=brand, actor=Actor.system(), app=app, url=receiver.url, event_types=["order.paid"]
        )
        settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
        services.send_test_event(endpoint=endpoint, actor=Actor.system())
        with committed():
            engine.deliver_endpoint(brand_id=brand.pk, endpoint_id=endpoint.pk)
        assert receiver.received == []
    with brand_scope(brand):
        delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.last_error.startswith("address refused")
