"""The client's address behind the proxy (``backend/core/proxy.py``)."""

import ipaddress

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.core.proxy import client_address, forwarded_for_middleware

PRIVATE = ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "client"),
    [
        pytest.param("10.0.0.5", "203.0.113.7", PRIVATE, "203.0.113.7", id="behind the proxy"),
        pytest.param(
            "10.0.0.5", "198.51.100.1, 203.0.113.7", PRIVATE, "203.0.113.7",
            id="a client-sent left part is not believed",
        ),
        pytest.param(
            "10.0.0.5", "203.0.113.7, 172.16.0.2", PRIVATE, "203.0.113.7",
            id="a load balancer in front of the proxy",
        ),
        pytest.param(
            "203.0.113.9", "198.51.100.1", PRIVATE, "203.0.113.9",
            id="an untrusted peer's header is ignored",
        ),
        pytest.param("10.0.0.5", None, PRIVATE, "10.0.0.5", id="no header"),
        pytest.param("10.0.0.5", "10.0.0.7", PRIVATE, "10.0.0.7", id="only proxies"),
        pytest.param("10.0.0.5", "not-an-ip", PRIVATE, "10.0.0.5", id="garbage is ignored"),
        pytest.param(
            "10.0.0.5", "203.0.113.7, x, 10.0.0.9", PRIVATE, "10.0.0.9",
            id="a hop that is no address ends the walk",
        ),
        pytest.param(
            "10.0.0.5", "2001:DB8:0::1", PRIVATE, "2001:db8::1", id="one spelling per address"
        ),
        pytest.param("203.0.113.9", "198.51.100.1", ("*",), "198.51.100.1", id="trust all"),
        pytest.param("::1", "2001:db8::1", ("::1",), "2001:db8::1", id="IPv6"),
    ],
)  # fmt: skip
def test_client_address(
    peer: str, forwarded_for: str | None, trusted: tuple[str, ...], client: str
) -> None:
    assert client_address(peer, forwarded_for, trusted) == client


@override_settings(FORWARDED_ALLOW_IPS=PRIVATE)
def test_middleware_rewrites_remote_addr_before_the_view() -> None:
    seen: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.META["REMOTE_ADDR"])
        return HttpResponse()

    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7"
    )
    forwarded_for_middleware(view)(request)
    assert seen == ["203.0.113.7"]


def test_by_default_only_a_proxy_on_the_same_host_is_trusted() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.7")
    forwarded_for_middleware(lambda request: HttpResponse())(request)
    assert request.META["REMOTE_ADDR"] == "10.0.0.5"


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


ADDRESSES = st.ip_addresses().map(str)
HOPS = st.one_of(ADDRESSES, st.text(max_size=30).filter(lambda text: "," not in text))


@settings(max_examples=200, deadline=None)
@given(
    peer=ADDRESSES,
    hops=st.lists(HOPS, max_size=6),
    trusted=st.sampled_from([PRIVATE, ("*",), ("127.0.0.1",)]),
)
def test_the_client_is_always_an_address_the_chain_names(
    peer: str, hops: list[str], trusted: tuple[str, ...]
) -> None:
    """Made-up X-Forwarded-For values never become the client (nor a throttle bucket)."""
    client = client_address(peer, ", ".join(hops), trusted)
    assert _is_address(client)
    assert client == peer or client in {
        str(ipaddress.ip_address(hop.strip())) for hop in hops if _is_address(hop.strip())
    }
