"""Every change of state: tickets, assignment, users, the job outbox.

Each function validates, mutates, writes the audit row, flushes and returns. None commits: the
caller (a view, a job, a command) commits once, with `atomic()`. Refusals raise DomainError.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from werkzeug.security import generate_password_hash

from . import mail, queries, rules, templating
from .errors import CapacityExceeded, Conflict, DomainError, InvalidTransition
from .extensions import db, get_queue
from .models import (
    AuditEntry,
    Availability,
    Category,
    Channel,
    Customer,
    IntentState,
    JobIntent,
    Message,
    MessageKind,
    Notification,
    Priority,
    ResponseTemplate,
    Role,
    RoutingRule,
    Setting,
    SlaState,
    Strategy,
    Team,
    Ticket,
    TicketStatus,
    User,
    event_body,
)

log = logging.getLogger(__name__)

SUBJECT_MAX = 200
BODY_MAX = 50_000
PASSWORD_MIN = 8


# --- Transactions and the outbox ----------------------------------------------------------------


@contextmanager
def atomic():
    """Commit once on success; roll back everything on any error."""
    try:
        yield db.session
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


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


#: Outbox handlers by name: what an intent may run. Each takes plain arguments.
INTENT_HANDLERS: dict[str, Callable] = {}


def intent_handler(func: Callable) -> Callable:
    """Register `func` as runnable through the outbox under its own name."""
    INTENT_HANDLERS[func.__name__] = func
    return func


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


# --- Audit --------------------------------------------------------------------------------------


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


# --- Tickets ------------------------------------------------------------------------------------


def _clean_text(value: str | None, name: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise DomainError(_("El campo «%(name)s» es obligatorio.", name=name))
    if len(text) > limit:
        raise DomainError(
            _("El campo «%(name)s» admite como máximo %(limit)d caracteres.", name=name,
              limit=limit)
        )
    return text


def create_ticket(customer: Customer, subject: str, body: str, *, actor: User | None,
                  category: Category | None = None, priority: Priority = Priority.NORMAL,
                  channel: Channel = Channel.WEB, now: datetime | None = None) -> Ticket:
    """Open a ticket with the customer's first message; routing runs as a job after commit."""
    now = now or rules.utcnow()
    subject = _clean_text(subject, _("Asunto"), SUBJECT_MAX)
    body = _clean_text(body, _("Mensaje"), BODY_MAX)
    ticket = Ticket(
        subject=subject, customer=customer, category=category, priority=priority,
        channel=channel, language=customer.locale, status=TicketStatus.NEW,
        created_at=now, updated_at=now,
    )
    _apply_targets(ticket)
    ticket.messages.append(
        Message(kind=MessageKind.CUSTOMER, customer_id=customer.id, body=body, created_at=now)
    )
    db.session.add(ticket)
    db.session.flush()
    audit(ticket, actor, "create", reason=channel.value)
    schedule("route_ticket", ticket.id, key=f"route:{ticket.id}")
    return ticket


def _default_team_id() -> int | None:
    team_id = queries.get_setting("routing.default_team_id")
    if team_id is not None and db.session.get(Team, team_id) is not None:
        return team_id
    return db.session.scalar(select(Team.id).where(Team.active.is_(True)).order_by(Team.id))


@intent_handler
def route_ticket(ticket_id: int) -> int | None:
    """Route a new ticket to a team and give it to an eligible agent; the assignee's id or None.

    On PostgreSQL the commit does not wait for the disk (synchronous_commit off, for this
    transaction only): a crash can lose the last fraction of a second of routings, and with
    them their intents' done marks, so the outbox sweep routes those tickets again. Routing
    is repeatable and mails nobody, so nothing else is lost. The wait for the disk was 0.35 ms
    of 4.1 per ticket (bench/sla_sweep.py).
    """
    row = db.session.execute(queries.ticket_to_route(ticket_id)).first()
    if row is None:
        return None
    ticket, first_body, *_settings = row
    queries.hold_ticket_locks([ticket.id])
    if ticket.status is not TicketStatus.NEW or ticket.assignee_id:
        return None  # already handled: the job is idempotent on the ticket's state
    # What routing reads next (rules, policies, the team's agents) never depends on this
    # ticket's pending changes: no flush before each read, one flush at the end.
    with db.session.no_autoflush:
        return _route(ticket, first_body)


