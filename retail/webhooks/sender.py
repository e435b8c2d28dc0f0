"""Posting webhook requests without opening a door into our own network (SSRF).

* Only ``http``/``https`` URLs, no user name or password in them; https only unless
  ``settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS`` (development and tests).
* The host name is resolved once per ``Sender`` and every address it resolves to must be public:
  private, loopback, link-local, multicast, reserved, unspecified and shared (CGNAT) addresses are
  refused, for IPv6 too, including IPv4 addresses wrapped in IPv6 (mapped, 6to4, Teredo, NAT64).
* The connection goes to that checked address (pinned: a second DNS answer cannot send it
  elsewhere), with the name as TLS SNI, certificate host name and ``Host`` header.
* No redirects (a 3xx is an answer like any other, and not a success), no retries, connect and
  read timeouts plus a bound on the whole answer, and at most ``RESPONSE_READ_LIMIT`` bytes read.
* One keep-alive connection per sender, reused for every request to the endpoint.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_URL_LENGTH = 500
# Bytes of an answer read at most (what is kept in the attempt log is shorter still).
RESPONSE_READ_LIMIT = 64 * 1024
RESPONSE_HEADERS_KEPT = 50

NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def private_networks_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_NETWORKS", False))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    # IPv4-compatible (deprecated ::a.b.c.d): reserved anyway, but name the address inside.
    if int(ip) >> 32 == 0 and int(ip) > 1:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def address_is_public(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether webhooks may connect to this address when private networks are not allowed."""
    try:
        ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner and not all(address_is_public(v4) for v4 in inner):
            return False
        if ip.ipv4_mapped is not None:
            return True  # judged by the IPv4 address it wraps
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name (or literal address) as written, IDNA-encoded
    port: int
    path: str  # path and query

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str, *, allow_private: bool | None = None) -> Target:
    """The parts of a webhook URL, or ValidationError saying what is wrong with it (in words)."""
    allow_private = private_networks_allowed() if allow_private is None else allow_private
    if not isinstance(url, str) or not url.strip():
        raise ValidationError(_("Enter the URL of the endpoint."), code="invalid_url")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(
            _("The URL is too long (at most %(max)d characters).") % {"max": MAX_URL_LENGTH},
            code="invalid_url",
        )
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise ValidationError(_("The URL may not contain spaces or control characters."), code="invalid_url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError(_("This is not a valid URL."), code="invalid_url") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValidationError(_("The URL must start with https:// (or http://)."), code="invalid_url")
    if scheme == "http" and not allow_private:
        raise ValidationError(_("The URL must use https."), code="invalid_url")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(_("The URL may not contain a user name or password."), code="invalid_url")
    if parts.fragment:
        raise ValidationError(_("The URL may not contain a fragment (#…)."), code="invalid_url")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValidationError(_("The URL has no host name."), code="invalid_url")
    try:
        host = host.encode("idna").decode("ascii") if not _is_ip(host) else host
    except UnicodeError:
        raise ValidationError(_("The host name is not valid."), code="invalid_url") from None
    if port == 0:
        raise ValidationError(_("This is not a valid URL."), code="invalid_url")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), path=path)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def resolve(target: Target, *, allow_private: bool | None = None) -> str:
    """The address to connect to: the first the name resolves to, every one of them checked."""
    allow_private = private_networks_allowed() if allow_private is None else allow_private
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(f"cannot resolve {target.host}: {exc}") from exc
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise AddressRefused(f"cannot resolve {target.host}")
    if not allow_private:
        bad = [a for a in addresses if not address_is_public(a)]
        if bad:
            raise AddressRefused(f"{target.host} resolves to a non-public address ({bad[0]})")
    return addresses[0]


def validate_url(url: str) -> str:
    """A webhook URL as stored, or ValidationError: for the endpoint services.

    Refuses a literal or resolved address webhooks may not reach (unless private networks are
    allowed); a name that does not resolve yet is accepted (it is checked again at every send)."""
    allow_private = private_networks_allowed()
    target = parse_url(url, allow_private=allow_private)
    if not allow_private:
        if _is_ip(target.host):
            if not address_is_public(target.host):
                raise ValidationError(
                    _("The URL points to a private or reserved address."), code="invalid_url"
                )
        elif target.host == "localhost" or target.host.endswith((".localhost", ".local", ".internal")):
            raise ValidationError(_("The URL points to a private or reserved address."), code="invalid_url")
        else:
            try:
                resolve(target, allow_private=False)
            except AddressRefused as exc:
                if "non-public" in str(exc):
                    raise ValidationError(
                        _("The URL points to a private or reserved address."), code="invalid_url"
                    ) from None
    return url.strip()


