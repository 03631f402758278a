"""What the report tables hold, as SQL: each fact table's rows from the raw rows (the ticket,
its resolution rounds, ratings, staff messages and escalations), and each day cube's rows
from its facts, per (day, cell). `refresh` runs them: for some tickets, or for all.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import String, case, cast, func, literal, select

from ..models import (
    Escalation,
    Message,
    MessageKind,
    ReportActivity,
    ReportActivityDay,
    ReportEscalation,
    ReportRating,
    ReportRatingDay,
    ReportResolutionDay,
    ReportResponseDay,
    ReportRound,
    ReportTicket,
    ResolutionRound,
    SatisfactionRating,
    Ticket,
)
from ..queries.reports import epoch, local_day, sketch_agg, sketch_bucket
from . import business

FACTS = (ReportTicket, ReportRound, ReportRating, ReportActivity, ReportEscalation)
CUBES = (ReportResponseDay, ReportResolutionDay, ReportRatingDay, ReportActivityDay)
#: The facts each cube adds up.
SOURCE = {ReportResponseDay: ReportTicket, ReportResolutionDay: ReportRound,
          ReportRatingDay: ReportRating, ReportActivityDay: ReportActivity}


def service_zone() -> str:
    """The time zone of the cubes' days."""
    return current_app.config["HELPDESK_DEFAULT_TIMEZONE"]


def _text(column):
    return func.coalesce(cast(column, String), "")


def cell_key(team, category, agent, priority, channel):
    """The five dimensions as one text key, SQL (`report_tables` explains it)."""
    return (_text(team) + "|" + _text(category) + "|" + _text(agent) + "|" + _text(priority)
            + "|" + _text(channel))


def _first_reply(ids):
    return (select(Message.ticket_id, func.min(Message.created_at).label("at"))
            .where(Message.kind == MessageKind.REPLY, Message.author_id.is_not(None),
                   ids(Message.ticket_id))
            .group_by(Message.ticket_id).subquery())


def _day(column):
    return local_day(column, literal(service_zone()))


def _ticket_rows(ids):
    first = _first_reply(ids)
    met = case((Ticket.first_response_due_at.is_(None), None),
               (first.c.at.is_(None), None),
               (first.c.at <= Ticket.first_response_due_at, True), else_=False)
    wall = epoch(first.c.at) - epoch(Ticket.created_at)
    return select(Ticket.id, Ticket.created_at, _day(Ticket.created_at),
                  cell_key(Ticket.team_id, Ticket.category_id, Ticket.assignee_id,
                           Ticket.priority, Ticket.channel),
                  Ticket.team_id, Ticket.category_id,
                  Ticket.assignee_id, Ticket.priority, Ticket.channel, Ticket.status,
                  business.duration(Ticket.priority, Ticket.created_at, first.c.at, wall), met) \
        .outerjoin(first, first.c.ticket_id == Ticket.id).where(ids(Ticket.id))


def _round_rows(ids):
    r = ResolutionRound
    confirmed = case((r.confirmation_answer == "yes", True),
                     (r.confirmation_answer == "no", False), else_=None)
    return select(r.id, r.ticket_id, r.resolved_at, _day(r.resolved_at),
                  cell_key(r.team_id, r.category_id, r.agent_id, Ticket.priority,
                           Ticket.channel),
                  r.team_id, r.category_id, r.agent_id,
                  Ticket.priority, Ticket.channel, r.resolution_category_id,
                  business.net_resolution(r, Ticket.priority, ids),
                  r.reopened_at.is_not(None), r.confirmation_requested,
                  confirmed, r.survey_sent_at.is_not(None)) \
        .join(Ticket, Ticket.id == r.ticket_id).where(ids(r.ticket_id))


def _rating_rows(ids):
    s = SatisfactionRating
    category = func.coalesce(ResolutionRound.category_id, Ticket.category_id)
    return select(s.id, s.ticket_id, s.created_at, _day(s.created_at),
                  cell_key(s.team_id, category, s.agent_id, Ticket.priority, Ticket.channel),
                  s.team_id, category, s.agent_id,
                  Ticket.priority, Ticket.channel, s.resolution_category_id, s.score, s.comment) \
        .join(Ticket, Ticket.id == s.ticket_id) \
        .outerjoin(ResolutionRound, ResolutionRound.id == s.round_id).where(ids(s.ticket_id))