def _route(ticket: Ticket, first_body: str) -> int | None:
    decision = rules.route(ticket_facts(ticket, first_body), queries.routing_rule_specs(),
                           _fallback_team(ticket))
    why = f"rule:{decision.rule_id}" if decision.rule_id else "default"
    if decision.team_id != ticket.team_id:
        audit(ticket, None, "route", field="team", old=ticket.team_id, new=decision.team_id,
              reason=why)
        ticket.team_id = decision.team_id
    if decision.priority is not ticket.priority:
        audit(ticket, None, "route", field="priority", old=ticket.priority,
              new=decision.priority, reason=why)
        ticket.priority = decision.priority
        _apply_targets(ticket)
    if ticket.team_id is None:
        return None
    return auto_assign(ticket, decision.strategy, why)


def ticket_facts(ticket: Ticket, first_body: str | None = None) -> rules.TicketFacts:
    """What routing looks at, copied out of the ticket and its customer (`first_body`: the
    first message's text, when the caller already has it)."""
    if first_body is None:
        first_body = ticket.messages[0].body if ticket.messages else ""
    customer = ticket.customer
    return rules.TicketFacts(
        category_id=ticket.category_id, priority=ticket.priority, channel=ticket.channel.value,
        plan=customer.plan, country=customer.country, language=ticket.language,
        text=f"{ticket.subject}\n{first_body}",
    )


def _fallback_team(ticket: Ticket) -> int | None:
    category_team = ticket.category.default_team_id if ticket.category else None
    return category_team or _default_team_id()


def auto_assign(ticket: Ticket, strategy: Strategy | None, why: str) -> int | None:
    """Give the ticket to the best eligible agent of its team (by `strategy`, else the team's);
    None if nobody has room.

    Candidates are ranked without locks; each one's capacity is then re-checked and taken
    under their row lock (`queries.take_capacity`), so two workers assigning at once never
    push an agent over capacity.
    """
    team_strategy, loads = queries.team_agents(ticket.team_id)
    strategy = strategy or team_strategy
    now = rules.utcnow()
    for agent_id in rules.rank_agents(loads.values(), strategy, ticket.category_id):
        agent = _claim(ticket, agent_id, now)
        if agent is None:
            continue  # someone else filled them up meanwhile: next candidate
        _hand_over(ticket, agent, actor=None, reason=f"auto:{strategy.value}:{why}", now=now)
        return agent_id
    return None


@intent_handler
def assign_waiting(team_id: int) -> list[int]:
    """Assign the team's waiting (new, unassigned) tickets, nearest deadline first."""
    team = db.session.get(Team, team_id)
    if team is None:
        return []
    assigned = []
    tickets = queries.waiting_tickets(team_id)  # locked: tickets first, then agents
    if tickets:
        queries.lock_team_agents(team_id)  # every agent this pass can touch, in id order
    for ticket in tickets:
        if auto_assign(ticket, team.strategy, "waiting") is None:
            break  # nobody has room left
        assigned.append(ticket.id)
    return assigned


def sweep_waiting(now: datetime) -> int:
    """Safety net: every team with waiting tickets gets an assignment pass."""
    return sum(len(assign_waiting(team_id)) for team_id in queries.teams_with_waiting())


def assign_ticket(ticket: Ticket, agent: User | None, *, actor: User | None, reason: str,
                  now: datetime | None = None) -> None:
    """Give the ticket to `agent` (None: back to the team pool). Flushes; the caller commits."""
    now = now or rules.utcnow()
    if not rules.can_reassign(ticket.status):
        raise DomainError(_("Un ticket resuelto no se puede reasignar."))
    if agent is not None and agent.id != ticket.assignee_id \
            and _claim(ticket, agent.id, now) is None:
        raise CapacityExceeded(_("%(name)s no tiene capacidad libre.", name=agent.name))
    _hand_over(ticket, agent, actor=actor, reason=reason, now=now)


