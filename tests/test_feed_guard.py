"""Feeds added by admins stay on public addresses, redirects and DNS rebinding included (no SSRF).

DNS is replaced by resolvers the tests control (`make_client(resolver=...)`); 127.0.0.2, a
loopback address of its own, plays a public server where a test needs one to answer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import jobs.feeds as feeds
from jobs.feeds import FetchError, fetch_feed, forbidden_address, make_client, resolves_publicly
from tests.feedserver import FeedServer, Reply

RSS = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Internal</title></channel></rss>"
PUBLIC_STAND_IN = "127.0.0.2"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        srv.route("/internal", Reply(body=RSS))
        yield srv


@pytest.fixture
def public_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    """A server on 127.0.0.2, which the address rule treats as public for this test."""
    real = feeds.forbidden_address
    monkeypatch.setattr(feeds, "forbidden_address", lambda a: a != PUBLIC_STAND_IN and real(a))
    with FeedServer(host=PUBLIC_STAND_IN) as srv:
        srv.route("/rss", Reply(body=RSS))
        yield srv


def port_of(server: FeedServer) -> str:
    return server.url("/").rsplit(":", 1)[1].rstrip("/")


class Resolver:
    """Answers from a table, one list of answers per host, the last answer repeating."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        replies = self.answers.get(host)
        if replies is None:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return replies[0] if len(replies) == 1 else replies.pop(0)


async def test_a_private_host_is_refused_before_connecting(server: FeedServer) -> None:
    async with make_client() as client:
        with pytest.raises(FetchError, match="not a public address"):
            await fetch_feed(client, server.url("/internal"), public_only=True)
        ok = await fetch_feed(client, server.url("/internal"))  # operator feeds are trusted
    assert ok.status == "changed"
    assert len(server.requests_to("/internal")) == 1


async def test_dns_rebinding_cannot_reach_a_private_address(server: FeedServer) -> None:
    """The name is public when first asked and private when httpx would connect: refused."""
    resolver = Resolver({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})
    async with make_client(resolver=resolver) as client:
        with pytest.raises(FetchError, match="rebind.example is not a public address"):
            await fetch_feed(
                client, f"http://rebind.example:{port_of(server)}/internal", public_only=True
            )
    assert server.requests == [], "nothing may reach the private server"
    assert resolver.asked == ["rebind.example", "rebind.example"]


async def test_the_connection_goes_to_the_checked_address_with_the_urls_host(
    public_server: FeedServer,
) -> None:
    resolver = Resolver({"feed.example": [[PUBLIC_STAND_IN]]})
    url = f"http://feed.example:{port_of(public_server)}/rss"
    async with make_client(resolver=resolver) as client:
        result = await fetch_feed(client, url, public_only=True)
    assert result.status == "changed" and result.final_url == url
    [request] = public_server.requests_to("/rss")
    assert request.headers["host"] == f"feed.example:{port_of(public_server)}"


async def test_a_redirect_to_a_private_address_is_refused(
    server: FeedServer, public_server: FeedServer
) -> None:
    resolver = Resolver({"feed.example": [[PUBLIC_STAND_IN]]})
    target = f"http://127.0.0.1:{port_of(server)}/internal"
    public_server.route("/hop", Reply(status=302, headers={"Location": target}))
    async with make_client(resolver=resolver) as client:
        with pytest.raises(FetchError, match="127.0.0.1 is not a public address"):
            await fetch_feed(
                client, f"http://feed.example:{port_of(public_server)}/hop", public_only=True
            )
    assert public_server.requests_to("/hop") and not server.requests_to("/internal")


async def test_a_name_with_any_private_address_is_refused() -> None:
    resolver = Resolver({"mixed.example": [["93.184.216.34", "10.0.0.5"]]})
    assert not await resolves_publicly("mixed.example", resolver)
    assert not await resolves_publicly("unknown.example", resolver)
    assert await resolves_publicly("public.example", Resolver({"public.example": [["1.1.1.1"]]}))


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),  # carrier-grade NAT (metadata services, VPNs)
        ("100.127.255.254", True),
        ("0.0.0.0", True),
        ("192.0.0.1", True),
        ("198.18.0.1", True),  # benchmarking
        ("224.0.0.251", True),  # multicast
        ("255.255.255.255", True),
        ("::1", True),
        ("::", True),
        ("::ffff:192.168.0.1", True),
        ("::ffff:100.64.0.1", True),
        ("fe80::1%eth0", True),
        ("fec0::1", True),  # deprecated site-local
        ("fc00::1", True),
        ("ff0e::1", True),  # global-scope multicast
        ("2002:0a00:0001::1", True),  # 6to4 of 10.0.0.1
        ("2002:7f00:0001::1", True),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", True),  # 6to4 of 169.254.169.254
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 of 169.254.169.254
        ("64:ff9b::10.0.0.1", True),
        ("::10.0.0.1", True),  # IPv4-compatible
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", True),  # Teredo
        ("2001:db8::1", True),  # documentation
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
        ("2002:5db8:d822::1", False),  # 6to4 of the public 93.184.216.34
        ("64:ff9b::5db8:d822", False),  # NAT64 of the public 93.184.216.34
        ("not an address", True),
    ],
)
def test_forbidden_addresses(address: str, forbidden: bool) -> None:
    assert forbidden_address(address) is forbidden
