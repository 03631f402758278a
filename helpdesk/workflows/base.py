"""The transaction boundary, the audit trail and the checks every change shares."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session

from .. import queries
from ..errors import Conflict, DomainError
from ..extensions import IMMEDIATE, WRITE_INTENT, db
from ..models import AuditEntry, Message, MessageKind, Ticket, TicketStatus, User, event_body
from ..queries import links as link_queries

SUBJECT_MAX = 200


BODY_MAX = 50_000


PASSWORD_MIN = 8


REPLY_MAX = 20_000


NOTE_MAX = 10_000


@contextmanager
def atomic(*, lock: bool = True):
    """Commit once on success; roll back everything on any error.

    With `lock` (the default) the block runs `writing()`: on SQLite its transaction takes the
    write lock up front. `lock=False` starts deferred instead, for work that usually only
    reads (a sweep that finds nothing): its first write may then fail at once with "database
    is locked", and the caller runs it again under the lock (`jobs.mostly_reading`)."""
    with writing() if lock else nullcontext():
        try:
            yield db.session
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise


@contextmanager
def writing():
    """The transaction of this block is about to write. On SQLite it begins IMMEDIATE: it
    waits for the write lock up to the busy timeout (then "database is locked": a 503 on the
    web), instead of reading first and being refused at once when it writes. A read-only
    transaction still open in the session (what the request read before) is ended first;
    objects read so far keep what they read (tickets carry a version column, so a change
    made meanwhile is still a conflict). A rollback ends the block's claim: what follows it
    (the form shown again) only reads. PostgreSQL: no-op.

    `atomic()` uses it; so do Flask-Admin's own create/edit/delete (`StaffModelView`), and any
    write a GET must make (a last-seen time, say) goes through `atomic()` too."""
    session = db.session()  # this app context's Session (db.session is its scoped proxy)
    if session.info.get(WRITE_INTENT):  # nested: the outer block holds it
        yield
        return
    session.info[WRITE_INTENT] = True
    try:
        _end_read_transaction(session)
        yield
    finally:
        session.info.pop(WRITE_INTENT, None)


def _end_read_transaction(session: Session) -> None:
    if not session.in_transaction() or session.get_bind().dialect.name != "sqlite":
        return
    if session.connection().info.get(IMMEDIATE):  # begun just now, under WRITE_INTENT
        return
    if session.new or session.dirty or session.deleted:
        return  # changed outside writing(): left alone; a refused write is a 503 (errors_http)
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()  # it only read: nothing to lose, and nothing to reload
    finally:
        session.expire_on_commit = expire


@event.listens_for(Session, "after_rollback")
def _rolled_back(session):
    session.info.pop(WRITE_INTENT, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_row_locks(session, transaction):
    held = session.info.get(queries.LOCKED_TICKETS)
    if not held:
        return
    if transaction.parent is None:  # the database transaction ended: its row locks are gone
        session.info.pop(queries.LOCKED_TICKETS, None)
    else:  # a savepoint ended; if it was rolled back, so were the locks taken inside it
        for ticket_id in [t for t, taken_in in held.items() if taken_in is transaction]:
            del held[ticket_id]


def audit(obj, actor: User | None, action: str, *, field: str | None = None, old=None,
          new=None, reason: str | None = None) -> AuditEntry:
    """Write one audit row: who did what to which object, old → new, and why."""
    entry = AuditEntry(
        entity=obj.__tablename__,
        entity_id=obj.id,
        ticket_id=obj.id if isinstance(obj, Ticket) else None,
        ticket_version=obj.version if isinstance(obj, Ticket) else None,
        actor_id=actor.id if actor is not None else None,
        action=action,
        field=field,
        old_value=None if old is None else str(getattr(old, "value", old)),
        new_value=None if new is None else str(getattr(new, "value", new)),
        reason=reason,
    )
    db.session.add(entry)
    return entry


def clean_text(value: str | None, name: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise DomainError(_("El campo «%(name)s» es obligatorio.", name=name))
    if len(text) > limit:
        raise DomainError(
            _("El campo «%(name)s» admite como máximo %(limit)d caracteres.", name=name,
              limit=limit)
        )
    return text


def ensure_fresh(ticket: Ticket, expected_version: int | None) -> None:
    """Refuse to act on a ticket changed since the page was loaded, saying what changed.

    On PostgreSQL the ticket's row is locked first (and re-read), so every action from a page
    takes the ticket before anything it touches — rounds, counters, child rows — the one
    lock order; two actions at once then queue, and the second finds the new version."""
    if expected_version is None:
        return
    if db.engine.dialect.name == "postgresql" \
            and ticket.id not in db.session.info.get(queries.LOCKED_TICKETS, ()):
        queries.tickets_by_ids([ticket.id], for_update=True)
    if ticket.version == expected_version:
        return
    raise Conflict(_("Mientras trabajabas, otra persona cambió este ticket: %(changes)s. "
                     "Revisa el hilo y vuelve a enviar; tu texto sigue en el formulario.",
                     changes=queries.describe_changes_since(ticket.id, expected_version)))


def touch(ticket: Ticket, now: datetime) -> None:
    """Every change to a ticket bumps its version (the UPDATE carries version_id_col)."""
    ticket.updated_at = now


def add_event(ticket: Ticket, actor: User | None, now: datetime, event: str, **data) -> None:
    db.session.add(Message(ticket=ticket, kind=MessageKind.EVENT, author=actor, created_at=now,
                           body=event_body(event, **data)))


def refuse_if_merged(ticket: Ticket) -> None:
    """A merged ticket is closed for good: its thread, its customer's answers and the work on
    them go on in the ticket it was merged into (docs/merge.md)."""
    if ticket.status is not TicketStatus.RESOLVED:
        return
    target = link_queries.merged_into([ticket.id]).get(ticket.id)
    if target is not None:
        raise DomainError(_("Este ticket está fusionado en #%(id)d: responde y trabaja allí.",
                            id=target))