def _claim(ticket: Ticket, agent_id: int, now: datetime) -> User | None:
    """Room for the ticket with the agent, taken under their row lock (after the ticket's and
    the previous assignee's, in the one order): the agent, or None if they are full."""
    queries.lock_for_assignment(ticket.id, [agent_id, ticket.assignee_id])
    return queries.take_capacity(agent_id, now)


def _hand_over(ticket: Ticket, agent: User | None, *, actor: User | None, reason: str,
               now: datetime) -> None:
    if ticket.assignee_id is not None and ticket.team_id is not None \
            and (agent is None or agent.id != ticket.assignee_id):
        _schedule_waiting(ticket.team_id)  # the previous assignee has room again
    audit(ticket, actor, "assign", field="assignee", old=ticket.assignee_id,
          new=agent.id if agent else None, reason=reason)
    _event(ticket, actor, now, "assign", to=agent.name if agent else "")
    ticket.assignee = agent
    new_status = rules.status_after_assignment(ticket.status, agent is not None)
    _set_status(ticket, new_status, actor, reason, now)
    db.session.flush()


def recount_open_tickets() -> list[tuple[int, int, int]]:
    """Check every agent's open-ticket counter (`User.open_tickets`, kept by triggers) against
    their tickets and repair the wrong ones, each an audit row and a warning in the log. The
    wrong ones are counted again under their row locks before the repair, so a ticket assigned
    meanwhile is neither lost nor counted twice. Returns (user id, was, is) of each repair."""
    drifted = [user_id for user_id, _was, _is in queries.open_ticket_drift()]
    if not drifted:
        return []
    queries.lock_users(drifted)
    drift = queries.open_ticket_drift(drifted)
    for user_id, was, actual in drift:
        log.warning("open-ticket counter of user %s was %s, is %s: repaired", user_id, was,
                    actual)
        db.session.execute(update(User).where(User.id == user_id).values(open_tickets=actual))
        db.session.add(AuditEntry(entity="users", entity_id=user_id, action="recount",
                                  field="open_tickets", old_value=str(was),
                                  new_value=str(actual)))
    db.session.flush()
    return drift


def sweep_sla_states(now: datetime) -> int:
    """Bring every running ticket's SLA state up to `now` in one UPDATE; notify each first
    breach once (the UPDATE's WHERE makes that hold under two sweeps at once), by e-mail too
    when mail is configured. Returns how many tickets changed state."""
    mail_on = bool(current_app.config.get("MAIL_SERVER"))
    if db.engine.dialect.name == "postgresql":  # notices and audit rows in the same statement
        changed, _breached, notice_ids = queries.update_sla_states_and_notify(now, ids=mail_on)
    else:
        changed, breached = queries.update_sla_states(now)
        notice_ids = notify_breaches(breached, now)
    if mail_on:
        for notice_id in notice_ids:
            schedule("mail_notice", notice_id, queue="mail", key=f"notice-mail:{notice_id}")
    return changed


def notify_breaches(breached: list[tuple[int, int | None, int | None]],
                    now: datetime) -> list[int]:
    """The notices of `rules.breach_notices` and an audit row per breached (ticket, assignee,
    team), in bulk; the notices' ids. (PostgreSQL does the same inside the sweep's statement:
    `queries.update_sla_states_and_notify`.)"""
    if not breached:
        return []
    bosses = queries.supervisors_by_team({team for _t, _a, team in breached if team})
    notices = rules.breach_notices(breached, bosses)
    ids = []
    if notices:
        ids = list(db.session.scalars(insert(Notification).returning(Notification.id), [
            {"user_id": n.user_id, "ticket_id": n.ticket_id, "team_id": n.team_id,
             "count": n.count, "created_at": now,
             **({"kind": queries.BREACH, "message": f"{queries.BREACH}:{n.ticket_id}"}
                if n.ticket_id else
                {"kind": queries.BREACH_DIGEST, "message": f"{queries.BREACH_DIGEST}:{n.count}"})}
            for n in notices
        ]))
    db.session.execute(insert(AuditEntry), [
        {"entity": "tickets", "entity_id": ticket_id, "ticket_id": ticket_id, "actor_id": None,
         "action": queries.BREACH, "field": "sla_state", "new_value": SlaState.BREACHED.value,
         "created_at": now}
        for ticket_id, _a, _t in breached
    ])
    return ids


