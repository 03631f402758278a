"""The job outbox: intents stored with the change, enqueued after commit, swept if lost."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from .. import queries, rules
from ..extensions import db, get_queue
from ..models import IntentState, JobIntent

log = logging.getLogger(__name__)


def schedule(func: str, *args, key: str, queue: str = "default") -> JobIntent:
    """Store a job intent in this transaction; it is enqueued after commit (or by the sweep).

    `key` makes the intent unique: scheduling the same key twice returns the first intent.
    """
    existing = db.session.scalar(select(JobIntent).where(JobIntent.key == key))
    if existing is not None:
        return existing
    intent = JobIntent(key=key, func=func, args=list(args), queue=queue)
    db.session.add(intent)
    db.session.flush()
    db.session.info.setdefault("helpdesk.intents", []).append((intent.id, queue))
    return intent


def enqueue_intent(intent_id: int, queue: str) -> bool:
    """Hand one intent to rq; False (and a warning) if Redis is unreachable."""
    job_id = f"intent-{intent_id}"
    try:
        q = get_queue(queue)
        try:
            job = Job.fetch(job_id, connection=q.connection, serializer=q.serializer)
            status = job.get_status()
        except NoSuchJobError:
            status = None
        if status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
            return True
        q.enqueue("helpdesk.jobs.run_intent", intent_id, job_id=job_id, failure_ttl=7 * 86400)
        return True
    except RedisError as exc:
        log.warning("Redis unreachable (%s); intent %s waits for the outbox sweep",
                    type(exc).__name__, intent_id)
        return False


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session):
    for intent_id, queue in session.info.pop("helpdesk.intents", []):
        enqueue_intent(intent_id, queue)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session):
    session.info.pop("helpdesk.intents", None)


#: Outbox handlers by their registered name: what an intent may run. Each takes plain
#: arguments. Intents store this name, never a module path, so code can move while intents
#: wait in the database; a registered name is never renamed or reused.
INTENT_HANDLERS: dict[str, Callable] = {}


def intent_handler(name: str) -> Callable[[Callable], Callable]:
    """Register the decorated function as runnable through the outbox under `name`."""

    def register(func: Callable) -> Callable:
        if INTENT_HANDLERS.setdefault(name, func) is not func:
            raise RuntimeError(f"outbox handler {name!r} is registered twice")
        return func

    return register


def run_intent(intent_id: int) -> str:
    """Run one outbox intent exactly once: locked, skipped if already done, marked done."""
    stmt = select(JobIntent).where(JobIntent.id == intent_id).with_for_update()
    intent = db.session.scalar(stmt)
    if intent is None:
        return "missing"
    if intent.state is not IntentState.PENDING:
        return intent.state.value
    handler = INTENT_HANDLERS.get(intent.func)
    if handler is None:
        intent.state, intent.last_error = IntentState.FAILED, f"unknown handler {intent.func!r}"
        return "failed"
    handler(*intent.args)
    intent.state, intent.done_at = IntentState.DONE, rules.utcnow()
    db.session.flush()
    return "done"


def sweep_outbox(now: datetime, max_attempts: int = 10) -> int:
    """Re-enqueue pending intents that Redis lost or never got; give up after `max_attempts`."""
    retry = timedelta(seconds=current_app.config["HELPDESK_OUTBOX_RETRY_SECONDS"])
    handed = 0
    for intent in queries.stale_intents(now, retry):
        if intent.attempts >= max_attempts:
            intent.state, intent.last_error = IntentState.FAILED, "too many attempts"
            continue
        intent.attempts += 1
        intent.enqueued_at = now
        db.session.info.setdefault("helpdesk.intents", []).append((intent.id, intent.queue))
        handed += 1
    db.session.flush()
    return handed


def schedule_waiting(team_id: int) -> None:
    """Ask for an assignment pass over the team's waiting tickets, after commit."""
    schedule("assign_waiting", team_id, key=f"waiting:{team_id}:{uuid.uuid4().hex}")
