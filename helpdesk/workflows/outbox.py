"""The job outbox: intents stored with the change, enqueued after commit, swept if lost.

One mechanism retries everything: rq only ever runs an intent once per hand-over. A run that
raises is rolled back and recorded on the intent (attempts, last error, `next_attempt_at` after
an exponential backoff); the sweep hands it to Redis again when that time comes, and marks it
failed only once it has been retried for `HELPDESK_RETRY_GIVE_UP_HOURS`.

Delivery contract (mail): at least once, deduplicated by Message-ID. The intent is marked done
in the commit that immediately follows the SMTP server's acceptance. A worker killed between
the two leaves the intent pending, and it is sent again with the *same* Message-ID (fixed when
the reply was written), which mail systems and clients collapse into one message. A run whose
worker died holds its lease (`started_at`, `next_attempt_at`) until it expires; rq's own record
of the job (left STARTED without heartbeats) is then replaced by a fresh one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from .. import backoff, queries, rules
from ..extensions import db, get_queue
from ..models import IntentState, JobIntent

log = logging.getLogger(__name__)

INTENTS = "helpdesk.intents"
_ACTIVE = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def _seconds(name: str) -> timedelta:
    return timedelta(seconds=current_app.config[name])


def schedule(func: str, *args, key: str, queue: str = "default",
             delay: timedelta | None = None) -> JobIntent:
    """Store a job intent in this transaction; it is enqueued after commit (or by the sweep).

    `key` makes the intent unique: scheduling the same key twice returns the first intent.
    With a `delay`, nothing is enqueued now: the outbox sweep hands the intent over once its
    `next_attempt_at` comes (the survey an hour after a resolution), the one delay mechanism.
    """
    existing = db.session.scalar(select(JobIntent).where(JobIntent.key == key))
    if existing is not None:
        return existing
    now = rules.utcnow()
    intent = JobIntent(key=key, func=func, args=list(args), queue=queue, created_at=now,
                       next_attempt_at=now + (delay if delay is not None
                                              else _seconds("HELPDESK_OUTBOX_RETRY_SECONDS")))
    db.session.add(intent)
    db.session.flush()
    if delay is None:
        hand_over(intent.id, queue)
    return intent


def hand_over(intent_id: int, queue: str, now: datetime | None = None) -> None:
    """Enqueue the intent after the outer transaction commits (`now`: the sweep's clock, which
    lets it replace an rq job whose worker stopped beating). Each is tagged with the SAVEPOINT
    it was scheduled in (None: the outer transaction), so a savepoint rolled back drops its
    own intents and no others."""
    session = db.session()
    session.info.setdefault(INTENTS, []).append(
        (intent_id, queue, now, session.get_nested_transaction()))


def enqueue_intent(intent_id: int, queue: str, now: datetime | None = None) -> bool:
    """Hand one intent to rq; False (and a warning) if Redis is unreachable.

    A job already waiting is left alone, as is a running one, unless (with the sweep's `now`)
    its worker has not beaten for longer than the lease: that worker is dead and the job is
    replaced. Finished or failed jobs of the same id are deleted first, so rq's registries
    never list a run the outbox has taken over.
    """
    job_id = f"intent-{intent_id}"
    try:
        q = get_queue(queue)
        try:
            job = Job.fetch(job_id, connection=q.connection, serializer=q.serializer)
            status = job.get_status()
        except NoSuchJobError:
            job = status = None
        if status in _ACTIVE or (status == JobStatus.STARTED and not _dead(job, now)):
            return True
        if job is not None:
            if status == JobStatus.STARTED:
                log.warning("intent %s: its worker stopped beating; enqueued again", intent_id)
            job.delete()
        q.enqueue("helpdesk.jobs.run_intent", intent_id, job_id=job_id, failure_ttl=7 * 86400,
                  job_timeout=current_app.config["HELPDESK_JOB_TIMEOUT_SECONDS"])
        return True
    except RedisError as exc:
        log.warning("Redis unreachable (%s); intent %s waits for the outbox sweep",
                    type(exc).__name__, intent_id)
        return False


def _dead(job: Job, now: datetime | None) -> bool:
    """A started job whose worker has not beaten within the lease (only the sweep asks)."""
    beat = job.last_heartbeat or job.started_at
    if now is None or beat is None:
        return now is not None
    beat = beat if beat.tzinfo else beat.replace(tzinfo=UTC)
    return now - beat > _seconds("HELPDESK_JOB_LEASE_SECONDS")


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session):
    """SQLAlchemy calls this for a released SAVEPOINT too: its intents then belong to the
    transaction around it (which may still roll back); only the outer commit enqueues."""
    savepoint = session.get_nested_transaction()  # still the one ending, during the event
    if savepoint is not None:
        outer = _enclosing_savepoint(savepoint)
        session.info[INTENTS] = [(i, q, n, outer if tag is savepoint else tag)
                                 for i, q, n, tag in session.info.get(INTENTS, [])]
        return
    for intent_id, queue, now, _tag in session.info.pop(INTENTS, []):
        enqueue_intent(intent_id, queue, now)


def _enclosing_savepoint(savepoint):
    """The SAVEPOINT around this one, or None when it sits in the outer transaction."""
    parent = savepoint.parent
    while parent is not None and not parent.nested:
        parent = parent.parent
    return parent


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session):
    """A rolled-back SAVEPOINT drops the intents scheduled in it (their rows are gone); the
    outer transaction's rollback drops them all."""
    savepoint = session.get_nested_transaction()
    if savepoint is None:
        session.info.pop(INTENTS, None)
        return
    session.info[INTENTS] = [entry for entry in session.info.get(INTENTS, [])
                             if entry[3] is not savepoint]


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


def _locked(intent_id: int) -> JobIntent | None:
    stmt = select(JobIntent).where(JobIntent.id == intent_id).with_for_update()
    return db.session.scalar(stmt)


def claim_intent(intent_id: int, now: datetime) -> str | None:
    """Start one run: count the attempt and take the lease (its own, committed transaction,
    so a worker that dies keeps it only until it expires). None: go ahead; else why not."""
    intent = _locked(intent_id)
    if intent is None:
        return "missing"
    if intent.state is not IntentState.PENDING:
        return intent.state.value
    if intent.started_at is not None and intent.next_attempt_at > now:
        return "running"  # another live run holds the lease
    intent.attempts += 1
    intent.started_at = now
    intent.next_attempt_at = now + _seconds("HELPDESK_JOB_LEASE_SECONDS")
    db.session.flush()
    return None


def run_intent(intent_id: int) -> str | Callable[[], None]:
    """Run one outbox intent exactly once: locked, skipped if already done, marked done in the
    same transaction as the handler's work (the caller commits right after it returns).

    A handler that talks to the network (mail) does its reads here and returns the sending
    as a callable instead: the caller commits, calls it with no transaction open (no lock
    held, the SQLite file included, while an SMTP server takes its time), and then marks
    the intent done with `finish_intent` at once.
    """
    intent = _locked(intent_id)
    if intent is None:
        return "missing"
    if intent.state is not IntentState.PENDING:
        return intent.state.value
    handler = INTENT_HANDLERS.get(intent.func)
    if handler is None:
        _fail(intent, f"unknown handler {intent.func!r}", rules.utcnow())
        return "failed"
    network = handler(*intent.args)
    if callable(network):
        return network
    return finish_intent(intent_id)


def finish_intent(intent_id: int) -> str:
    """Mark a pending intent done (after its handler, or right after the handler's network
    part succeeded)."""
    intent = _locked(intent_id)
    if intent is None or intent.state is not IntentState.PENDING:
        return "missing" if intent is None else intent.state.value
    intent.state, intent.done_at = IntentState.DONE, rules.utcnow()
    intent.started_at = intent.next_attempt_at = None
    db.session.flush()
    return "done"


def record_failure(intent_id: int, error: str, now: datetime) -> str:
    """After a run raised (and its work was rolled back): keep the error, and either schedule
    the next attempt after the backoff or, past the give-up window, mark the intent failed."""
    intent = _locked(intent_id)
    if intent is None or intent.state is not IntentState.PENDING:
        return "missing" if intent is None else intent.state.value
    config = current_app.config
    intent.last_error, intent.started_at = error, None
    if backoff.gives_up(now, intent.retried_at or intent.created_at,
                        config["HELPDESK_RETRY_GIVE_UP_HOURS"]):
        _fail(intent, error, now)
        return "failed"
    intent.next_attempt_at = now + backoff.retry_delay(intent.attempts,
                                                       config["HELPDESK_RETRY_BASE_SECONDS"],
                                                       config["HELPDESK_RETRY_MAX_SECONDS"])
    db.session.flush()
    return "retry"


def _fail(intent: JobIntent, reason: str, now: datetime) -> None:
    intent.state, intent.last_error, intent.failed_at = IntentState.FAILED, reason, now
    intent.started_at = intent.next_attempt_at = None
    db.session.flush()
    log.error("intent %s (%s) failed: %s", intent.id, intent.func, reason)


def sweep_outbox(now: datetime) -> int:
    """Hand Redis every pending intent whose time has come: lost or never enqueued, due after
    its backoff, or left by a dead worker (lease expired). Past the give-up window an intent
    that was tried is marked failed instead."""
    give_up = current_app.config["HELPDESK_RETRY_GIVE_UP_HOURS"]
    handed = 0
    for intent in queries.due_intents(now):
        if intent.started_at is not None:
            intent.last_error = "worker lost during the run (lease expired)"
        if intent.attempts and backoff.gives_up(now, intent.retried_at or intent.created_at,
                                                give_up):
            _fail(intent, intent.last_error or "gave up", now)
            continue
        intent.started_at = None
        intent.enqueued_at = now
        intent.next_attempt_at = now + _seconds("HELPDESK_OUTBOX_RETRY_SECONDS")
        hand_over(intent.id, intent.queue, now)
        handed += 1
    db.session.flush()
    return handed


def schedule_waiting(team_id: int) -> None:
    """Ask for an assignment pass over the team's waiting tickets, after commit."""
    schedule("assign_waiting", team_id, key=f"waiting:{team_id}:{uuid.uuid4().hex}")