# --- People -------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """Hash with the HELPDESK_PASSWORD_HASH method: scrypt (memory-hard) unless configured."""
    method = current_app.config["HELPDESK_PASSWORD_HASH"] if current_app else "scrypt"
    return generate_password_hash(password, method=method)


def create_user(email: str, name: str, password: str, *, role: Role, actor: User | None,
                locale: str = "es", timezone: str = "Europe/Madrid") -> User:
    """Add a staff account; refuses a duplicate e-mail or a short password."""
    email = _clean_text(email, _("Correo electrónico"), 254).lower()
    if "@" not in email:
        raise DomainError(_("«%(email)s» no es una dirección de correo válida.", email=email))
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DomainError(_("Ya existe un usuario con el correo %(email)s.", email=email))
    if len(password or "") < PASSWORD_MIN:
        raise DomainError(_("La contraseña debe tener al menos %(n)d caracteres.", n=PASSWORD_MIN))
    user = User(email=email, name=name.strip() or email, role=role, locale=locale,
                timezone=timezone, password_hash=hash_password(password),
                availability=Availability.OFFLINE)
    db.session.add(user)
    db.session.flush()
    audit(user, actor, "create", field="role", new=role.name.lower())
    return user


def set_locale(user: User, locale: str) -> None:
    """Remember the user's panel language."""
    if locale not in current_app.config["HELPDESK_LOCALES"]:
        raise DomainError(_("Idioma no disponible: %(locale)s", locale=locale))
    if user.locale != locale:
        audit(user, user, "update", field="locale", old=user.locale, new=locale)
        user.locale = locale
        db.session.flush()


def set_availability(user: User, availability: Availability, *, actor: User) -> None:
    """Set an agent's availability (themselves, or a supervisor for them)."""
    if actor.id != user.id and actor.role < Role.SUPERVISOR:
        raise DomainError(_("Solo un supervisor puede cambiar la disponibilidad de otra persona."))
    if user.availability is not availability:
        audit(user, actor, "update", field="availability", old=user.availability,
              new=availability)
        user.availability = availability
        db.session.flush()
        if availability is Availability.AVAILABLE:
            for team in user.teams:
                _schedule_waiting(team.id)


def _schedule_waiting(team_id: int) -> None:
    """Ask for an assignment pass over the team's waiting tickets, after commit."""
    schedule("assign_waiting", team_id, key=f"waiting:{team_id}:{uuid.uuid4().hex}")


def update_ticket_details(ticket: Ticket, *, subject: str, category: Category | None,
                          actor: User | None) -> None:
    """Correct a ticket's subject or category; status, assignee and priority have own verbs."""
    subject = _clean_text(subject, _("Asunto"), SUBJECT_MAX)
    if subject != ticket.subject:
        audit(ticket, actor, "update", field="subject", old=ticket.subject, new=subject)
        ticket.subject = subject
    if category != ticket.category:
        audit(ticket, actor, "update", field="category", old=ticket.category, new=category)
        ticket.category = category
    db.session.flush()


# --- Working a ticket ---------------------------------------------------------------------------

REPLY_MAX = 20_000
NOTE_MAX = 10_000


def ensure_fresh(ticket: Ticket, expected_version: int | None) -> None:
    """Refuse to act on a ticket changed since the page was loaded, saying what changed."""
    if expected_version is None or ticket.version == expected_version:
        return
    raise Conflict(_("Mientras trabajabas, otra persona cambió este ticket: %(changes)s. "
                     "Revisa el hilo y vuelve a enviar; tu texto sigue en el formulario.",
                     changes=queries.describe_changes_since(ticket.id, expected_version)))


def _touch(ticket: Ticket, now: datetime) -> None:
    """Every change to a ticket bumps its version (the UPDATE carries version_id_col)."""
    ticket.updated_at = now


