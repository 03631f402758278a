"""Tickets as a person sees them: visibility, the queue's counts, search, the ticket page."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import and_, false, func, literal, or_, select, true
from sqlalchemy.orm import joinedload, selectinload

from .. import phrases, rules
from ..extensions import db
from ..models import (
    AuditEntry,
    Message,
    ResponseTemplate,
    Role,
    Team,
    Ticket,
    TicketStatus,
    User,
)
from . import search
from .base import OPEN_STATES


def visible_to(user: User):
    """Tickets a user may see: all for supervisors and admins; for agents, their own, their
    teams', and unrouted ones."""
    if user.role >= Role.SUPERVISOR:
        return true()
    return or_(Ticket.assignee_id == user.id, in_teams(user), Ticket.team_id.is_(None))


def in_teams(user: User):
    """Tickets of one of the user's teams — those they work in and those they supervise (*Mi
    equipo*); a constant false without teams (an empty IN would be tested row by row, all
    along the queue's index)."""
    team_ids = sorted({team.id for team in (*user.teams, *user.supervised_teams)})
    return Ticket.team_id.in_(team_ids) if team_ids else false()


def visible_ticket(ticket_id: int, user: User) -> Ticket | None:
    """The ticket if it exists and `user` may see it, with what its page shows (people, thread,
    authors and attachments) loaded in three statements, however long the thread."""
    ticket_id = rules.parse_id(ticket_id)
    if ticket_id is None:
        return None
    stmt = select(Ticket).where(Ticket.id == ticket_id, visible_to(user)).options(
        joinedload(Ticket.customer), joinedload(Ticket.category), joinedload(Ticket.team),
        joinedload(Ticket.assignee), joinedload(Ticket.resolution_category),
        selectinload(Ticket.messages).joinedload(Message.author),
        selectinload(Ticket.messages).selectinload(Message.attachments))
    return db.session.scalar(stmt)


def describe_changes_since(ticket_id: int, version: int) -> str:
    """What others did to the ticket since `version`, in words ("Ana añadió una respuesta")."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.ticket_id == ticket_id, AuditEntry.ticket_version >= version)
        .order_by(AuditEntry.id)
    )
    sentences = []
    for entry in db.session.scalars(stmt):
        who = entry.actor.name if entry.actor else _("el sistema")
        if entry.action == "assign" and entry.field == "team":
            team = db.session.get(Team, int(entry.new_value)) if entry.new_value else None
            sentence = phrases.moved_to_team(who, team.name if team else None)
        else:
            agent = (db.session.get(User, int(entry.new_value))
                     if entry.action == "assign" and entry.new_value else None)
            sentence = phrases.change_sentence(entry, who, agent.name if agent else None)
        if sentence and sentence not in sentences:
            sentences.append(sentence)
    return "; ".join(sentences) or _("se actualizó")


def response_templates_for(ticket: Ticket, locale: str) -> list[ResponseTemplate]:
    """Active templates for the reply toolbar in the ticket's language (the customer's), or in
    the agent's `locale` when there is none in it: the ticket's category (or general ones),
    the category's own first."""
    languages = [ticket.language or locale, locale]
    stmt = (
        select(ResponseTemplate)
        .where(ResponseTemplate.active.is_(True), ResponseTemplate.locale.in_(languages),
               or_(ResponseTemplate.category_id == ticket.category_id,
                   ResponseTemplate.category_id.is_(None)))
        .order_by(ResponseTemplate.category_id.is_(None), ResponseTemplate.name)
    )
    found = list(db.session.scalars(stmt))
    own = [t for t in found if t.locale == languages[0]]
    return own or [t for t in found if t.locale == languages[1]]


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
        "escalated": and_(Ticket.escalation_level > 0, unresolved),
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


def ticket_search(query: str):
    """The search box: the newest tickets whose subject, customer or thread match `query`,
    ranked (`search.Matches`), or None when there is nothing to search for."""
    return search.matches(query)


def ticket_number(query: str) -> int | None:
    """The ticket number typed alone in the search box ("1234" or "#1234"), else None."""
    return rules.parse_id(query) if len((query or "").split()) == 1 else None
