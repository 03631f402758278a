"""Escalations as people see them: reasons, targets, a ticket's history and banner, the tickets
an SLA policy escalates by itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import selectinload

from .. import rules
from ..extensions import db
from ..models import (
    AuditEntry,
    Escalation,
    EscalationReason,
    Message,
    MessageKind,
    Role,
    SlaPolicy,
    Team,
    Ticket,
    User,
    team_escalation_targets,
    team_supervisors,
)
from .base import OPEN_STATES

#: The reason automatic escalations give (seeded as *SLA vencido*).
SLA_BREACH_REASON = "sla_breach"

#: Kinds of in-panel notice about an escalation and a de-escalation (message: `<kind>:<id>`).
ESCALATION_NOTICE, DEESCALATION_NOTICE = "escalation", "deescalation"


def active_reasons() -> list[EscalationReason]:
    """The reasons a person may pick, by name."""
    return list(db.session.scalars(select(EscalationReason).where(
        EscalationReason.active.is_(True)).order_by(EscalationReason.name)))


def reason_by_code(code: str) -> EscalationReason | None:
    """The reason with this fixed code (e.g. `sla_breach`), active or not."""
    return db.session.scalar(select(EscalationReason).where(EscalationReason.code == code))


def all_reasons() -> list[tuple[int, str]]:
    """(id, name) of every reason, for the queue's filter."""
    return list(db.session.execute(select(EscalationReason.id, EscalationReason.name)
                                   .order_by(EscalationReason.name)))


def target_options() -> tuple[list[Team], list[tuple[User, Team]]]:
    """What *Escalar* offers: the active teams, and each active supervisor (or admin) of an
    active team with that team, by name."""
    teams = list(db.session.scalars(select(Team).where(Team.active.is_(True))
                                    .order_by(Team.name)))
    pairs = db.session.execute(
        select(User, Team)
        .join(team_supervisors, team_supervisors.c.user_id == User.id)
        .join(Team, Team.id == team_supervisors.c.team_id)
        .where(Team.active.is_(True), User.active.is_(True), User.role >= Role.SUPERVISOR)
        .order_by(User.name, Team.name)).all()
    return teams, [(user, team) for user, team in pairs]


def supervises(user: User, team: Team) -> bool:
    """Whether `user` is an active supervisor (or admin) listed among the team's supervisors."""
    return user.active and user.role >= Role.SUPERVISOR and db.session.scalar(
        select(exists().where(team_supervisors.c.user_id == user.id,
                              team_supervisors.c.team_id == team.id)))


def allowed_target_ids(team_id: int | None) -> set[int]:
    """The teams the agents of `team_id` may escalate to (empty: any active team)."""
    if team_id is None:
        return set()
    return set(db.session.scalars(select(team_escalation_targets.c.target_team_id).where(
        team_escalation_targets.c.team_id == team_id)))


def escalation_history(ticket_id: int) -> list[Escalation]:
    """Every escalation of the ticket, oldest first, with its people, teams and reason."""
    return list(db.session.scalars(
        select(Escalation).where(Escalation.ticket_id == ticket_id)
        .options(*(selectinload(getattr(Escalation, name)) for name in (
            "reason", "from_team", "to_team", "to_user", "actor", "deescalated_by")))
        .order_by(Escalation.created_at, Escalation.id)))


def current_escalation(ticket_id: int, *, for_update: bool = False) -> Escalation | None:
    """The ticket's latest escalation unless a supervisor sent it back."""
    stmt = (select(Escalation).where(Escalation.ticket_id == ticket_id)
            .order_by(Escalation.created_at.desc(), Escalation.id.desc()).limit(1))
    latest = db.session.scalar(stmt.with_for_update() if for_update else stmt)
    return latest if latest is not None and latest.deescalated_at is None else None


def acknowledged(escalation: Escalation, user_id: int) -> bool:
    """Whether the person has answered an escalation: replied to the customer or taken the
    ticket since it came (a re-escalation replaces it as the current one)."""
    replied = select(Message.id).where(
        Message.ticket_id == escalation.ticket_id, Message.kind == MessageKind.REPLY,
        Message.author_id == user_id, Message.created_at >= escalation.created_at)
    took = select(AuditEntry.id).where(
        AuditEntry.ticket_id == escalation.ticket_id, AuditEntry.action == "assign",
        AuditEntry.reason == "take", AuditEntry.actor_id == user_id,
        AuditEntry.created_at >= escalation.created_at)
    return db.session.scalar(select(or_(exists(replied), exists(took))))


_UNREAD = object()


def banner_escalation(ticket: Ticket, viewer: User,
                      current: Escalation | None | object = _UNREAD) -> Escalation | None:
    """The escalation to show on top of the ticket for `viewer`: the current one (read here
    unless the caller already has it), if it is for them (`rules.sees_escalation`) and they
    have not yet replied or taken the ticket."""
    escalation = current_escalation(ticket.id) if current is _UNREAD else current
    if escalation is None or not rules.sees_escalation(
            viewer.id, (t.id for t in viewer.teams), to_user_id=escalation.to_user_id,
            to_team_id=escalation.to_team_id, assignee_id=ticket.assignee_id,
            automatic=escalation.auto_key is not None,
            supervised_team_ids=(t.id for t in viewer.supervised_teams)):
        return None
    return None if acknowledged(escalation, viewer.id) else escalation


def first_breaches_to_escalate(now: datetime, limit: int = 500) -> list[int]:
    """Unanswered, unresolved tickets past their first-response deadline whose priority's SLA
    policy escalates on that breach and that have not been escalated for it into their team."""
    flagged = select(SlaPolicy.priority).where(SlaPolicy.escalate_on_first_breach.is_(True))
    done = select(Escalation.id).where(Escalation.ticket_id == Ticket.id,
                                       Escalation.auto_key.is_not(None),
                                       Escalation.to_team_id == Ticket.team_id)
    return list(db.session.scalars(
        select(Ticket.id).where(
            Ticket.status.in_(OPEN_STATES), Ticket.first_response_at.is_(None),
            Ticket.first_response_due_at <= now, Ticket.team_id.is_not(None),
            Ticket.priority.in_(flagged), ~exists(done))
        .order_by(Ticket.id).limit(limit)))


def escalated_with_reason(reason_id: int):
    """Tickets escalated at least once for this reason (the queue's filter)."""
    return Ticket.id.in_(select(Escalation.ticket_id).where(Escalation.reason_id == reason_id))