def take_ticket(ticket: Ticket, *, actor: User, expected_version: int | None = None) -> None:
    """The agent takes an unassigned ticket of one of their teams."""
    ensure_fresh(ticket, expected_version)
    if ticket.assignee_id is not None:
        raise DomainError(_("Este ticket ya está asignado a %(name)s.", name=ticket.assignee.name))
    if actor.role is Role.AGENT and ticket.team_id not in {t.id for t in actor.teams}:
        raise DomainError(_("Solo puedes tomar tickets de tus equipos."))
    assign_ticket(ticket, actor, actor=actor, reason="take")
    _touch(ticket, rules.utcnow())
    db.session.flush()


def add_reply(ticket: Ticket, text: str, *, actor: User, status: TicketStatus | None = None,
              expected_version: int | None = None, template: ResponseTemplate | None = None,
              now: datetime | None = None) -> Message:
    """Answer the customer: placeholders rendered, first response recorded once, mail queued."""
    ensure_fresh(ticket, expected_version)
    now = now or rules.utcnow()
    body = _clean_text(text, _("Respuesta"), REPLY_MAX)
    body = templating.render(body, templating.placeholder_context(ticket, actor)).strip()
    if not body:
        raise DomainError(_("La respuesta quedó vacía."))
    if ticket.assignee_id is None and ticket.status is not TicketStatus.RESOLVED:
        assign_ticket(ticket, actor, actor=actor, reason="reply", now=now)
    message = Message(ticket=ticket, kind=MessageKind.REPLY, author=actor, body=body,
                      created_at=now)
    db.session.add(message)
    audit(ticket, actor, "reply", reason=f"template:{template.id}" if template else None)
    if ticket.first_response_at is None:
        audit(ticket, actor, "first_response", field="first_response_at", new=now.isoformat())
        ticket.first_response_at = now
        _apply_targets(ticket, now)
    _set_status(ticket, rules.status_after_reply(ticket.status, status), actor, "reply", now)
    if template is not None:
        template.times_used = ResponseTemplate.times_used + 1
    _touch(ticket, now)
    db.session.flush()
    schedule("send_reply", message.id, key=f"mail:{message.id}", queue="mail")
    return message


def add_note(ticket: Ticket, text: str, *, actor: User, expected_version: int | None = None,
             now: datetime | None = None) -> Message:
    """An internal note: staff only, never mailed."""
    ensure_fresh(ticket, expected_version)
    now = now or rules.utcnow()
    body = _clean_text(text, _("Nota interna"), NOTE_MAX)
    note = Message(ticket=ticket, kind=MessageKind.NOTE, author=actor, body=body,
                   created_at=now)
    db.session.add(note)
    audit(ticket, actor, "note")
    _touch(ticket, now)
    db.session.flush()
    return note


def change_status(ticket: Ticket, status: TicketStatus, *, actor: User,
                  expected_version: int | None = None, now: datetime | None = None) -> None:
    """Move the ticket along an allowed transition (see rules.TRANSITIONS)."""
    ensure_fresh(ticket, expected_version)
    if not rules.can_transition(ticket.status, status):
        raise InvalidTransition(_("Un ticket %(old)s no puede pasar a %(new)s.",
                                  old=ticket.status.label.lower(), new=status.label.lower()))
    now = now or rules.utcnow()
    _set_status(ticket, status, actor, "manual", now)
    _touch(ticket, now)
    db.session.flush()


def _set_status(ticket: Ticket, status: TicketStatus, actor: User | None, reason: str,
                now: datetime) -> None:
    if status is ticket.status:
        return
    audit(ticket, actor, "status", field="status", old=ticket.status, new=status, reason=reason)
    _event(ticket, actor, now, "status", old=ticket.status.value, new=status.value)
    if status is TicketStatus.RESOLVED and ticket.assignee_id and ticket.team_id:
        _schedule_waiting(ticket.team_id)  # the assignee has room again
    _pause_or_resume(ticket, status, now)
    old, ticket.status = ticket.status, status
    ticket.resolved_at = now if status is TicketStatus.RESOLVED else None
    if not rules.same_clock(old, status):
        _apply_targets(ticket, now)