@dataclass
class Answer:
    """What one request got: an HTTP status, or an error (no answer)."""

    status: int | None = None
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    error: str = ""
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and not self.error


def _timeouts() -> tuple[float, float, float]:
    return (
        float(getattr(settings, "WEBHOOK_CONNECT_TIMEOUT", 3.0)),
        float(getattr(settings, "WEBHOOK_READ_TIMEOUT", 5.0)),
        float(getattr(settings, "WEBHOOK_TOTAL_TIMEOUT", 10.0)),
    )


class Sender:
    """Posts to one endpoint URL over one pinned keep-alive connection (``close()`` when done)."""

    def __init__(self, url: str):
        self.url = url
        self._target: Target | None = None
        self._pool: urllib3.HTTPConnectionPool | None = None

    def _connect(self) -> urllib3.HTTPConnectionPool:
        if self._pool is not None:
            return self._pool
        allow_private = private_networks_allowed()
        try:
            target = parse_url(self.url, allow_private=allow_private)
        except ValidationError as exc:
            raise AddressRefused(" ".join(str(m) for m in exc.messages)) from None
        ip = resolve(target, allow_private=allow_private)
        connect, read, _total = _timeouts()
        timeout = urllib3.Timeout(connect=connect, read=read)
        common = {"port": target.port, "maxsize": 1, "block": False, "timeout": timeout, "retries": False}
        if target.scheme == "https":
            self._pool = urllib3.HTTPSConnectionPool(
                ip,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
                assert_hostname=target.host,
                server_hostname=target.host,
                **common,
            )
        else:
            self._pool = urllib3.HTTPConnectionPool(ip, **common)
        self._target = target
        return self._pool

    def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.monotonic()
        answer = Answer()
        try:
            pool = self._connect()
            assert self._target is not None
            _connect, _read, total = _timeouts()
            response = pool.urlopen(
                "POST",
                self._target.path,
                body=body,
                headers={**headers, "Host": self._target.host_header},
                redirect=False,
                retries=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
            )
            end = "error"
            try:
                answer.status = response.status
                answer.headers = dict(list(response.headers.items())[:RESPONSE_HEADERS_KEPT])
                answer.body, end = _read_capped(response, deadline=started + total)
            finally:
                if end != "complete":  # cut short: this connection cannot be reused
                    response.close()
                response.release_conn()
            if end == "too_slow":
                answer.error = "the answer took too long"
        except AddressRefused as exc:
            answer.error = f"address refused: {exc}"[:300]
        # Refused or unreachable (urllib3 makes it a subclass of the connect timeout).
        except urllib3.exceptions.NewConnectionError as exc:
            answer.error = f"cannot connect: {exc}"[:300]
        except urllib3.exceptions.ConnectTimeoutError:
            answer.error = "connect timed out"
        except urllib3.exceptions.ReadTimeoutError:
            answer.error = "read timed out"
        except urllib3.exceptions.SSLError as exc:
            answer.error = f"TLS error: {exc}"[:300]
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            answer.error = f"{type(exc).__name__}: {exc}"[:300]
        answer.duration_ms = int((time.monotonic() - started) * 1000)
        return answer

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def _read_capped(response, *, deadline: float) -> tuple[bytes, str]:
    """Up to RESPONSE_READ_LIMIT bytes of the answer, and how reading ended: ``complete``,
    ``too_long`` (the rest is left unread) or ``too_slow`` (past the deadline)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() >= deadline:
            return b"".join(chunks), "too_slow"
        chunk = response.read1(8192, decode_content=False)
        if not chunk:
            return b"".join(chunks), "complete"
        chunks.append(chunk)
        size += len(chunk)
        if size > RESPONSE_READ_LIMIT:
            return b"".join(chunks)[:RESPONSE_READ_LIMIT], "too_long"
