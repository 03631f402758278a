"""The read side: select builders, the agent loads assignment needs, the SLA sweep UPDATEs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    union,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.sql.functions import FunctionElement

from . import rules
from .extensions import db
from .models import (
    AuditEntry,
    Category,
    Customer,
    IntentState,
    JobIntent,
    Message,
    Notification,
    Priority,
    ResponseTemplate,
    Role,
    RoutingRule,
    SatisfactionRating,
    Setting,
    SlaPolicy,
    SlaState,
    Strategy,
    Team,
    Ticket,
    TicketStatus,
    User,
    UTCDateTime,
    agent_skills,
    team_members,
    team_supervisors,
)

OPEN_STATES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)

#: Kind of notice and audit action of a first SLA breach; kind of a notice for many at once.
BREACH = "sla_breach"
BREACH_DIGEST = "sla_breach_digest"


def get_setting(key: str, default=None):
    """A value of the settings table, or `default`."""
    row = db.session.get(Setting, key)
    return default if row is None else row.value


class TeamAgents(NamedTuple):
    """A team as assignment sees it: its strategy (None when it has no active member) and how
    each active member stands (`rules.AgentLoad`), by id."""

    strategy: Strategy | None
    loads: dict[int, rules.AgentLoad]


def team_agents(team_id: int) -> TeamAgents:
    """The team's strategy and every active member's load, in one statement, as columns: fresh
    from the database (open tickets from `User.open_tickets`, kept by triggers), so a ranking
    right after an assignment sees it, and no User object is built or refreshed for it."""
    stmt = (
        select(User.id, User.availability, User.capacity, User.open_tickets,
               User.last_assigned_at, agent_skills.c.category_id, Team.strategy)
        .join(team_members, team_members.c.user_id == User.id)
        .join(Team, Team.id == team_members.c.team_id)
        .outerjoin(agent_skills, agent_skills.c.user_id == User.id)
        .where(team_members.c.team_id == team_id, User.active.is_(True))
        .order_by(User.id)
    )
    people: dict[int, tuple[tuple, set[int]]] = {}
    strategy = None
    for user_id, *load, skill, team_strategy in db.session.execute(stmt):
        people.setdefault(user_id, (load, set()))[1].add(skill)
        strategy = team_strategy  # the same on every row: one team
    return TeamAgents(strategy, {
        user_id: rules.AgentLoad(
            id=user_id, availability=availability, capacity=capacity, open_tickets=open_tickets,
            last_assigned_at=last_assigned_at, skills=frozenset(skills - {None}))
        for user_id, ((availability, capacity, open_tickets, last_assigned_at), skills)
        in people.items()
    })


def team_agent_loads(team_id: int) -> list[rules.AgentLoad]:
    """How assignment sees each active member of the team (see `team_agents`)."""
    return list(team_agents(team_id).loads.values())


def ticket_to_route(ticket_id: int):
    """(ticket, its first message's text, …) in one statement, the ticket row-locked, with its
    customer and category loaded: everything routing reads of it. On PostgreSQL the same
    statement makes this transaction's commit asynchronous (see `workflows.route_ticket`)."""
    first_body = (
        select(Message.body).where(Message.ticket_id == Ticket.id)
        .order_by(Message.created_at, Message.id).limit(1).scalar_subquery()
    )
    extra = ([func.set_config("synchronous_commit", "off", True)]
             if db.engine.dialect.name == "postgresql" else [])
    return (
        select(Ticket, first_body, *extra)
        .options(joinedload(Ticket.customer, innerjoin=True), joinedload(Ticket.category))
        .where(Ticket.id == ticket_id)
        .with_for_update(of=Ticket, key_share=True)
    )


#: `Session.info` key: {ticket id: the (sub)transaction that row-locked it}, for the tickets
#: this transaction holds locks on. `workflows` forgets them when that transaction ends.
LOCKED_TICKETS = "helpdesk.locked_tickets"


def hold_ticket_locks(ticket_ids) -> None:
    """Note that this transaction row-locked these tickets (`lock_for_assignment` skips them);
    inside a savepoint, until that savepoint ends (rolling it back releases them)."""
    session = db.session()  # the Session itself: the scoped proxy lacks these two
    transaction = session.get_nested_transaction() or session.get_transaction()
    db.session.info.setdefault(LOCKED_TICKETS, {}).update(
        (ticket_id, transaction) for ticket_id in ticket_ids)


def lock_for_assignment(ticket_id: int, agent_ids) -> None:
    """Take the row locks an assignment needs in the one order every assigner follows: the
    ticket, then the agents (new and previous) by id. Without it two assignments crossing paths
    deadlock — A's ticket going to B while B's goes to A; a worker routing a ticket (ticket
    locked, then its agent) while that agent replies to it (agent, then ticket) — because the
    capacity check locks the new agent and the counter's trigger then locks the old one.
    PostgreSQL only: SQLite has one writer at a time. The ticket is skipped when this
    transaction already holds it (routing, the waiting-ticket pass)."""
    if db.engine.dialect.name != "postgresql":
        return
    if ticket_id not in db.session.info.get(LOCKED_TICKETS, ()):
        db.session.execute(select(Ticket.id).where(Ticket.id == ticket_id)
                           .with_for_update(key_share=True))
        hold_ticket_locks([ticket_id])
    agent_ids = set(agent_ids) - {None}
    if len(agent_ids) > 1:  # one agent is locked by `take_capacity` itself
        lock_users(agent_ids)


def take_capacity(agent_id: int, now: datetime) -> User | None:
    """Claim room for one more ticket: under the agent's row lock, if they hold fewer than
    their capacity, mark them assigned at `now` and return them (the same statement loads
    them). None if they are full. PostgreSQL re-checks the condition on the row's latest
    version after waiting for a concurrent assigner, so two workers can never push an agent
    over capacity; the ticket UPDATE that follows (same transaction, lock still held) moves
    the count."""
    return db.session.scalars(
        update(User)
        .where(User.id == agent_id, User.open_tickets < User.capacity)
        .values(last_assigned_at=now)
        .returning(User)
        # "fetch": the rows the database changed get the new value in the session too; the
        # default would judge the WHERE on the session's (possibly stale) open_tickets.
        .execution_options(synchronize_session="fetch")
    ).first()


def open_ticket_drift(user_ids: Sequence[int] | None = None) -> list[tuple[int, int, int]]:
    """(user id, stored `open_tickets`, true count) of every user whose counter is wrong; one
    statement, so one snapshot: a change in flight is either in both numbers or in neither."""
    held = (
        select(Ticket.assignee_id, func.count().label("n"))
        .where(Ticket.assignee_id.is_not(None), Ticket.status.in_(OPEN_STATES))
        .group_by(Ticket.assignee_id)
        .subquery()
    )
    actual = func.coalesce(held.c.n, 0)
    stmt = (
        select(User.id, User.open_tickets, actual)
        .outerjoin(held, held.c.assignee_id == User.id)
        .where(User.open_tickets != actual)
        .order_by(User.id)
    )
    if user_ids is not None:
        stmt = stmt.where(User.id.in_(list(user_ids)))
    return [tuple(row) for row in db.session.execute(stmt)]


def lock_users(user_ids: Iterable[int]) -> None:
    """Row-lock these users in id order (PostgreSQL; SQLite has one writer at a time): the
    counter's triggers wait for us. FOR NO KEY UPDATE, what an UPDATE of their row takes, so
    inserts that merely reference them (audit rows, messages) are not held up."""
    user_ids = list(user_ids)
    if db.engine.dialect.name == "postgresql" and user_ids:
        db.session.execute(select(User.id).where(User.id.in_(user_ids))
                           .order_by(User.id).with_for_update(key_share=True))


def lock_team_agents(team_id: int) -> None:
    """Row-lock the team's active members in id order (PostgreSQL): a transaction that assigns
    several tickets to them takes every agent lock up front, in the one order."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            select(User.id).join(team_members, team_members.c.user_id == User.id)
            .where(team_members.c.team_id == team_id, User.active.is_(True))
            .order_by(User.id).with_for_update(of=User, key_share=True))


def routing_rule_specs() -> list[rules.RuleSpec]:
    """The enabled routing rules in evaluation order, as plain data."""
    stmt = (
        select(RoutingRule)
        .where(RoutingRule.enabled.is_(True))
        .order_by(RoutingRule.position, RoutingRule.id)
    )
    return [
        rules.RuleSpec(
            id=r.id, name=r.name, team_id=r.team_id, category_id=r.category_id,
            priority=r.priority, channel=r.channel, plan=r.plan, country=r.country,
            language=r.language, keywords=rules.parse_keywords(r.keywords),
            priority_override=r.priority_override, strategy=r.strategy,
        )
        for r in db.session.scalars(stmt)
    ]


def tickets_by_ids(ids: Sequence[int], *, for_update: bool = False) -> list[Ticket]:
    """The tickets with these ids, locked for update where the database can."""
    valid = [i for i in (rules.parse_id(i) for i in ids) if i is not None]
    stmt = select(Ticket).where(Ticket.id.in_(valid)).order_by(Ticket.id)
    if for_update:
        stmt = stmt.with_for_update(key_share=True)
    tickets = list(db.session.scalars(stmt))
    if for_update:
        hold_ticket_locks(ticket.id for ticket in tickets)
    return tickets


def stale_intents(now: datetime, retry_after: timedelta, limit: int = 500) -> list[JobIntent]:
    """Pending outbox rows not handed to Redis recently: lost or never enqueued."""
    cutoff = now - retry_after
    stmt = (
        select(JobIntent)
        .where(
            JobIntent.state == IntentState.PENDING,
            func.coalesce(JobIntent.enqueued_at, JobIntent.created_at) <= cutoff,
        )
        .order_by(JobIntent.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def sla_state_at_sql(now: datetime):
    """The SLA state a running deadline has at `now`, as SQL (rules.sla_state_at's twin)."""
    def state(value: SlaState):
        return literal(value, Ticket.sla_state.type)

    return case((Ticket.sla_due_at <= now, state(SlaState.BREACHED)),
                (Ticket.sla_warn_at <= now, state(SlaState.APPROACHING)),
                else_=state(SlaState.OK))


def sla_state_update(now: datetime):
    """One UPDATE that moves every running ticket whose state is behind `now` forward to the
    state it has at `now`, returning (id, assignee_id, team_id, sla_state) of each changed row.

    Only forward (ok → approaching → breached): a sweep with an earlier `now` that runs late
    never takes a breached ticket back to approaching, which would make the next sweep breach
    it — and notify — a second time. Deadlines that move later reset the state themselves
    (`workflows._apply_targets`). Concurrent sweeps are safe: PostgreSQL re-checks the WHERE on
    a row another sweep just changed, so each ticket changes (and breaches) in one of them only.
    It leaves updated_at alone: the clock moving is not an edit."""
    target = sla_state_at_sql(now)
    tickets = Ticket.__table__
    behind = or_(
        and_(tickets.c.sla_due_at <= now, tickets.c.sla_state != SlaState.BREACHED),
        and_(tickets.c.sla_warn_at <= now, tickets.c.sla_state == SlaState.OK),
    )
    return (
        update(tickets)
        .where(tickets.c.sla_due_at.is_not(None), behind)
        .values(sla_state=target, updated_at=tickets.c.updated_at)
        .returning(tickets.c.id, tickets.c.assignee_id, tickets.c.team_id, tickets.c.sla_state)
    )


def update_sla_states(now: datetime) -> tuple[int, list[tuple[int, int | None, int | None]]]:
    """Run `sla_state_update`: how many changed and, for the tickets that just breached,
    (id, assignee id, team id)."""
    rows = db.session.execute(sla_state_update(now)).all()
    return len(rows), [(row.id, row.assignee_id, row.team_id) for row in rows
                       if row.sla_state == SlaState.BREACHED]


def update_sla_states_and_notify(now: datetime, *, ids: bool) -> tuple[int, int, list[int]]:
    """PostgreSQL: `sla_state_update`, with each first breach's notices and audit row inserted
    by the same statement, so a sweep that breaches a hundred thousand tickets never ships them
    through Python. Who is told what is `rules.breach_notices`, in SQL: the assignee and the
    team's supervisors, one notice per ticket, or one digest per team past the threshold.
    Returns (changed, breached, the notices' ids if `ids`, else [])."""
    changed = sla_state_update(now).cte("changed")
    breached = select(changed).where(changed.c.sla_state == SlaState.BREACHED).cte("breached")
    pairs = union(
        select(breached.c.id, breached.c.team_id, breached.c.assignee_id.label("user_id"))
        .where(breached.c.assignee_id.is_not(None)),
        select(breached.c.id, breached.c.team_id, team_supervisors.c.user_id)
        .join(team_supervisors, team_supervisors.c.team_id == breached.c.team_id),
    ).subquery("pairs")
    told = select(pairs, func.count().over(partition_by=(pairs.c.user_id, pairs.c.team_id))
                  .label("n")).subquery("told")
    at = literal(now, UTCDateTime())
    single = select(told.c.user_id, told.c.id, told.c.team_id, literal(1), literal(BREACH),
                    literal(f"{BREACH}:") + cast(told.c.id, String), at
                    ).where(told.c.n <= rules.BREACH_DIGEST_AFTER)
    digest = select(told.c.user_id, literal(None, Integer), told.c.team_id, told.c.n,
                    literal(BREACH_DIGEST), literal(f"{BREACH_DIGEST}:") + cast(told.c.n, String),
                    at).where(told.c.n > rules.BREACH_DIGEST_AFTER).distinct()
    notices = Notification.__table__
    notified = (
        insert(notices)
        .from_select(["user_id", "ticket_id", "team_id", "count", "kind", "message",
                      "created_at"], single.union_all(digest))
        .returning(notices.c.id)
        .cte("notified")
    )
    audited = insert(AuditEntry.__table__).from_select(
        ["entity", "entity_id", "ticket_id", "action", "field", "new_value", "created_at"],
        select(literal("tickets"), breached.c.id, breached.c.id, literal(BREACH),
               literal("sla_state"), literal(SlaState.BREACHED.value), at),
    ).cte("audited")
    notice_ids = (select(func.json_agg(notified.c.id)).scalar_subquery() if ids
                  else literal(None))
    stmt = select(
        select(func.count()).select_from(changed).scalar_subquery(),
        select(func.count()).select_from(breached).scalar_subquery(),
        notice_ids,
    ).add_cte(notified, audited)
    changed_count, breached_count, notice_ids = db.session.execute(stmt).one()
    return changed_count, breached_count, list(notice_ids or ())


def supervisors_by_team(team_ids) -> dict[int, list[int]]:
    """The supervisors' user ids of each of these teams (one small query, however many)."""
    rows = db.session.execute(select(team_supervisors.c.team_id, team_supervisors.c.user_id)
                              .where(team_supervisors.c.team_id.in_(list(team_ids)))).all()
    result: dict[int, list[int]] = {}
    for team_id, user_id in rows:
        result.setdefault(team_id, []).append(user_id)
    return result


class epoch(FunctionElement):
    """Seconds since 1970 of a timestamp column, on SQLite and PostgreSQL alike."""

    type = Float()
    inherit_cache = True


@compiles(epoch)
def _epoch_default(element, compiler, **kw):
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    return f"(julianday({compiler.process(element.clauses, **kw)}) * 86400.0)"


def report_first_response(since: datetime) -> list:
    """Per priority: tickets answered since `since` and their mean first-response seconds."""
    delay = epoch(Ticket.first_response_at) - epoch(Ticket.created_at)
    stmt = (
        select(Ticket.priority, func.count(), func.avg(delay))
        .where(Ticket.created_at >= since, Ticket.first_response_at.is_not(None))
        .group_by(Ticket.priority)
    )
    order = list(Priority)
    return sorted(db.session.execute(stmt).all(), key=lambda r: order.index(r[0]))


def report_resolution_by_category(since: datetime) -> list:
    """Per category: tickets resolved since `since` and their mean resolution seconds."""
    delay = epoch(Ticket.resolved_at) - epoch(Ticket.created_at)
    stmt = (
        select(Category.name, func.count(), func.avg(delay))
        .join(Category, Category.id == Ticket.category_id)
        .where(Ticket.resolved_at >= since)
        .group_by(Category.name)
        .order_by(Category.name)
    )
    return db.session.execute(stmt).all()


def report_satisfaction(since: datetime) -> tuple[int, float | None]:
    """How many ratings since `since` and their mean score."""
    stmt = select(func.count(), func.avg(SatisfactionRating.score)).where(
        SatisfactionRating.created_at >= since
    )
    return tuple(db.session.execute(stmt).one())


def report_agent_productivity(since: datetime) -> list:
    """Per active agent: tickets resolved since `since` and tickets open now."""
    resolved = func.sum(case((Ticket.resolved_at >= since, 1), else_=0))
    open_now = func.sum(case((Ticket.status.in_(OPEN_STATES), 1), else_=0))
    stmt = (
        select(User.name, func.coalesce(resolved, 0), func.coalesce(open_now, 0))
        .outerjoin(Ticket, Ticket.assignee_id == User.id)
        .where(User.active.is_(True))
        .group_by(User.id, User.name)
        .order_by(func.coalesce(resolved, 0).desc(), User.name)
    )
    return db.session.execute(stmt).all()


def describe_changes_since(ticket_id: int, version: int) -> str:
    """What others did to the ticket since `version`, in words ("Ana añadió una respuesta")."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.ticket_id == ticket_id, AuditEntry.ticket_version >= version)
        .order_by(AuditEntry.id)
    )
    phrases = []
    for entry in db.session.scalars(stmt):
        who = entry.actor.name if entry.actor else _("el sistema")
        phrase = _change_phrase(entry, who)
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    return "; ".join(phrases) or _("se actualizó")


def _change_phrase(entry: AuditEntry, who: str) -> str | None:
    if entry.action == "reply":
        return _("%(who)s añadió una respuesta", who=who)
    if entry.action == "note":
        return _("%(who)s añadió una nota interna", who=who)
    if entry.action == "status" and entry.new_value in TicketStatus._value2member_map_:
        return _("%(who)s cambió el estado a %(status)s", who=who,
                 status=TicketStatus(entry.new_value).label)
    if entry.action == "assign":
        agent = db.session.get(User, int(entry.new_value)) if entry.new_value else None
        return _("%(who)s asignó el ticket a %(agent)s", who=who,
                 agent=agent.name if agent else _("la cola del equipo"))
    if entry.action == "update":
        return _("%(who)s editó el ticket", who=who)
    return None


def visible_to(user: User):
    """Tickets a user may see: all for supervisors and admins; for agents, their own, their
    teams', and unrouted ones."""
    if user.role >= Role.SUPERVISOR:
        return true()
    return or_(Ticket.assignee_id == user.id, in_teams(user), Ticket.team_id.is_(None))


def in_teams(user: User):
    """Tickets of one of the user's teams; a constant false without teams (an empty IN would
    be tested row by row, all along the queue's index)."""
    team_ids = [team.id for team in user.teams]
    return Ticket.team_id.in_(team_ids) if team_ids else false()


def visible_ticket(ticket_id: int, user: User) -> Ticket | None:
    """The ticket if it exists and `user` may see it, with what its page shows (people, thread
    and authors) loaded in two statements, however long the thread."""
    ticket_id = rules.parse_id(ticket_id)
    if ticket_id is None:
        return None
    stmt = select(Ticket).where(Ticket.id == ticket_id, visible_to(user)).options(
        joinedload(Ticket.customer), joinedload(Ticket.category), joinedload(Ticket.team),
        joinedload(Ticket.assignee), selectinload(Ticket.messages).joinedload(Message.author))
    return db.session.scalar(stmt)


def response_templates_for(ticket: Ticket, locale: str) -> list[ResponseTemplate]:
    """Active templates for the reply toolbar: the ticket's category (or general ones) in the
    agent's language, the category's own first."""
    stmt = (
        select(ResponseTemplate)
        .where(ResponseTemplate.active.is_(True), ResponseTemplate.locale == locale,
               or_(ResponseTemplate.category_id == ticket.category_id,
                   ResponseTemplate.category_id.is_(None)))
        .order_by(ResponseTemplate.category_id.is_(None), ResponseTemplate.name)
    )
    return list(db.session.scalars(stmt))


#: A tab's count stops here (the tab then shows "10.000+"): a render never counts the table.
COUNT_CAP = 10_000


def queue_counts(user: User, cap: int = COUNT_CAP) -> dict[str, int]:
    """The count behind each saved view of the queue, within what `user` may see, in one
    statement; a count above `cap` comes back as cap + 1 (each reads at most cap + 1 rows)."""
    unresolved = Ticket.status.in_(OPEN_STATES)
    views = {
        **{status.value: Ticket.status == status for status in TicketStatus},
        "mine": and_(Ticket.assignee_id == user.id, unresolved),
        "unassigned": and_(Ticket.assignee_id.is_(None), unresolved),
        "team": and_(in_teams(user), unresolved),
    }
    visible = visible_to(user)
    counts = db.session.execute(select(*(
        _capped_count(visible, condition, cap=cap).label(key)
        for key, condition in views.items()))).one()
    return dict(zip(views, counts, strict=True))


def _capped_count(*conditions, cap: int):
    """count(*) over at most cap + 1 matching tickets, as a scalar subquery."""
    rows = select(literal(1)).select_from(Ticket).where(*conditions).limit(cap + 1).subquery()
    return select(func.count()).select_from(rows).scalar_subquery()


def ticket_search(term: str):
    """One search word: a ticket number, or text in the subject, the customer's name or e-mail,
    or any message of the thread."""
    number = rules.parse_id(term)
    if number is not None:
        return Ticket.id == number
    like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    customers = select(Customer.id).where(
        or_(Customer.name.ilike(like, escape="\\"), Customer.email.ilike(like, escape="\\")))
    messages = select(Message.ticket_id).where(Message.body.ilike(like, escape="\\"))
    return or_(Ticket.subject.ilike(like, escape="\\"), Ticket.customer_id.in_(customers),
               Ticket.id.in_(messages))


# --- Assignment and SLA policy (read side) --------------------------------------------------------


def waiting_tickets(team_id: int, limit: int = 200) -> list[Ticket]:
    """The team's new unassigned tickets, nearest deadline first, locked (others skip them)."""
    stmt = (
        select(Ticket)
        .where(Ticket.team_id == team_id, Ticket.status == TicketStatus.NEW,
               Ticket.assignee_id.is_(None))
        .order_by(Ticket.sla_due_at.is_(None), Ticket.sla_due_at, Ticket.id)
        .limit(limit)
        .with_for_update(skip_locked=True, key_share=True)
    )
    tickets = list(db.session.scalars(stmt))
    hold_ticket_locks(ticket.id for ticket in tickets)
    return tickets


def teams_with_waiting() -> list[int]:
    """Teams that have new tickets nobody has taken."""
    stmt = select(Ticket.team_id).distinct().where(
        Ticket.status == TicketStatus.NEW, Ticket.assignee_id.is_(None),
        Ticket.team_id.is_not(None))
    return list(db.session.scalars(stmt))


def sla_policy(priority: Priority) -> tuple[int, int | None, rules.Calendar | None]:
    """(first-response minutes, resolution minutes or None, calendar or None) for a priority."""
    policy = db.session.scalar(select(SlaPolicy).where(SlaPolicy.priority == priority))
    if policy is None:
        return rules.DEFAULT_FIRST_RESPONSE_MINUTES[priority], None, None
    calendar = None
    if policy.calendar is not None:
        calendar = rules.Calendar.from_json(policy.calendar.timezone, policy.calendar.hours,
                                            [h.day for h in policy.calendar.holidays])
    return policy.first_response_minutes, policy.resolution_minutes, calendar


def team_roster(user: User) -> list[tuple[User, int]]:
    """Agents of the teams `user` supervises (all active staff for admins), with open counts."""
    stmt = select(User).where(User.active.is_(True)).order_by(User.name)
    if user.role is not Role.ADMIN:
        team_ids = [team.id for team in user.supervised_teams] or [t.id for t in user.teams]
        member_ids = select(team_members.c.user_id).where(team_members.c.team_id.in_(team_ids))
        stmt = stmt.where(User.id.in_(member_ids))
    return [(person, person.open_tickets) for person in db.session.scalars(stmt)]


def routing_rules_ordered() -> list[RoutingRule]:
    """Every routing rule (enabled or not) in evaluation order."""
    return list(db.session.scalars(select(RoutingRule).order_by(RoutingRule.position,
                                                               RoutingRule.id)))


def unread_notifications(user_id: int, limit: int = 20) -> list[Notification]:
    """The user's unread notices, newest first."""
    stmt = (select(Notification).where(Notification.user_id == user_id,
                                       Notification.read_at.is_(None))
            .options(selectinload(Notification.team))
            .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
    return list(db.session.scalars(stmt))


def unread_count(user_id: int) -> int:
    """How many unread notices the user has (uses the user/read_at index)."""
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)))
