"""Living through a Redis outage: which errors mean "Redis is gone", where it is (for logs,
never the password), and one `Outage` per process that backs off and logs loss and recovery
once each."""

from __future__ import annotations

import logging
import time

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: What a client raises while Redis is unreachable, restarting or stalled.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)

#: Backoff between reconnection attempts: 1 s, 2 s, 4 s… at most this.
MAX_BACKOFF = 30.0


def redis_address(client: Redis) -> str:
    """host:port (or the socket path) of `client`: what a log line may say about REDIS_URL."""
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"


class Outage:
    """One process's view of its Redis: `lost()` logs the first failure of an outage and says
    how long to wait (exponential, capped at MAX_BACKOFF); `regained()` logs the recovery."""

    def __init__(self, log: logging.Logger, address: str, *, first: float = 1.0,
                 cap: float = MAX_BACKOFF):
        self.log, self.address, self.first, self.cap = log, address, first, cap
        self.since: float | None = None
        self.delay = first

    @property
    def down(self) -> bool:
        """True between a `lost()` and the next `regained()`."""
        return self.since is not None

    def lost(self, exc: BaseException) -> float:
        """Note a failure; log it if it starts an outage; return the seconds to wait."""
        if self.since is None:
            self.since = time.monotonic()
            self.delay = self.first
            self.log.warning("Redis at %s lost (%s); reconnecting with backoff up to %.0f s",
                             self.address, type(exc).__name__, self.cap)
        wait, self.delay = self.delay, min(self.delay * 2, self.cap)
        return wait

    def regained(self, what: str = "") -> None:
        """Note a success; log the recovery if an outage was running."""
        if self.since is None:
            return
        seconds = time.monotonic() - self.since
        self.since, self.delay = None, self.first
        self.log.info("Redis at %s back after %.1f s%s", self.address, seconds,
                         f"; {what}" if what else "")
