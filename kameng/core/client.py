"""The client's address: the one answer every part of the shop uses (login throttle and records, consents, audit
rows, the channels' `payer_client_ip`, /metrics's inside check). Nothing else reads `REMOTE_ADDR` or
`X-Forwarded-For`.

`REMOTE_ADDR` is whoever opened the connection. Behind the reverse proxy that is the proxy, so the client's own
address has to come from `X-Forwarded-For`, which anybody can write. It is believed only from a trusted proxy: the
connection must come from an address in `FORWARDED_ALLOW_IPS` (addresses or networks, `*` for any: the meaning
gunicorn gives the same variable; with `*` only the right-most entry, the one the connecting proxy wrote, is
believed). The header is then read from its right end, where the proxies append, skipping
the trusted proxies' own addresses: the first address no trusted proxy can vouch for is the client. Whatever a
client wrote further left is never reached, so forged entries change nothing. django-ipware was weighed for this
and not used (docs/security.md, "The client's address").

`ClientAddressMiddleware` keeps the answer for the request being served, so audit rows written while serving it
record where it came from without every caller passing it down.
"""

import contextvars
import functools
import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("kameng_client_ip", default=None)


@functools.lru_cache(maxsize=8)
def _trusted_networks(setting: tuple[str, ...]) -> tuple[bool, tuple]:
    """(any peer trusted, the trusted networks) for one value of FORWARDED_ALLOW_IPS (cached per value, since
    tests change the setting)."""
    entries = [entry.strip() for entry in setting if entry.strip()]
    return "*" in entries, tuple(ipaddress.ip_network(e, strict=False) for e in entries if e != "*")


def _allow_setting() -> tuple[str, ...]:
    value = settings.FORWARDED_ALLOW_IPS
    return tuple(value.split(",")) if isinstance(value, str) else tuple(value)


def _parse(text: str) -> Address | None:
    text = text.strip().strip('"')
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.9:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # "::ffff:203.0.113.9" is 203.0.113.9, however the socket spells it
    return address


def is_trusted_proxy(address: Address | None) -> bool:
    """May the connection from `address` tell us who its client is? With `*`, any peer may."""
    if address is None:
        return False
    any_peer, networks = _trusted_networks(_allow_setting())
    return any_peer or _listed(address, networks)


def _listed(address: Address, networks: tuple) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def _vouched_hop(address: Address) -> bool:
    """Is this address, met inside X-Forwarded-For, one of our own proxies, so that the hop before it is believed
    too? Only a listed address or network is: `*` trusts whoever connects to say who connected to it, never the
    addresses further left, which with `*` anyone could have written to walk the count past their own address."""
    _, networks = _trusted_networks(_allow_setting())
    return _listed(address, networks)


def resolve(request: HttpRequest) -> Address | None:
    """The client's address as an `ipaddress` object, None when the connection's own address is not one (a UNIX
    socket with no trusted proxy in front)."""
    peer = _parse(request.META.get("REMOTE_ADDR", ""))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not forwarded or not is_trusted_proxy(peer):
        return peer
    client = peer
    for hop in reversed(forwarded.split(",")):
        address = _parse(hop)
        if address is None:
            # Not an address (garbage, "unknown"): nobody trusted vouches for what lies beyond it, so the last
            # trusted hop is as far as we can see.
            return client
        client = address
        if not _vouched_hop(address):
            return address
    return client  # every hop was one of our proxies: the left-most is the nearest we know to the client


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address as text ("203.0.113.9", "2001:db8::1"), or None without a request or an address."""
    if request is None:
        return None
    cached = getattr(request, "_kameng_client_ip", False)
    if cached is not False:
        return cached
    address = resolve(request)
    text = str(address) if address is not None else None
    request._kameng_client_ip = text
    return text


def came_through_proxy(request: HttpRequest) -> bool:
    """The request was passed on by a proxy: it carries X-Forwarded-For, believed or not."""
    return "HTTP_X_FORWARDED_FOR" in request.META


def current_client_ip() -> str | None:
    """The address of the request being served in this thread, None outside a request (a sweep, a command)."""
    return _current.get()


class ClientAddressMiddleware:
    """Remembers the client's address for the length of the request (audit rows read it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
