"""rq entry points: thin wrappers that open one app context and one transaction each.

Jobs take plain ids, never ORM objects. The worker runs them inside `flask helpdesk worker`,
which provides the app; `CRON` is what `flask helpdesk cron` registers.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from flask import current_app

from . import backoff, rules, workflows

log = logging.getLogger(__name__)


@contextmanager
def job_context():
    """A fresh app context (its own session) and one transaction."""
    with current_app.app_context(), workflows.atomic():
        yield


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
    with job_context():
        return workflows.sweep_outbox(rules.utcnow())


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
    with job_context():
        return workflows.sweep_waiting(rules.utcnow())


def recount_open_tickets() -> int:
    """Cron, hourly: check the agents' open-ticket counters; repair (and log) any drift."""
    with job_context():
        return len(workflows.recount_open_tickets())


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
    (poll_mailbox, {"queue_name": "mail", "interval": 60}),
]
