"""E-mail in: process a stored message (thread it, open a ticket, ignore or hold it), release or
discard a held one, the ticket's CC participants, the automatic acknowledgement.

`process_inbound` is an outbox handler: a message that fails unexpectedly is *held* with the
reason (its bytes stay) and the others go on (the run is done again with a savepoint per
message); a database error instead rolls the whole run back for the outbox to retry. The run
routes the tickets it opened before it commits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from .. import attachments, backoff, mail, rules
from ..errors import DomainError
from ..extensions import db
from ..inbound import thread as threading_
from ..inbound.parse import Limits, Parsed, Refused, parse
from ..models import (
    Attachment,
    Channel,
    Customer,
    InboundMail,
    InboundState,
    Message,
    Ticket,
    TicketParticipant,
    User,
)
from .assignment import route_tickets, schedule_bulk_routing
from .base import BODY_MAX, SUBJECT_MAX, audit
from .outbox import intent_handler, schedule
from .tickets import add_customer_message, create_ticket

log = logging.getLogger(__name__)


def limits() -> Limits:
    """The configured limits of one message."""
    config = current_app.config
    return Limits(max_bytes=config["MAIL_INBOUND_MAX_MB"] * 1024 * 1024,
                  max_depth=config["MAIL_INBOUND_MAX_DEPTH"],
                  max_parts=config["MAIL_INBOUND_MAX_PARTS"],
                  max_attachments=config["MAIL_ATTACHMENTS_MAX"],
                  max_attachment_bytes=config["MAIL_ATTACHMENT_MAX_MB"] * 1024 * 1024)


def parse_stored(row: InboundMail) -> Parsed:
    """Parse a stored message with the configured limits (Refused past one)."""
    config = current_app.config
    return parse(row.raw or b"", limits(), own_domain=config["MAIL_MESSAGE_ID_DOMAIN"],
                 known_lists=config["MAIL_KNOWN_LISTS"])


@intent_handler("process_inbound")
def process_inbound(inbound_ids: list[int]) -> None:
    """Outbox handler: process stored messages, each on its own (idempotent: only those still
    *received* are looked at). A message that answers one stored but not yet processed (its
    In-Reply-To/References name it) has that one processed first, in this run, so the answer
    threads whatever order the jobs ran in; if another run holds it, the answer waits for a
    later run (`_defer`). The run's new tickets are routed in its transaction (`_route_new`),
    and its acknowledgements sent by one job after it.

    The messages go through in one savepoint; only if one of them breaks the code is the run
    done again with a savepoint each, so that one is held and the others go on (a SAVEPOINT
    and its RELEASE per message were a sixth of a run's round trips)."""
    rows = db.session.scalars(select(InboundMail).where(InboundMail.id.in_(inbound_ids))
                              .order_by(InboundMail.id).with_for_update()).all()
    try:
        with db.session.begin_nested():
            run = _process_all(rows, careful=False)
    except SQLAlchemyError:
        raise  # the database, not a message: the outbox retries the run
    except Exception as exc:  # a message broke the code: again, each in its own savepoint
        log.info("inbound run %s: %s; processing its messages one savepoint each",
                 inbound_ids[0], backoff.error_summary(exc))
        run = _process_all(rows, careful=True)
    done = [r for r in run.handled if r.state is InboundState.PROCESSED]
    acknowledged = [r.id for r in done if r.acknowledged_at is not None]
    if acknowledged:  # one job, one SMTP connection for the run's acknowledgements
        schedule("mail_acknowledgements", acknowledged, key=f"ack:{acknowledged[0]}",
                 queue="mail")
    _route_new([r.ticket_id for r in done if r.opened_ticket and r.ticket_id])
    if run.deferred:
        _defer(run.deferred)


def _process_all(rows: list[InboundMail], *, careful: bool) -> _Run:
    run = _Run(threading_.staff_addresses(), rules.utcnow(), careful=careful)
    run.preload({row.sender for row in rows if row.state is InboundState.RECEIVED})
    for row in rows:
        _handle(row, run)
    run.apply_finished()
    return run


def _route_new(ticket_ids: list[int]) -> None:
    """Route the run's new tickets in its transaction, as `route_tickets` does (same rules,
    audit rows and events, locks in the one order). If routing breaks the code, the tickets
    stay new and one `route_tickets` job routes them later (retried by the outbox), so a
    routing fault never stops mail from coming in."""
    if not ticket_ids:
        return
    try:
        with db.session.begin_nested():
            route_tickets(ticket_ids)
    except SQLAlchemyError:
        raise
    except Exception as exc:
        log.warning("routing mail's new tickets failed (%s); left to a job",
                    backoff.error_summary(exc))
        schedule_bulk_routing(ticket_ids)


class _Run:
    """One processing run: who is staff, what it handled, what waits for another run, and
    what it knows of its senders (their customer, their tickets and acknowledgement in the
    last hour), read for the whole batch at once and kept up to date as it goes."""

    def __init__(self, staff: frozenset[str], now: datetime, *, careful: bool = True):
        self.staff, self.now, self.careful = staff, now, careful
        self.handled: list[InboundMail] = []
        self.seen: set[int] = set()
        self.deferred: list[int] = []
        self.customers: dict[str, Customer] = {}
        self.hour: dict[str, list] = {}  # sender: [tickets opened, acknowledged]
        self.finished: list[tuple] = []  # (row, _finish's arguments), written at the end

    def finish(self, row: InboundMail, *args, **kwargs) -> None:
        """A message's outcome: at once in a careful run; else kept, and every message's
        written by one statement at the end (`apply_finished`), not one round trip per
        message. The run's own messages are skipped by `seen`, so their rows reading
        *received* until then changes nothing (others see them only at the commit anyway)."""
        if self.careful:
            _finish(row, *args, **kwargs)
        else:
            self.finished.append((row, args, kwargs))

    def apply_finished(self) -> None:
        """Every kept outcome in one executemany (one pipeline on PostgreSQL): the unit of
        work would batch only neighbours with the same columns changed, a few at a time."""
        if not self.finished:
            return
        values = [_outcome(row, *args, **kwargs) for row, args, kwargs in self.finished]
        self.finished.clear()
        db.session.flush()
        table = InboundMail.__table__
        db.session.execute(update(table).where(table.c.id == bindparam("row_id")),
                           [{"row_id": row.id, **changed} for row, changed in values])
        for row, changed in values:  # the loaded rows say what the database now holds
            for column, value in changed.items():
                set_committed_value(row, column, value)

    def preload(self, senders: set[str]) -> None:
        senders = {s for s in senders if s}
        if not senders:
            return
        known = threading_.customers_by_address(senders)
        self.customers.update({s: known.get(s) for s in senders})  # None: a new customer
        self.hour.update({s: [0, False] for s in senders})
        self.hour.update(senders_last_hour(senders, self.now))

    def customer(self, sender: str) -> Customer | None:
        if sender not in self.customers:
            self.customers[sender] = threading_.customer_by_address(sender)
        return self.customers[sender]

    def last_hour(self, sender: str) -> list:
        if sender not in self.hour:
            self.hour[sender] = list(sender_last_hour(sender, self.now))
        return self.hour[sender]

    def forget(self, sender: str) -> None:
        """A message of this sender was rolled back: what the run knew may be undone too."""
        self.customers.pop(sender, None)
        self.hour.pop(sender, None)


#: How far back a chain of unprocessed answers is followed within one run.
PARENT_DEPTH = 20
#: How long an answer waits when another run holds the message it answers.
DEFER = timedelta(seconds=20)


def _handle(row: InboundMail, run: _Run, depth: int = 0) -> None:
    """Process one message, the stored messages it answers first. In a careful run each has
    its own savepoint (so a failure of this one never undoes them): an unexpected failure
    holds it with the reason; a database error fails the whole run either way."""
    if row.state is not InboundState.RECEIVED or row.id in run.seen:
        return
    run.seen.add(row.id)
    try:
        parsed = parse_stored(row)
    except Refused as refused:
        run.handled.append(row)
        return run.finish(row, InboundState.HELD, refused.reason)
    except Exception as exc:  # the parser's own failure: kept, held with the reason
        run.handled.append(row)
        return _hold(row, exc)
    if depth < PARENT_DEPTH and not parsed.automatic:
        parents, busy = _unprocessed_parents(parsed.references, row.id)
        if busy:  # another run is processing what this answers: wait for it
            run.deferred.append(row.id)
            return
        for parent in parents:
            _handle(parent, run, depth + 1)
    run.handled.append(row)
    if not run.careful:  # any failure undoes the whole run, which is then done carefully
        return _process(row, parsed, run)
    try:
        with db.session.begin_nested():
            _process(row, parsed, run)
    except SQLAlchemyError:
        raise  # the database, not the message: the outbox retries the run
    except Exception as exc:  # this message only: kept, held with the reason
        run.forget(parsed.sender)
        _hold(row, exc)


def _hold(row: InboundMail, exc: Exception) -> None:
    log.warning("inbound %s held: %s", row.id, backoff.error_summary(exc))
    _finish(row, InboundState.HELD, "processing failed: " + backoff.error_summary(exc))


def _unprocessed_parents(references: list[str], row_id: int) -> tuple[list[InboundMail], bool]:
    """The stored messages this one names (In-Reply-To/References) that are still waiting to
    be processed, row-locked, oldest first; and whether any of them is held by another run
    (PostgreSQL: skipped, not waited for, so two runs never wait on each other)."""
    if not references:
        return [], False
    waiting = (InboundMail.dedup_key.in_(references),
               InboundMail.state == InboundState.RECEIVED, InboundMail.id != row_id)
    count = db.session.scalar(select(func.count()).select_from(InboundMail).where(*waiting))
    if not count:  # the usual case: what it answers was processed long ago (or is not ours)
        return [], False
    parents = list(db.session.scalars(select(InboundMail).where(*waiting)
                                      .order_by(InboundMail.id)
                                      .with_for_update(skip_locked=True)))
    return parents, count > len(parents)


def _defer(inbound_ids: list[int]) -> None:
    """Answers whose first message another run was processing: a later run takes them (the
    outbox sweep hands it over after the short delay)."""
    schedule("process_inbound", inbound_ids,
             key=f"inbound:{inbound_ids[0]}:later:{uuid.uuid4().hex}", delay=DEFER)


def _outcome(row: InboundMail, state: InboundState, reason: str | None,
             ticket: Ticket | None = None, *, opened: bool = False,
             acknowledged_at: datetime | None = None) -> tuple[InboundMail, dict]:
    """The columns a message's outcome sets (every outcome the same columns, so that a run's
    are written by one statement)."""
    return row, {"state": state, "reason": (reason or None) and reason[:300],
                 "processed_at": rules.utcnow(),
                 "ticket_id": ticket.id if ticket is not None else row.ticket_id,
                 "opened_ticket": opened if ticket is not None else row.opened_ticket,
                 "acknowledged_at": acknowledged_at or row.acknowledged_at}


def _finish(row: InboundMail, *args, **kwargs) -> None:
    """Write a message's outcome now (`_outcome`)."""
    for column, value in _outcome(row, *args, **kwargs)[1].items():
        setattr(row, column, value)
    db.session.flush()


def _process(row: InboundMail, parsed: Parsed, run: _Run) -> None:
    now, staff = rules.utcnow(), run.staff
    if parsed.automatic:
        return run.finish(row, InboundState.IGNORED, parsed.automatic)
    if "@" not in parsed.sender:
        return run.finish(row, InboundState.HELD, "no sender address")
    domain = current_app.config["MAIL_MESSAGE_ID_DOMAIN"]
    found = threading_.find_thread(parsed.references, parsed.subject, parsed.sender, domain)
    if found.ticket is not None:
        message = add_customer_message(found.ticket, _body(parsed), now=now)
        _keep(message, row, parsed, staff)
        return run.finish(row, InboundState.PROCESSED, f"threaded ({found.via})", found.ticket)
    if parsed.sender in staff:
        return run.finish(row, InboundState.HELD, "From: is a staff address"
                       + (f" (claims ticket #{found.claimed})" if found.claimed else ""))
    limit = current_app.config["MAIL_TICKETS_PER_SENDER_HOUR"]
    hour = run.last_hour(parsed.sender)
    if hour[0] >= limit:
        return run.finish(row, InboundState.HELD, f"more than {limit} new tickets in an hour")
    customer = run.customer(parsed.sender) or new_customer(parsed)
    ticket = open_ticket(row, parsed, now, staff, customer=customer,
                         route=False)  # routed with the run's other new tickets, by one job
    run.customers[parsed.sender] = ticket.customer
    hour[0] += 1
    acknowledged = not hour[1] and acknowledges()
    hour[1] = hour[1] or acknowledged
    reason = f"new ticket; sender not a participant of #{found.claimed}" if found.claimed \
        else "new ticket"
    run.finish(row, InboundState.PROCESSED, reason, ticket, opened=True,
               acknowledged_at=now if acknowledged else None)


def sender_last_hour(sender: str, now: datetime) -> tuple[int, bool]:
    """How many tickets this sender's mail opened in the last hour, and whether they were
    sent an acknowledgement in it (one query)."""
    return tuple(senders_last_hour({sender}, now).get(sender, (0, False)))


def senders_last_hour(senders: set[str], now: datetime) -> dict[str, list]:
    """`sender_last_hour` of several senders in one query (those with nothing: absent)."""
    cutoff = now - timedelta(hours=1)
    rows = db.session.execute(
        select(InboundMail.sender,
               func.count().filter(InboundMail.opened_ticket.is_(True),
                                   InboundMail.received_at > cutoff),
               func.max(InboundMail.acknowledged_at))
        .where(InboundMail.sender.in_(list(senders)),
               or_(InboundMail.received_at > cutoff, InboundMail.acknowledged_at > cutoff))
        .group_by(InboundMail.sender))
    return {sender: [opened, last_ack is not None and last_ack > cutoff]
            for sender, opened, last_ack in rows}


def _body(parsed: Parsed) -> str:
    return (parsed.body or "(sin texto)")[:BODY_MAX]


def open_ticket(row: InboundMail, parsed: Parsed, now: datetime,
                staff: frozenset[str] | None = None, *, customer: Customer | None = None,
                route: bool = True) -> Ticket:
    """A new ticket from a message: the customer found (or created) by the From address
    (`customer`: the caller found or created them already); `route` as in `create_ticket`."""
    customer = customer or threading_.customer_by_address(parsed.sender) \
        or new_customer(parsed)
    subject = (parsed.subject or "(sin asunto)")[:SUBJECT_MAX]
    ticket = create_ticket(customer, subject, _body(parsed), actor=None, channel=Channel.EMAIL,
                           now=now, route=route, email_message_id=row.message_id,
                           quoted=parsed.quoted)
    _keep(ticket.messages[0], row, parsed, staff)
    return ticket


def new_customer(parsed: Parsed) -> Customer:
    """The customer a message's sender becomes when we do not know the address."""
    customer = Customer(email=parsed.sender[:254],
                        name=parsed.sender_name or parsed.sender.split("@")[0][:120],
                        locale=parsed.language or current_app.config["BABEL_DEFAULT_LOCALE"])
    db.session.add(customer)
    db.session.flush()
    return customer


def _keep(message: Message, row: InboundMail, parsed: Parsed,
          staff: frozenset[str] | None = None) -> None:
    """The customer message remembers its Message-ID (replies thread on it) and quoted
    history; CC addresses join the ticket; attachments are stored by content hash."""
    if (message.email_message_id, message.quoted) != (row.message_id, parsed.quoted):
        message.email_message_id, message.quoted = row.message_id, parsed.quoted  # an answer
    add_participants(message.ticket, parsed.cc, staff)
    for item in parsed.attachments:
        digest, relative = attachments.store(item.data)
        # message=…, not message.attachments.append: no SELECT of a collection known empty
        db.session.add(Attachment(
            message=message, filename=attachments.safe_filename(item.filename),
            content_type=attachments.sniffed_type(item.data), size=len(item.data),
            storage_path=relative, sha256=digest))
    db.session.flush()


def attach_files(message: Message, files: list[tuple[str, bytes]]) -> None:
    """Files an agent attaches to a reply: the inbound limits (count, size), stored by content
    hash like inbound ones; the reply's mail carries them."""
    config = current_app.config
    if len(files) > config["MAIL_ATTACHMENTS_MAX"]:
        raise DomainError(_("Puedes adjuntar como máximo %(n)d archivos.",
                            n=config["MAIL_ATTACHMENTS_MAX"]))
    for name, data in files:
        if len(data) > config["MAIL_ATTACHMENT_MAX_MB"] * 1024 * 1024:
            raise DomainError(_("«%(name)s» supera el tamaño máximo de %(mb)d MB.",
                                name=attachments.safe_filename(name),
                                mb=config["MAIL_ATTACHMENT_MAX_MB"]))
        digest, relative = attachments.store(data)
        message.attachments.append(Attachment(
            filename=attachments.safe_filename(name), content_type=attachments.sniffed_type(data),
            size=len(data), storage_path=relative, sha256=digest))
    db.session.flush()


def add_participants(ticket: Ticket, addresses: list[tuple[str, str]],
                     staff: frozenset[str] | None = None) -> None:
    """Keep the CC (and other To) addresses of a customer's mail as ticket participants;
    never our own address, the customer's or a staff member's."""
    own = {mail.support_address().lower(), ticket.customer.email.lower()}
    staff = threading_.staff_addresses() if staff is None else staff
    addresses = [(n, a) for n, a in addresses if a not in own and a not in staff]
    if not addresses:
        return
    known = {p.lower() for p in db.session.scalars(
        select(TicketParticipant.email).where(TicketParticipant.ticket_id == ticket.id))}
    for name, address in addresses:
        if address in known:
            continue
        db.session.add(TicketParticipant(ticket_id=ticket.id, email=address[:254],
                                         name=name[:120], created_at=rules.utcnow()))
        known.add(address)
    db.session.flush()


def remove_participant(participant: TicketParticipant, *, actor: User) -> None:
    """An agent takes an address off the ticket: no more copies, no more writing to it."""
    ticket = db.session.get(Ticket, participant.ticket_id)
    audit(ticket, actor, "participant_removed", field="cc", old=participant.email)
    db.session.delete(participant)
    db.session.flush()


def acknowledges() -> bool:
    """Whether a new ticket from mail gets the automatic acknowledgement (configurable), sent
    by one job after the processing run (its message's `acknowledged_at` marks it). The caller
    checked there was none to this sender in the last hour (`sender_last_hour`); auto-replies,
    bulk and held mail never get here."""
    return bool(current_app.config["MAIL_ACKNOWLEDGE"])


@intent_handler("mail_acknowledgements")
def mail_acknowledgements(inbound_ids: list[int]) -> Callable[[], None] | None:
    """Outbox handler: send the acknowledgements of the tickets these messages opened, over
    one connection (each with its own fixed Message-ID, so a retry duplicates nothing)."""
    rows = db.session.scalars(select(InboundMail).where(InboundMail.id.in_(inbound_ids))
                              .options(selectinload(InboundMail.ticket)
                                       .joinedload(Ticket.customer))
                              .order_by(InboundMail.id)).all()
    mails = [mail.build_acknowledgement(r.ticket, r) for r in rows if r.ticket is not None]
    return partial(mail.deliver_many, mails) if mails else None


def release_held(row: InboundMail, *, actor: User) -> Ticket:
    """A supervisor releases a held message as a new ticket (its limits were the reason, so
    they are not applied again; a message that cannot be parsed at all opens a ticket with
    what its headers say)."""
    if row.state is not InboundState.HELD:
        raise DomainError(_("Este mensaje ya no está retenido."))
    now = rules.utcnow()
    unlimited = Limits(max_bytes=2**62, max_depth=10**6, max_parts=10**6,
                       max_attachments=10**6, max_attachment_bytes=2**62)
    try:
        parsed = parse(row.raw or b"", unlimited, own_domain="", known_lists=())
    except Exception:  # what held it may break the parser too: a ticket from the headers
        parsed = Parsed(message_id=row.message_id, sender=row.sender,
                        sender_name=row.sender_name, subject=row.subject, references=[], cc=[],
                        body="(sin texto)", quoted=None, language=None, automatic=None)
    if "@" not in parsed.sender:
        raise DomainError(_("Este mensaje no tiene remitente: no puede abrir un ticket."))
    ticket = open_ticket(row, parsed, now)
    audit(ticket, actor, "mail_released", reason=f"inbound:{row.id}")
    _finish(row, InboundState.PROCESSED, f"released by {actor.email}", ticket, opened=True)
    return ticket


def discard_held(row: InboundMail, *, actor: User) -> None:
    """A supervisor discards a held message: kept as *ignored*, with who did it."""
    if row.state is not InboundState.HELD:
        raise DomainError(_("Este mensaje ya no está retenido."))
    _finish(row, InboundState.IGNORED, f"discarded by {actor.email}")
