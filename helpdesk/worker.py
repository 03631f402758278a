"""`flask helpdesk worker`: rq's worker, made to live through Redis going away and coming back.

rq's dequeue loop already retries a lost connection (with backoff); what it does not do is
notice that a Redis restarted without persistence forgot the worker (`rq:workers`), so
`/healthz` would count 0 workers for ever, and any other connection error in its main loop
ends `work()`. `HelpdeskWorker` registers itself again on the first heartbeat that finds it
missing; `run_worker` builds a new worker when `work()` ended because Redis went away.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from contextlib import suppress

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import StopRequested
from rq.serializers import JSONSerializer

from .reconnect import MAX_BACKOFF, REDIS_DOWN, Outage, redis_address

log = logging.getLogger("helpdesk.worker")


class HelpdeskWorker(Worker):
    """rq's forking worker with JSON jobs that re-registers after Redis forgot it."""

    #: rq's own reconnection backoff in its dequeue loop: 1, 2, 4… capped like ours.
    max_connection_wait_time = MAX_BACKOFF

    def __init__(self, *args, outage: Outage, **kwargs):
        super().__init__(*args, **kwargs)
        self.outage = outage
        self.stopping = False
        self.fresh = True  # registered by rq's bootstrap, not yet heartbeating

    def request_stop(self, signum, frame):
        """SIGINT/SIGTERM: remember it was asked (rq only says so when a job is running)."""
        self.stopping = True
        super().request_stop(signum, frame)

    def register_birth(self):
        """rq refuses a name whose hash has no death date; ours may be left by an outage
        (the name holds host and pid, so no other worker owns it)."""
        self.connection.delete(self.key)
        super().register_birth()

    def handle_job_success(self, job, queue, started_job_registry):
        """rq writes four INFO lines per job (started, completed, OK, result kept); ours
        writes this one (rq's own logger is at WARNING: failures still show, with their
        traceback)."""
        super().handle_job_success(job, queue, started_job_registry)
        name, seconds = _job_name(job), _seconds(job)
        # the cron's sweeps run every 30–60 s: a line each would be a heartbeat, not news
        routine = name in _periodic() and seconds < SLOW_SWEEP_SECONDS
        log.log(logging.DEBUG if routine else logging.INFO, "%s: %s done in %.2f s",
                queue.name, name, seconds)

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string=""):
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry,
                                   exc_string=exc_string)
        log.warning("%s: %s failed after %.2f s (traceback above)", queue.name, _job_name(job),
                    _seconds(job))

    def heartbeat(self, timeout: int | None = None, pipeline=None):
        """rq's heartbeat, plus: note a lost Redis, and register again if Redis forgot us."""
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        try:
            forgotten = not self.connection.sismember(self.redis_workers_keys, self.key)
            if forgotten:
                self.register_birth()
                self.set_state(self.get_state())
            super().heartbeat(timeout)
        except REDIS_DOWN as exc:
            self.outage.lost(exc)
            raise
        registered, self.fresh = forgotten or self.fresh, False
        if self.outage.down:  # a new worker (run_worker) registered at its start
            self.outage.regained(f"worker {self.name} registered again" if registered else "")
        elif forgotten:
            log.warning("Redis at %s had forgotten worker %s (restarted?); registered again",
                        self.outage.address, self.name)


#: A periodic job that takes longer than this is logged at INFO like any other job.
SLOW_SWEEP_SECONDS = 5.0


def _periodic() -> frozenset[str]:
    from .jobs import CRON

    return frozenset(func.__name__ for func, _options in CRON)


def _job_name(job) -> str:
    """`helpdesk.jobs.sweep_sla_states` → `sweep_sla_states` (the id only in debug)."""
    return (job.func_name or job.id).rsplit(".", 1)[-1]


def _seconds(job) -> float:
    if job.started_at is None or job.ended_at is None:
        return 0.0
    return (job.ended_at - job.started_at).total_seconds()


def _wait_for_redis(redis: Redis, outage: Outage) -> None:
    """Ping with backoff until Redis answers (the next worker logs the recovery)."""
    while True:
        try:
            redis.ping()
            return
        except REDIS_DOWN as exc:
            time.sleep(outage.lost(exc))


def _unsubscribe(worker: HelpdeskWorker) -> None:
    """Stop the command-channel thread rq's failed teardown left running (it would reconnect
    and listen beside the next worker's)."""
    if worker.pubsub_thread is not None:
        worker.pubsub_thread.stop()
        worker.pubsub_thread.join(timeout=1)
    if worker.pubsub is not None:
        with suppress(*REDIS_DOWN):
            worker.pubsub.close()


def _stop(signum, frame):
    raise StopRequested()


def _redis_gone(redis: Redis, outage: Outage) -> bool:
    if outage.down:
        return True
    try:
        redis.ping()
        return False
    except REDIS_DOWN as exc:
        outage.lost(exc)
        return True


#: Served first when the worker listens on it: the mail queue's jobs are short (an IMAP round,
#: one SMTP connection for a run's acknowledgements), and behind a backlog of processing runs
#: on *default* a poll would wait minutes, so new mail would wait to be stored at all.
FIRST = ("mail",)


def serving_order(queue_names: tuple[str, ...]) -> tuple[str, ...]:
    """The queues in the order rq serves them: those of FIRST, then the others as given."""
    return (tuple(n for n in FIRST if n in queue_names)
            + tuple(n for n in queue_names if n not in FIRST))


def run_worker(redis: Redis, queue_names: tuple[str, ...], *, burst: bool = False) -> int:
    """Work until stopped; when Redis ended rq's loop, wait for it and start a new worker.
    Returns the exit status: 0 when stopped or done, 1 when rq stopped for another reason."""
    queue_names = serving_order(queue_names)
    outage = Outage(log, redis_address(redis))
    name = f"helpdesk-{socket.gethostname()}-{os.getpid()}"
    queues = [Queue(n, connection=redis, serializer=JSONSerializer) for n in queue_names]
    log.info("worker %s listening on %s", name, ", ".join(queue_names))
    while True:
        worker = HelpdeskWorker(queues, connection=redis, serializer=JSONSerializer, name=name,
                                outage=outage)
        try:
            # rq's own INFO lines (four per job, registry cleaning, pubsub) stay quiet
            worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
        except REDIS_DOWN as exc:  # its teardown could not record its death
            outage.lost(exc)
            _unsubscribe(worker)
        if worker.stopping or burst:
            return 0
        if not _redis_gone(redis, outage):
            log.error("worker %s stopped unexpectedly (rq logged why above)", name)
            return 1
        signal.signal(signal.SIGINT, _stop)  # rq's handlers would talk to the absent Redis
        signal.signal(signal.SIGTERM, _stop)
        try:
            _wait_for_redis(redis, outage)
        except StopRequested:
            return 0
