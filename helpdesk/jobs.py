"""rq entry points: thin wrappers that open one app context and one transaction each.

Jobs take plain ids, never ORM objects. The worker runs them inside `flask helpdesk worker`,
which provides the app; `CRON` is what `flask helpdesk cron` registers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager
from typing import TypeVar

from flask import current_app

from . import backoff, rules, workflows
from .errors import is_lock_timeout

log = logging.getLogger(__name__)

T = TypeVar("T")


@contextmanager
def job_context():
    """A fresh app context (its own session) and one transaction, holding SQLite's write lock
    from the start (for jobs that write whenever they run)."""
    with current_app.app_context(), workflows.atomic():
        yield


def mostly_reading(work: Callable[[], T]) -> T:
    """Run `work()` in a fresh app context and one transaction that starts as a plain read:
    on SQLite a sweep that finds nothing to do never takes the write lock, so it neither
    waits for a writer nor holds up web requests. If its first write is refused (another
    connection holds the lock or wrote since this transaction's snapshot: "database is
    locked" at once), everything is rolled back and `work()` runs again from the start under
    the write lock, which waits its turn. `work` must be safe to run twice (a sweep is)."""
    with current_app.app_context():
        try:
            with workflows.atomic(lock=False):
                return work()
        except Exception as exc:
            if not is_lock_timeout(exc):
                raise
            log.info("%s: the database was busy at its first write; again under the write "
                     "lock", getattr(work, "__qualname__", work))
        with workflows.atomic():
            return work()


def run_intent(intent_id: int) -> str:
    """Run one outbox intent; idempotent on the intent's state in the database.

    Take the lease (committed, so a dead worker's run is found later); run the handler, and
    mark the intent done in the same transaction, or, for a handler with a network part
    (mail), commit, send with no transaction open, and mark it done in the commit right after
    the server accepted. If anything raised, its work is rolled back and the failure and the
    next attempt are recorded. The rq job itself succeeds either way: retries belong to the
    outbox sweep.
    """
    with job_context():
        refused = workflows.claim_intent(intent_id, rules.utcnow())
    if refused is not None:
        return refused
    try:
        with job_context():
            outcome = workflows.run_intent(intent_id)
        if not callable(outcome):
            return outcome
        with current_app.app_context():
            outcome()  # SMTP: no transaction, no lock held meanwhile
        with job_context():
            return workflows.finish_intent(intent_id)
    except Exception as exc:  # any failure of the handler: recorded, retried by the sweep
        error = backoff.error_summary(exc)
        log.warning("intent %s failed: %s", intent_id, error)
        with job_context():
            return workflows.record_failure(intent_id, error, rules.utcnow())


def sweep_outbox() -> int:
    """Cron: hand Redis again every intent it lost or never received."""
    return mostly_reading(lambda: workflows.sweep_outbox(rules.utcnow()))


def sweep_sla_states() -> int:
    """Cron, every minute: recompute the SLA flags of open tickets with set-based UPDATEs, then
    escalate the first-response breaches whose SLA policy asks for it (once per ticket)."""
    with job_context():
        now = rules.utcnow()
        changed = workflows.sweep_sla_states(now)
        workflows.escalate_first_breaches(now)
        return changed


def sweep_waiting() -> int:
    """Cron: assignment pass over every team with waiting tickets (the safety net)."""
    return mostly_reading(lambda: workflows.sweep_waiting(rules.utcnow()))


def recount_open_tickets() -> int:
    """Cron, hourly: check the agents' open-ticket counters; repair (and log) any drift."""
    return mostly_reading(lambda: len(workflows.recount_open_tickets()))


def refresh_reports() -> int:
    """Cron, every 5 minutes (and *Actualizar ahora*): the report facts of every ticket changed
    since the last run; each chunk of tickets commits on its own."""
    from .reporting import refresh, runs, sections

    with current_app.app_context():
        done = refresh.refresh(rules.utcnow(), progress=runs.report_progress) or 0
        sections.warm(rules.utcnow())  # the supervisors' first view after it: from the cache
        return done


def finalise_reports() -> int:
    """Cron, hourly: once a day, after midnight in the configured time zone, rebuild the facts
    of the tickets that changed yesterday (a second pass over a closed day)."""
    from .reporting import refresh

    with current_app.app_context():
        return refresh.finalise_yesterday(rules.utcnow(),
                                          current_app.config["HELPDESK_DEFAULT_TIMEZONE"])


def poll_mailbox() -> int:
    """Cron, every minute: one IMAP round (store raw, commit, then move); nothing without
    MAIL_IMAP_HOST. rq's cron does not enqueue it again while a round still waits or runs."""
    from .extensions import get_redis
    from .inbound.imap import poll_once

    with current_app.app_context():
        lock = get_redis().lock("helpdesk:imap:poll", timeout=600, blocking=False)
        if not lock.acquire():
            return 0  # the previous round still runs: one at a time
        try:
            return poll_once()
        finally:
            lock.release()


#: (function, options) pairs for rq's CronScheduler.register.
CRON = [
    (sweep_sla_states, {"queue_name": "sla", "interval": 60}),
    (sweep_outbox, {"queue_name": "default", "interval": 30}),
    (sweep_waiting, {"queue_name": "default", "interval": 120}),
    (recount_open_tickets, {"queue_name": "default", "interval": 3600}),
    (refresh_reports, {"queue_name": "reports", "interval": 300}),
    (finalise_reports, {"queue_name": "reports", "interval": 3600}),
    (poll_mailbox, {"queue_name": "mail", "interval": 60}),
]
