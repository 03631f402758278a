"""A short-lived cache of the Informes figures in Redis, keyed by the report tables' generation.

Every run that commits report rows (a refresh chunk, a rebuild, a backlog snapshot) bumps the
generation (`changed`), so a cached page never outlives the figures it was computed from; the
TTL only bounds what a run that could not reach Redis leaves behind. The key is the generation
and the viewer's resolved filters (period, zone, dimensions and, for agents, their scope): two
viewers asking the same thing share the figures. Without Redis the page computes every time.

The figures are plain Python values (numbers, dates, names) pickled: Redis is the app's own,
and rq already keeps its jobs there the same way.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable

from redis.exceptions import RedisError

from ..extensions import get_redis

GENERATION = "reports:generation"
PREFIX = "reports:figures:"
TTL = 300


def generation() -> int | None:
    """The report tables' generation (None: Redis is unreachable)."""
    try:
        return int(get_redis().get(GENERATION) or 0)
    except (RedisError, OSError):
        return None


def changed() -> None:
    """Say the report tables changed (after a commit): every cached figure is stale."""
    try:
        get_redis().incr(GENERATION)
    except (RedisError, OSError):
        pass  # the TTL expires what was cached before


def _key(gen: int, what) -> str:
    return PREFIX + hashlib.sha1(repr((gen, what)).encode()).hexdigest()


def cached(what, compute: Callable[[], dict]) -> dict:
    """compute() for `what` (a hashable, repr-stable description), read from the cache when
    this generation already computed it."""
    gen = generation()
    if gen is None:
        return compute()
    redis, key = get_redis(), _key(gen, what)
    try:
        raw = redis.get(key)
    except (RedisError, OSError):
        return compute()
    if raw is not None:
        return pickle.loads(raw)
    value = compute()
    try:
        redis.set(key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), ex=TTL)
    except (RedisError, OSError):
        pass
    return value
