"""Feeds added by admins stay on public addresses, redirects included (no SSRF)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import jobs.feeds as feeds
from jobs.feeds import FetchError, fetch_feed, forbidden_address, make_client
from tests.feedserver import FeedServer, Reply

RSS = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Internal</title></channel></rss>"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        srv.route("/internal", Reply(body=RSS))
        yield srv


async def test_a_private_host_is_refused_before_connecting(server: FeedServer) -> None:
    async with make_client() as client:
        with pytest.raises(FetchError, match="not a public address"):
            await fetch_feed(client, server.url("/internal"), public_only=True)
        ok = await fetch_feed(client, server.url("/internal"))  # operator feeds are trusted
    assert ok.status == "changed"
    assert len(server.requests_to("/internal")) == 1


async def test_a_redirect_to_a_private_address_is_refused(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`localhost` plays a public host here; its redirect leads to 127.0.0.1, which must fail."""
    port = server.url("/").rsplit(":", 1)[1].rstrip("/")

    async def public_only_by_name(host: str) -> bool:
        return host == "localhost"

    monkeypatch.setattr(feeds, "resolves_publicly", public_only_by_name)
    server.route(
        "/hop", Reply(status=302, headers={"Location": f"http://127.0.0.1:{port}/internal"})
    )
    async with make_client() as client:
        with pytest.raises(FetchError, match="127.0.0.1 is not a public address"):
            await fetch_feed(client, f"http://localhost:{port}/hop", public_only=True)
    assert server.requests_to("/hop") and not server.requests_to("/internal")


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("169.254.169.254", True),
        ("::1", True),
        ("::ffff:192.168.0.1", True),
        ("fe80::1%eth0", True),
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
        ("not an address", True),
    ],
)
def test_forbidden_addresses(address: str, forbidden: bool) -> None:
    assert forbidden_address(address) is forbidden
