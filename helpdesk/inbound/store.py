"""Store a message raw, in its own transaction, before anything else is done with it.

Used by both ways in (the MTA pipe and the IMAP poller). Only the headers are read here (the
Message-ID, the sender and the subject, for the lists); parsing and everything after it run
later, as an outbox job, so a failure there never loses the message. The unique `dedup_key`
turns a second delivery of the same Message-ID (even by two processes at once) into a
*duplicate* row: one message, every delivery accounted for.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import rules, workflows
from ..extensions import db
from ..models import InboundMail, InboundState
from .parse import envelope

#: The outbox handler that processes stored messages (registered in workflows.inbound).
PROCESS = "process_inbound"


def store_raw(raw: bytes, *, source: str) -> tuple[int, bool]:
    """Commit one message's bytes and its processing intent; (row id, True if new, False if a
    duplicate of a message already stored)."""
    ids = store_many([raw], source=source)
    return ids[0]


def store_many(raws: list[bytes], *, source: str) -> list[tuple[int, bool]]:
    """Store several messages, each in its own savepoint, and commit them with one intent
    that processes the new ones (the IMAP poller's batch; the pipe passes one)."""
    results, new = [], []
    now = rules.utcnow()
    with workflows.atomic():
        for raw in raws:
            message_id, sender, name, subject = envelope(raw)
            row = InboundMail(message_id=message_id, dedup_key=message_id, sender=sender,
                              sender_name=name, subject=subject, raw=raw, size=len(raw),
                              source=source, state=InboundState.RECEIVED, received_at=now)
            try:
                with db.session.begin_nested():
                    db.session.add(row)
            except IntegrityError:
                row = _duplicate(message_id, sender, name, subject, len(raw), source, now)
                results.append((row.id, False))
                continue
            new.append(row.id)
            results.append((row.id, True))
        if new:
            # the default queue: in turn with routing (the mail queue is for sending)
            workflows.schedule(PROCESS, new, key=f"inbound:{new[0]}", queue="default")
    return results


def _duplicate(message_id, sender, name, subject, size, source, now) -> InboundMail:
    first = db.session.scalar(select(InboundMail.id).where(InboundMail.dedup_key == message_id))
    row = InboundMail(message_id=message_id, dedup_key=None, sender=sender, sender_name=name,
                      subject=subject, raw=None, size=size, source=source,
                      state=InboundState.DUPLICATE, received_at=now, processed_at=now,
                      reason=f"duplicate of #{first}", duplicate_of_id=first)
    db.session.add(row)
    db.session.flush()
    return row
