"""The SLA side: policies, the sweep's one UPDATE, who hears of a breach."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    union,
    update,
)

from .. import rules
from ..extensions import db
from ..models import (
    AuditEntry,
    Notification,
    Priority,
    SlaPolicy,
    SlaState,
    Ticket,
    UTCDateTime,
    team_supervisors,
)
from .base import BREACH, BREACH_DIGEST
from .txcache import cached

#: What a policy's targets are read from (a change to one forgets the cached targets).
_POLICY_TABLES = frozenset({"sla_policies", "business_calendars", "holidays"})


def sla_policy(priority: Priority) -> rules.SlaTargets:
    """A priority's targets: first-response minutes, resolution minutes (or None), calendar
    (or None) and the approaching floor in minutes (None: the share alone). Read once per
    transaction (`txcache`): a run that opens a thousand tickets asks four times at most."""
    return cached(db.session, _POLICY_TABLES, ("sla_policy", priority),
                  lambda: _read_sla_policy(priority))


def _read_sla_policy(priority: Priority) -> rules.SlaTargets:
    policy = db.session.scalar(select(SlaPolicy).where(SlaPolicy.priority == priority))
    if policy is None:
        return rules.SlaTargets(rules.DEFAULT_FIRST_RESPONSE_MINUTES[priority], None, None,
                                rules.DEFAULT_WARN_MINUTES)
    calendar = None
    if policy.calendar is not None:
        calendar = rules.Calendar.from_json(policy.calendar.timezone, policy.calendar.hours,
                                            [h.day for h in policy.calendar.holidays])
    return rules.SlaTargets(policy.first_response_minutes, policy.resolution_minutes, calendar,
                            policy.warn_minutes)


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
    (`workflows.apply_targets`). Concurrent sweeps are safe: PostgreSQL re-checks the WHERE on
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
