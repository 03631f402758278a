"""rq entry points: thin wrappers that open one app context and one transaction each.

Jobs take plain ids, never ORM objects. The worker runs them inside `flask helpdesk worker`,
which provides the app; `CRON` is what `flask helpdesk cron` registers.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from flask import current_app
from redis import Redis
from rq import Queue, cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.job import Job
from rq.serializers import JSONSerializer

from . import rules, workflows


@contextmanager
def job_context():
    """A fresh app context (its own session) and one transaction."""
    with current_app.app_context(), workflows.atomic():
        yield


def run_intent(intent_id: int) -> str:
    """Run one outbox intent; idempotent on the intent's state in the database."""
    with job_context():
        return workflows.run_intent(intent_id)


def sweep_outbox() -> int:
    """Cron: hand Redis again every intent it lost or never received."""
    with job_context():
        return workflows.sweep_outbox(rules.utcnow())


def sweep_sla_states() -> int:
    """Cron, every minute: recompute the SLA flags of open tickets with set-based UPDATEs."""
    with job_context():
        return workflows.sweep_sla_states(rules.utcnow())


def sweep_waiting() -> int:
    """Cron: assignment pass over every team with waiting tickets (the safety net)."""
    with job_context():
        return workflows.sweep_waiting(rules.utcnow())


def recount_open_tickets() -> int:
    """Cron, hourly: check the agents' open-ticket counters; repair (and log) any drift."""
    with job_context():
        return len(workflows.recount_open_tickets())


#: (function, options) pairs for rq's CronScheduler.register.
CRON = [
    (sweep_sla_states, {"queue_name": "sla", "interval": 60}),
    (sweep_outbox, {"queue_name": "default", "interval": 30}),
    (sweep_waiting, {"queue_name": "default", "interval": 120}),
    (recount_open_tickets, {"queue_name": "default", "interval": 3600}),
]


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
