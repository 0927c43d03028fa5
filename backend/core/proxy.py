"""The client's address behind a reverse proxy, whatever server runs Django.

Behind Caddy every request's peer is the proxy: without this, the login throttle would count
every client as one. Like uvicorn's ``--forwarded-allow-ips``, which served this purpose until
HTTP moved to a WSGI server (decisions 0010 and 0014: neither gunicorn nor granian reads the
header), ``X-Forwarded-For`` is believed only when the peer is a trusted proxy
(``FORWARDED_ALLOW_IPS``: addresses or networks, ``*`` for any; 127.0.0.1 unless set), and the
client is the right-most address in it that is not itself a trusted proxy: the left part of the
header is whatever the client chose to send. A hop that is not an IP address ends the walk (the
address that passed it on is the client), so made-up values cannot become throttle buckets;
addresses are returned in their canonical spelling (``ipaddress``), one bucket per address.
"""

import ipaddress
from collections.abc import Awaitable, Callable
from functools import cache

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...] | None:
    """The networks of ``entries``; None when every peer is trusted (``*``)."""
    if "*" in entries:
        return None
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _is_trusted(address: str, networks: tuple[Network, ...] | None) -> bool:
    if networks is None:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[str, ...]) -> str:
    """The client's address given the peer's and the ``X-Forwarded-For`` header it sent."""
    networks = _trusted_networks(trusted)
    if not forwarded_for or not _is_trusted(peer, networks):
        return peer
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        if not hop.strip():
            continue
        try:
            client = str(ipaddress.ip_address(hop.strip()))
        except ValueError:
            return client
        if not _is_trusted(client, networks):
            return client
    return client


@sync_and_async_middleware
def forwarded_for_middleware(
    get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]],
) -> Callable[[HttpRequest], object]:
    def rewrite(request: HttpRequest) -> None:
        meta = request.META
        meta["REMOTE_ADDR"] = client_address(
            meta.get("REMOTE_ADDR", ""),
            meta.get("HTTP_X_FORWARDED_FOR"),
            settings.FORWARDED_ALLOW_IPS,
        )

    if iscoroutinefunction(get_response):

        async def middleware_async(request: HttpRequest) -> HttpResponseBase:
            rewrite(request)
            return await get_response(request)  # type: ignore[misc]

        return middleware_async

    def middleware(request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        rewrite(request)
        return get_response(request)

    return middleware