def _pause_or_resume(ticket: Ticket, status: TicketStatus, now: datetime) -> None:
    """The resolution clock stops while the ticket waits for the customer (Pendiente)."""
    if status is TicketStatus.PENDING and ticket.first_response_at is not None:
        ticket.sla_paused_at = ticket.sla_paused_at or now
    elif ticket.sla_paused_at is not None:
        _first, _resolution, calendar = queries.sla_policy(ticket.priority)
        waited = rules.business_time_between(ticket.sla_paused_at, now, calendar)
        ticket.sla_paused_minutes = (ticket.sla_paused_minutes or 0) + \
            waited.total_seconds() / 60
        ticket.sla_paused_at = None


def _apply_targets(ticket: Ticket, now: datetime | None = None) -> None:
    """(Re)compute deadlines, the running one, its warning time and the SLA state — at once,
    so the queue is right without waiting for the sweep."""
    first, resolution, calendar = queries.sla_policy(ticket.priority)
    clock = rules.sla_clock(
        status=ticket.status, created=ticket.created_at,
        answered=ticket.first_response_at is not None, first_minutes=first,
        resolution_minutes=resolution, paused_minutes=ticket.sla_paused_minutes or 0,
        warn_share=current_app.config["HELPDESK_SLA_WARN_SHARE"], calendar=calendar)
    ticket.first_response_due_at = clock.first_due
    ticket.resolution_due_at = clock.resolution_due
    ticket.sla_due_at, ticket.sla_warn_at = clock.running_due, clock.warn_at
    if clock.running_due is not None:
        ticket.sla_state = rules.sla_state_at(now or rules.utcnow(), clock.warn_at,
                                              clock.running_due)
        # Written even when it equals what the session holds: the sweep (a Core UPDATE) may
        # have moved it in the database since this ticket was loaded, and only moves forward.
        flag_modified(ticket, "sla_state")


def _event(ticket: Ticket, actor: User | None, now: datetime, event: str, **data) -> None:
    db.session.add(Message(ticket=ticket, kind=MessageKind.EVENT, author=actor, created_at=now,
                           body=event_body(event, **data)))


@intent_handler
def mail_notice(notification_id: int) -> None:
    """Outbox handler: e-mail a breach notice (one ticket, or a team's digest) to its person."""
    notice = db.session.get(Notification, notification_id)
    if notice is None or not notice.user.active:
        return  # gone (ticket or person deleted) or no longer staff: nothing to say
    if notice.ticket is not None:
        mail.deliver(mail.build_breach_notice(notice.ticket, notice.user))
    elif notice.kind == queries.BREACH_DIGEST:
        mail.deliver(mail.build_breach_digest(notice))


@intent_handler
def send_reply(message_id: int) -> None:
    """Outbox handler: mail one public reply to the customer (once)."""
    message = db.session.get(Message, message_id)
    if message is None or message.kind is not MessageKind.REPLY or message.email_message_id:
        return
    email = mail.build_reply(message)
    mail.deliver(email)
    message.email_message_id = str(email["Message-ID"]).strip()


def reassign_ticket(ticket: Ticket, *, team: Team | None, agent: User | None, actor: User,
                    expected_version: int | None = None) -> None:
    """A supervisor moves a ticket to a team and/or an agent (None: the team's pool)."""
    if actor.role < Role.SUPERVISOR:
        raise DomainError(_("Solo un supervisor puede reasignar tickets."))
    ensure_fresh(ticket, expected_version)
    team = team or (ticket.team if agent is None or ticket.team in agent.teams else None)
    if agent is not None and team is not None and team not in agent.teams:
        raise DomainError(_("%(name)s no pertenece al equipo %(team)s.", name=agent.name,
                            team=team.name))
    team = team or (agent.teams[0] if agent is not None and agent.teams else None)
    if team is not None and team.id != ticket.team_id:
        audit(ticket, actor, "assign", field="team", old=ticket.team_id, new=team.id,
              reason="manual")
        ticket.team = team
    if agent is not None or ticket.assignee_id is not None:
        assign_ticket(ticket, agent, actor=actor, reason="manual")
    _touch(ticket, rules.utcnow())
    db.session.flush()


