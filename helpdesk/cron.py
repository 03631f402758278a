"""The one rq cron scheduler: what it registers (`jobs.CRON`), JSON-serialized jobs, the
Redis lock that keeps a second scheduler from starting, the heartbeat /healthz reads, and a
loop that outlives Redis restarts (rq's `CronScheduler.start` dies on the first error)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
import uuid
from contextlib import suppress
from enum import StrEnum

from redis import Redis
from rq import Queue, cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.exceptions import StopRequested
from rq.job import Job
from rq.serializers import JSONSerializer

from .jobs import CRON
from .reconnect import REDIS_DOWN, Outage, redis_address

CRON_LOCK = "helpdesk:cron:lock"
CRON_LOCK_TTL = 30
#: Refreshed by the running scheduler every HEARTBEAT_INTERVAL seconds (a Unix timestamp);
#: /healthz calls the scheduler down once it is older than HEARTBEAT_TTL (or gone).
CRON_HEARTBEAT = "helpdesk:cron:heartbeat"
HEARTBEAT_INTERVAL = 5
HEARTBEAT_TTL = 3 * HEARTBEAT_INTERVAL

log = logging.getLogger("helpdesk.cron")

#: Keep the lock if it is ours, take it again if it vanished (a Redis restarted without
#: persistence forgets it) and refresh the heartbeat; 0 only when another scheduler holds it.
_HOLD = """
local holder = redis.call('get', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('set', KEYS[2], ARGV[3], 'EX', ARGV[4])
return 1
"""
#: Take the lock from `ARGV[1]` (a holder known to be dead) if it still holds it.
_TAKEOVER = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3]) and 1 or 0
"""
#: On a clean stop: drop the lock and the heartbeat, if still ours.
_RELEASE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('del', KEYS[1], KEYS[2])
"""


class CronExit(StrEnum):
    """How `run_scheduler` ended."""

    STOPPED = "stopped"  # SIGINT/SIGTERM
    REFUSED = "refused"  # another scheduler held the lock at start
    LOST = "lost"  # another scheduler took the lock while we could not renew it


class JSONCronJob(CronJob):
    """rq's CronJob enqueues with the default (pickle) serializer; ours uses JSON."""

    def enqueue(self, connection: Redis) -> Job:
        queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
        with connection.pipeline() as pipeline:
            job = queue.enqueue(self.func, *self.args, **self.kwargs, **self.job_options,
                                pipeline=pipeline)
            stamp = job.enqueued_at.timestamp()
            pipeline.zadd(self.job_history_key, {job.id: stamp})
            pipeline.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
            pipeline.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
            cron_job_registry.add(self.name, pipeline, enqueue_timestamp=stamp)
            pipeline.execute()
        return job


class HelpdeskCronScheduler(CronScheduler):
    """rq's cron scheduler with JSON-serialized jobs."""

    def __init__(self, connection: Redis, **kwargs):
        super().__init__(connection, **kwargs)
        self.serializer = JSONSerializer

    def register(self, func, queue_name: str, **options) -> CronJob:
        cron_job = JSONCronJob(queue_name=queue_name, func=func, **options)
        self._cron_jobs.append(cron_job)
        return cron_job


def build_cron(connection: Redis) -> HelpdeskCronScheduler:
    """A scheduler with every entry of CRON registered."""
    scheduler = HelpdeskCronScheduler(connection, name=f"helpdesk-cron-{os.getpid()}")
    for func, options in CRON:
        scheduler.register(func, **options)
    return scheduler


def lock_token() -> str:
    """This process's lock value: host, pid (so a successor can tell its holder died) and a
    random part."""
    return f"{socket.gethostname()} {os.getpid()} {uuid.uuid4().hex}"


def _holder_is_dead(holder: str) -> bool:
    """True only for a holder on this host whose process is gone (a crashed scheduler that
    `make run` restarts); any other holder is respected until its lock expires."""
    parts = holder.split(" ")
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, someone else's
        return False
    return False


def acquire_cron_lock(redis: Redis, token: str) -> bool:
    """Take the single-scheduler lock; False if another live scheduler holds it."""
    if redis.set(CRON_LOCK, token, nx=True, ex=CRON_LOCK_TTL):
        return True
    holder = redis.get(CRON_LOCK)
    if holder is None or not _holder_is_dead(holder.decode(errors="replace")):
        return False
    log.warning("cron lock held by a scheduler that died on this host; taking it over")
    return bool(redis.eval(_TAKEOVER, 1, CRON_LOCK, holder, token, CRON_LOCK_TTL))


def _tick(redis: Redis, scheduler: HelpdeskCronScheduler, token: str) -> bool:
    """Renew the lock and heartbeat, enqueue what is due; False if the lock is another's."""
    if not redis.eval(_HOLD, 2, CRON_LOCK, CRON_HEARTBEAT, token, CRON_LOCK_TTL,
                      f"{time.time():.3f}", HEARTBEAT_TTL):
        return False
    if scheduler.enqueue_jobs():
        scheduler.save()
    scheduler.heartbeat()  # rq's registry; it re-registers if Redis forgot it
    return True


def _stop(signum, frame):
    raise StopRequested()


def run_scheduler(redis: Redis) -> CronExit:
    """Hold the lock and run the scheduler until SIGINT/SIGTERM, through Redis outages
    (logged, retried with backoff, the lock taken again if Redis forgot it)."""
    token = lock_token()
    if not acquire_cron_lock(redis, token):
        return CronExit.REFUSED
    scheduler = build_cron(redis)
    outage = Outage(log, redis_address(redis))
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        while True:
            try:
                if not _tick(redis, scheduler, token):
                    log.error("cron lock taken by another scheduler while Redis was away; "
                              "stopping so that only one runs")
                    return CronExit.LOST
            except REDIS_DOWN as exc:
                time.sleep(outage.lost(exc))
                continue
            outage.regained("cron lock and heartbeat renewed")
            time.sleep(min(scheduler.calculate_sleep_interval(), HEARTBEAT_INTERVAL))
    except (StopRequested, KeyboardInterrupt):
        with suppress(*REDIS_DOWN):
            scheduler.register_death()
            redis.eval(_RELEASE, 2, CRON_LOCK, CRON_HEARTBEAT, token)
        return CronExit.STOPPED
