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
    """Store several messages and commit them with one intent that processes the new ones
    (the IMAP poller's batch; the pipe passes one). The batch goes in with one INSERT; if a
    concurrent delivery stored one of its Message-IDs meanwhile (the unique index refuses
    it), it goes in again one message per savepoint, as duplicates where they are."""
    now = rules.utcnow()
    with workflows.atomic():
        envelopes = [(raw, *envelope(raw)) for raw in raws]
        try:
            with db.session.begin_nested():
                results = _store_batch(envelopes, source, now)
        except IntegrityError:
            results = [_store_one(item, source, now) for item in envelopes]
        new = [row_id for row_id, is_new in results if is_new]
        if new:
            # the default queue: in turn with routing (the mail queue is for sending)
            workflows.schedule(PROCESS, new, key=f"inbound:{new[0]}", queue="default")
    return results


def _received(raw: bytes, message_id, sender, name, subject, source, now) -> InboundMail:
    return InboundMail(message_id=message_id, dedup_key=message_id, sender=sender,
                       sender_name=name, subject=subject, raw=raw, size=len(raw),
                       source=source, state=InboundState.RECEIVED, received_at=now)


def _store_batch(envelopes: list[tuple], source: str, now) -> list[tuple[int, bool]]:
    """Every message of the batch in one flush, then those whose Message-ID is stored already
    (or came earlier in the batch) as duplicates of the first, in another."""
    keys = {message_id for _raw, message_id, *_rest in envelopes}
    stored = dict(db.session.execute(select(InboundMail.dedup_key, InboundMail.id)
                                     .where(InboundMail.dedup_key.in_(keys))).all())
    batch: dict[str, InboundMail] = {}
    rows: list[InboundMail | None] = []  # None: a duplicate, made once the new rows have ids
    for raw, message_id, sender, name, subject in envelopes:
        if message_id in stored or message_id in batch:
            rows.append(None)
            continue
        batch[message_id] = _received(raw, message_id, sender, name, subject, source, now)
        rows.append(batch[message_id])
    db.session.add_all(batch.values())
    db.session.flush()
    stored.update((key, row.id) for key, row in batch.items())
    duplicates = [_duplicate_row(stored[message_id], message_id, sender, name, subject,
                                 len(raw), source, now)
                  for (raw, message_id, sender, name, subject), row in zip(envelopes, rows,
                                                                          strict=True)
                  if row is None]
    db.session.add_all(duplicates)
    db.session.flush()
    found = iter(duplicates)
    return [(row.id, True) if row is not None else (next(found).id, False) for row in rows]


def _store_one(item: tuple, source: str, now) -> tuple[int, bool]:
    raw, message_id, sender, name, subject = item
    row = _received(raw, message_id, sender, name, subject, source, now)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        first = db.session.scalar(select(InboundMail.id)
                                  .where(InboundMail.dedup_key == message_id))
        row = _duplicate_row(first, message_id, sender, name, subject, len(raw), source, now)
        db.session.add(row)
        db.session.flush()
        return row.id, False
    return row.id, True


def _duplicate_row(first: int, message_id, sender, name, subject, size, source,
                   now) -> InboundMail:
    """A second delivery of the message stored as `first`: recorded, without its bytes."""
    return InboundMail(message_id=message_id, dedup_key=None, sender=sender, sender_name=name,
                       subject=subject, raw=None, size=size, source=source,
                       state=InboundState.DUPLICATE, received_at=now, processed_at=now,
                       reason=f"duplicate of #{first}", duplicate_of_id=first)