def reassign_tickets(ticket_ids, *, team: Team | None, agent: User | None,
                     actor: User) -> list[Ticket]:
    """A supervisor moves several tickets at once (`reassign_ticket` each). Every lock is taken
    up front in the one order — the tickets by id, then every agent involved (the new one and
    the previous assignees) by id — so a bulk move never deadlocks with another assignment."""
    tickets = queries.tickets_by_ids(ticket_ids, for_update=True)
    involved = {ticket.assignee_id for ticket in tickets} | {agent.id if agent else None}
    queries.lock_users(involved - {None})
    for ticket in tickets:
        reassign_ticket(ticket, team=team, agent=agent, actor=actor)
    return tickets


# --- Routing configuration ----------------------------------------------------------------------


def move_rule(rule: RoutingRule, direction: int, *, actor: User) -> None:
    """Swap the rule with its neighbour above (-1) or below (+1) in evaluation order."""
    ordered = queries.routing_rules_ordered()
    index = ordered.index(rule)
    other = index + direction
    if not 0 <= other < len(ordered):
        return
    for position, row in enumerate(ordered, start=1):  # normalise: 10, 20, 30…
        row.position = position * 10
    neighbour = ordered[other]
    rule.position, neighbour.position = neighbour.position, rule.position
    audit(rule, actor, "update", field="position", old=neighbour.position, new=rule.position)
    db.session.flush()


def set_rules_enabled(rules_: list[RoutingRule], enabled: bool, *, actor: User) -> None:
    """Enable or disable routing rules."""
    for rule in rules_:
        if rule.enabled != enabled:
            audit(rule, actor, "update", field="enabled", old=rule.enabled, new=enabled)
            rule.enabled = enabled
    db.session.flush()


def change_priority(ticket: Ticket, priority: Priority, *, actor: User,
                    expected_version: int | None = None) -> None:
    """Reprioritise: the deadlines move to the new priority's targets at once."""
    ensure_fresh(ticket, expected_version)
    if priority is ticket.priority:
        return
    audit(ticket, actor, "priority", field="priority", old=ticket.priority, new=priority)
    ticket.priority = priority
    _apply_targets(ticket)
    _touch(ticket, rules.utcnow())
    db.session.flush()


def add_customer_message(ticket: Ticket, body: str, *, now: datetime | None = None) -> Message:
    """The customer writes again (mail, web): a waiting ticket reopens and its clock resumes."""
    now = now or rules.utcnow()
    message = Message(ticket=ticket, kind=MessageKind.CUSTOMER, customer_id=ticket.customer_id,
                      body=_clean_text(body, _("Mensaje"), BODY_MAX), created_at=now)
    db.session.add(message)
    if ticket.status in (TicketStatus.PENDING, TicketStatus.RESOLVED):
        _set_status(ticket, TicketStatus.OPEN, None, "customer", now)
    _touch(ticket, now)
    db.session.flush()
    return message


def mark_notifications_read(user: User, now: datetime | None = None) -> int:
    """Mark all of the user's notices as read; how many were unread."""
    now = now or rules.utcnow()
    notices = queries.unread_notifications(user.id, limit=10_000)
    for notice in notices:
        notice.read_at = now
    db.session.flush()
    return len(notices)


def set_default_team(team: Team | None, *, actor: User) -> None:
    """The team that gets tickets no routing rule (nor their category) places."""
    row = db.session.get(Setting, "routing.default_team_id")
    old = row.value if row else None
    new = team.id if team else None
    if old == new:
        return
    if row is None:
        row = Setting(key="routing.default_team_id")
        db.session.add(row)
    row.value = new
    db.session.add(AuditEntry(entity="settings", action="update", field="default_team",
                              old_value=None if old is None else str(old),
                              new_value=None if new is None else str(new),
                              actor_id=actor.id))
    db.session.flush()