def _activity_rows(ids):
    m = Message
    return select(m.id, m.ticket_id, m.created_at, _day(m.created_at),
                  cell_key(Ticket.team_id, Ticket.category_id, m.author_id, Ticket.priority,
                           Ticket.channel),
                  m.author_id, Ticket.team_id,
                  Ticket.category_id, Ticket.priority, Ticket.channel,
                  m.kind == MessageKind.REPLY) \
        .join(Ticket, Ticket.id == m.ticket_id) \
        .where(ids(m.ticket_id), m.author_id.is_not(None),
               m.kind.in_((MessageKind.REPLY, MessageKind.NOTE)))


def _escalation_rows(ids):
    e = Escalation
    return select(e.id, e.ticket_id, e.created_at, e.reason_id, e.to_team_id,
                  func.coalesce(e.from_team_id, Ticket.team_id), Ticket.category_id,
                  e.from_user_id, Ticket.priority, Ticket.channel) \
        .join(Ticket, Ticket.id == e.ticket_id).where(ids(e.ticket_id))


_CELL = ("day", "cell")
_COLUMNS = {
    ReportTicket: ("ticket_id", "created_at", *_CELL, "team_id", "category_id", "agent_id",
                   "priority", "channel", "status", "first_response_s", "first_response_met"),
    ReportRound: ("round_id", "ticket_id", "resolved_at", *_CELL, "team_id", "category_id",
                  "agent_id", "priority", "channel", "resolution_category_id", "resolution_s",
                  "reopened", "confirmation_requested", "confirmed", "survey_sent"),
    ReportRating: ("rating_id", "ticket_id", "created_at", *_CELL, "team_id", "category_id",
                   "agent_id", "priority", "channel", "resolution_category_id", "score",
                   "comment"),
    ReportActivity: ("message_id", "ticket_id", "created_at", *_CELL, "agent_id", "team_id",
                     "category_id", "priority", "channel", "public"),
    ReportEscalation: ("escalation_id", "ticket_id", "created_at", "reason_id", "to_team_id",
                       "team_id", "category_id", "agent_id", "priority", "channel"),
}
_ROWS = {ReportTicket: _ticket_rows, ReportRound: _round_rows, ReportRating: _rating_rows,
         ReportActivity: _activity_rows, ReportEscalation: _escalation_rows}


# --- the cubes: what each adds up, per (day, cell) --------------------------------------------


def _ones(cond):
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _cube_select(cube, where, fact=None):
    """SELECT (…columns of `cube`…) of the facts that `where` picks, grouped per cell.

    :param fact: the facts to read (default: the cube's source table; a rebuild's new twin)
    """
    fact = SOURCE[cube] if fact is None else fact
    dims = [fact.day, fact.cell, fact.team_id, fact.category_id, fact.agent_id, fact.priority,
            fact.channel]
    names = ["day", "cell", "team_id", "category_id", "agent_id", "priority", "channel"]
    if cube is ReportResponseDay:
        value = fact.first_response_s
        measures = {"tickets": func.count(), "answered": func.count(value),
                    "sum_s": func.sum(value),
                    "met": _ones(fact.first_response_met.is_(True)),
                    "judged": func.count(fact.first_response_met)}
    elif cube is ReportResolutionDay:
        value = fact.resolution_s
        measures = {"rounds": func.count(), "answered": func.count(fact.confirmed),
                    "sum_s": func.sum(value), "reopened": _ones(fact.reopened.is_(True)),
                    "confirm_asked": _ones(fact.confirmation_requested.is_(True)),
                    "confirmed": _ones(fact.confirmed.is_(True)),
                    "survey_sent": _ones(fact.survey_sent.is_(True))}
    elif cube is ReportRatingDay:
        dims.append(fact.resolution_category_id)
        names.append("resolution_category_id")
        measures = {"ratings": func.count(),
                    **{f"score_{i}": _ones(fact.score == i) for i in range(1, 6)}}
        return names + list(measures), select(*dims, *measures.values()).where(*where) \
            .group_by(*dims)
    else:
        measures = {"replies": _ones(fact.public.is_(True)),
                    "notes": _ones(fact.public.is_(False))}
        return names + list(measures), select(*dims, *measures.values()).where(*where) \
            .group_by(*dims)
    # with a sketch: per (cell, bucket) first, then per cell
    bucket = sketch_bucket(value).label("b")
    inner = select(*dims, bucket, func.count(value).label("n"),
                   *[m.label(k) for k, m in measures.items()]).where(*where) \
        .group_by(*dims, bucket).subquery()
    outer_dims = [inner.c[n] for n in names]
    sums = [func.sum(inner.c[k]) for k in measures]
    stmt = select(*outer_dims, *sums, sketch_agg(inner.c.b, inner.c.n)).group_by(*outer_dims)
    return names + list(measures) + ["sketch"], stmt
