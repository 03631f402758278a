"""The one rq cron scheduler: what it registers (`jobs.CRON`), JSON-serialized jobs, and the
Redis lock that keeps a second scheduler from starting."""

from __future__ import annotations

import os
import threading
import uuid

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.job import Job
from rq.serializers import JSONSerializer

from .jobs import CRON

CRON_LOCK = "helpdesk:cron:lock"
CRON_LOCK_TTL = 30


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


def acquire_cron_lock(redis, token: str) -> bool:
    """Take the single-scheduler lock; False if another scheduler holds it."""
    return bool(redis.set(CRON_LOCK, token, nx=True, ex=CRON_LOCK_TTL))


def _renew_cron_lock(redis, token: str, stop: threading.Event) -> None:
    renew = redis.register_script(
        "if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end"
    )
    while not stop.wait(CRON_LOCK_TTL / 3):
        try:
            if not renew(keys=[CRON_LOCK], args=[token, CRON_LOCK_TTL]):
                os._exit(3)  # lost the lock: another scheduler took over; never run two
        except RedisError:
            continue


def run_scheduler(redis: Redis) -> bool:
    """Hold the lock and run the scheduler until it stops; False at once if another
    scheduler holds the lock."""
    token = uuid.uuid4().hex
    if not acquire_cron_lock(redis, token):
        return False
    stop = threading.Event()
    threading.Thread(target=_renew_cron_lock, args=(redis, token, stop), daemon=True).start()
    try:
        build_cron(redis).start()
    finally:
        stop.set()
        redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then "
                   "return redis.call('del', KEYS[1]) else return 0 end", 1, CRON_LOCK, token)
    return True
