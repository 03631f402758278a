"""What to do with work that failed for good: retry it or set it aside (*Trabajos fallidos*,
and *Reintentar envío* on a reply)."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.registry import FailedJobRegistry

from .. import queries, rules
from ..errors import DomainError
from ..extensions import QUEUES, db, get_queue
from ..models import IntentState, JobIntent, User
from .base import audit
from .outbox import hand_over


def retry_intent(intent: JobIntent, *, actor: User | None,
                 now: datetime | None = None) -> JobIntent:
    """Give a failed intent another round: pending again, due now, a fresh give-up window;
    enqueued after commit. Audited."""
    if intent.state is not IntentState.FAILED:
        raise DomainError(_("Este trabajo no está fallido: no hay nada que reintentar."))
    now = now or rules.utcnow()
    audit(intent, actor, "retry", field="state", old=intent.state, new=IntentState.PENDING,
          reason=intent.last_error)
    intent.state, intent.failed_at, intent.started_at = IntentState.PENDING, None, None
    intent.retried_at = intent.next_attempt_at = intent.enqueued_at = now
    db.session.flush()
    hand_over(intent.id, intent.queue)
    return intent


def discard_intent(intent: JobIntent, *, actor: User | None) -> JobIntent:
    """Set a failed intent aside for good: kept (state *Descartado*), never run. Audited."""
    if intent.state is not IntentState.FAILED:
        raise DomainError(_("Solo se puede descartar un trabajo fallido."))
    audit(intent, actor, "discard", field="state", old=intent.state, new=IntentState.DISCARDED,
          reason=intent.last_error)
    intent.state = IntentState.DISCARDED
    db.session.flush()
    return intent


def _failed_registry(queue: str, job_id: str) -> FailedJobRegistry:
    if queue not in QUEUES or not queries.JOB_ID.match(job_id or ""):
        raise DomainError(_("Ese trabajo ya no está entre los fallidos."))
    return FailedJobRegistry(queue=get_queue(queue))


def retry_failed_job(queue: str, job_id: str) -> None:
    """Put a job rq recorded as failed back on its queue."""
    try:
        _failed_registry(queue, job_id).requeue(job_id)
    except (InvalidJobOperation, NoSuchJobError):
        raise DomainError(_("Ese trabajo ya no está entre los fallidos.")) from None
    except RedisError:
        raise DomainError(_("Redis no responde; inténtalo de nuevo en un momento.")) from None


def discard_failed_job(queue: str, job_id: str) -> None:
    """Delete a job rq recorded as failed (it is not an outbox intent: nothing else keeps it)."""
    registry = _failed_registry(queue, job_id)
    try:
        if job_id not in registry.get_job_ids():
            raise DomainError(_("Ese trabajo ya no está entre los fallidos."))
        registry.remove(job_id, delete_job=True)
    except NoSuchJobError:
        registry.remove(job_id)
    except RedisError:
        raise DomainError(_("Redis no responde; inténtalo de nuevo en un momento.")) from None
