"""Background jobs as people see them: each reply's delivery, and what failed for good."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from ..extensions import QUEUES, db, get_queue
from ..models import IntentState, JobIntent, Message, Notification

#: The outbox key of a reply's mail (one intent per reply).
REPLY_KEY = "mail:{}"
#: What an rq job id in a URL may look like (ours are `intent-N` or rq's hex uuids).
JOB_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def reply_deliveries(message_ids: Iterable[int]) -> dict[int, JobIntent]:
    """Each reply's mail intent by message id, in one statement (the ticket page's state)."""
    keys = {REPLY_KEY.format(i): i for i in message_ids}
    if not keys:
        return {}
    rows = db.session.scalars(select(JobIntent).where(JobIntent.key.in_(keys)))
    return {keys[intent.key]: intent for intent in rows}


@dataclass(frozen=True)
class FailedIntent:
    """A failed outbox intent and the ticket (and reply) it concerns, if any."""

    intent: JobIntent
    ticket_id: int | None
    message_id: int | None


def failed_intents(limit: int = 200) -> list[FailedIntent]:
    """Failed outbox intents, the latest failure first, with their ticket in two more
    statements at most (replies and breach notices)."""
    intents = list(db.session.scalars(
        select(JobIntent).where(JobIntent.state == IntentState.FAILED)
        .order_by(JobIntent.failed_at.desc(), JobIntent.id.desc()).limit(limit)))
    wanted = {"send_reply": set(), "mail_notice": set()}
    for intent in intents:
        if intent.func in wanted and intent.args and isinstance(intent.args[0], int):
            wanted[intent.func].add(intent.args[0])
    tickets = {("send_reply", m): t for m, t in db.session.execute(
        select(Message.id, Message.ticket_id).where(Message.id.in_(wanted["send_reply"])))}
    tickets |= {("mail_notice", n): t for n, t in db.session.execute(
        select(Notification.id, Notification.ticket_id)
        .where(Notification.id.in_(wanted["mail_notice"])))}
    result = []
    for intent in intents:
        first = intent.args[0] if intent.args else None
        ticket_id = tickets.get((intent.func, first))
        message_id = first if intent.func == "send_reply" and ticket_id else None
        result.append(FailedIntent(intent, ticket_id, message_id))
    return result


@dataclass(frozen=True)
class FailedJob:
    """A job rq itself recorded as failed (a crash outside the outbox's handling)."""

    queue: str
    id: str
    func: str
    error: str
    ended_at: datetime | None


def failed_rq_jobs(limit: int = 200) -> list[FailedJob]:
    """rq's FailedJobRegistry of every queue of ours: what, the last line of the error, when.
    What cannot be read (Redis down, a job in another serialization) is left out, not a 500."""
    jobs = []
    for name in QUEUES:
        queue = get_queue(name)
        try:
            ids = FailedJobRegistry(queue=queue).get_job_ids(0, limit - 1)
        except RedisError:
            return jobs
        for job_id in ids:
            try:
                job = Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer)
                jobs.append(FailedJob(name, job.id, job.func_name, _last_line(job),
                                      job.ended_at))
            except (RedisError, DeserializationError, NoSuchJobError, ValueError):
                continue
    return jobs


def _last_line(job: Job) -> str:
    result = job.latest_result()
    text = (result.exc_string if result is not None else None) or job.exc_info or ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
