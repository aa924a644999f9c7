"""When to poll a feed again after it failed, and when to stop polling it.

Pure functions, no clock and no I/O, so the scheduler's policy can be tested exactly.

Why this shape:

* Exponential backoff. A feed that fails once is usually back on the next poll; one that keeps
  failing is down, moved or blocking us, and polling it at the normal rate only adds load to a
  struggling server and noise to our logs. Doubling the wait per consecutive failure gets out of
  the way fast and still notices a recovery within one capped interval.
* A 6 hour cap. A state visit lasts days; a source that comes back after a long outage must not
  sit unpolled for a day because its delay kept doubling.
* Never sooner than ``Retry-After``. A server that answered 429 or 503 told us when it is willing
  to talk again; asking earlier is rude and gets bots banned.
* ±10 % jitter. Feeds added together (at start-up, from one visit file) would otherwise stay in
  lock-step forever and hit the network and the database in bursts.
* Pause after two days of failures. A feed that has failed without a single success for two days
  is gone or moved, not flaky; an operator has to look at it, and polling it further only fills
  the logs.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

DEFAULT_CAP = 6 * 3600.0
"""The longest wait between two polls caused by backoff alone, in seconds (6 hours)."""

JITTER = 0.10
"""Relative jitter applied to intervals: ±10 %."""

PAUSE_WINDOW = timedelta(days=2)
"""How long a feed may fail without a single success before it is paused."""

_MAX_EXPONENT = 64  # 2**64 × any sane base is far beyond any cap; avoids float overflow.


def jittered_interval(base: float, rng: random.Random) -> float:
    """``base`` moved by a random amount of at most ±10 %, so feeds drift out of lock-step."""
    return base * rng.uniform(1.0 - JITTER, 1.0 + JITTER)


def next_delay(
    consecutive_failures: int,
    base_interval: float,
    *,
    cap: float = DEFAULT_CAP,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before the next poll of a feed.

    ``consecutive_failures`` is the number of failed polls since the last success (0 after a
    success), ``base_interval`` the feed's normal polling interval. The delay is
    ``base_interval * 2**consecutive_failures``, capped at ``cap``; with an ``rng`` it is jittered
    by ±10 % (and still capped). It is never shorter than ``retry_after`` — the server's own
    Retry-After, which may exceed the cap: the server knows best when it will answer again.
    """
    if base_interval <= 0:
        raise ValueError(f"base_interval must be positive, got {base_interval!r}")
    if cap <= 0:
        raise ValueError(f"cap must be positive, got {cap!r}")
    exponent = min(max(consecutive_failures, 0), _MAX_EXPONENT)
    delay = min(cap, base_interval * 2.0**exponent)
    if rng is not None:
        delay = min(cap, jittered_interval(delay, rng))
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return delay


def should_pause(
    first_failure_at: datetime | None,
    now: datetime,
    window: timedelta = PAUSE_WINDOW,
) -> bool:
    """Whether a feed has failed for so long (``window``, two days) that it should be paused.

    ``first_failure_at`` is the start of the current run of failures, None while the feed is
    healthy. Both datetimes must be timezone-aware (or both naive).
    """
    if first_failure_at is None:
        return False
    return now - first_failure_at >= window
