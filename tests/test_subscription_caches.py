"""/timezone's zone list is read from disk once; the recently-seen-users cache stays bounded."""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterator
from typing import Any

import pytest

from bot.handlers import subscriptions
from bot.services import RecentUsers
from storage import subscriptions as subscription_store


@pytest.fixture
def fresh_zone_cache() -> Iterator[None]:
    subscriptions._zones_by_lower_name.cache_clear()
    yield
    subscriptions._zones_by_lower_name.cache_clear()  # later tests get the real list again


def test_zone_names_are_scanned_once(
    fresh_zone_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans = 0

    def counting() -> set[str]:
        nonlocal scans
        scans += 1
        return {"Europe/Istanbul", "Asia/Seoul"}

    monkeypatch.setattr(subscriptions, "available_timezones", counting)
    assert subscriptions.parse_zone("asia/SEOUL") == "Asia/Seoul"
    assert subscriptions.parse_zone("EUROPE/istanbul") == "Europe/Istanbul"
    assert subscriptions.parse_zone("mars/olympus") is None
    assert scans == 1


async def test_seen_users_are_capped_keeping_the_most_recent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded: list[int] = []

    async def record_user(db: object, user_id: int, *args: Any) -> None:
        recorded.append(user_id)

    monkeypatch.setattr(subscription_store, "record_user", record_user)
    svc: Any = types.SimpleNamespace(recent_users=RecentUsers(limit=10), db=None)
    seen = svc.recent_users
    now = dt.datetime(2025, 11, 20, tzinfo=dt.UTC)
    for user_id in range(10):
        await subscriptions._remember_user(svc, user_id, "en", now)
    await subscriptions._remember_user(svc, 3, "en", now)  # seen recently: not written again
    assert recorded == list(range(10))
    await subscriptions._remember_user(svc, 0, "ko", now)  # a change moves user 0 to the end
    await subscriptions._remember_user(svc, 10, "en", now)  # the 11th: the oldest half goes
    assert seen.user_ids() == [6, 7, 8, 9, 0, 10]
    for user_id in range(11, 1000):
        await subscriptions._remember_user(svc, user_id, "en", now)
    assert len(seen) <= 10 and 999 in seen
