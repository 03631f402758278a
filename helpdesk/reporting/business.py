"""Durations in business hours, with the SLA deadlines' own calendar arithmetic.

When the SLA policy of a ticket's priority has a business calendar, the report measures its
first response (and its resolution rounds, net of *Pendiente*) in business time: what
`hours.business_time_between` gives, the function the SLA clock pauses with, and the inverse
of `hours.add_business_time`, which set the deadline.
So a ticket answered exactly at its deadline shows exactly its target, and "SLA cumplido"
agrees with the badge.

In SQL that is a difference of two lookups: `report_calendar_spans` holds the calendar's open
spans, as `hours` yields them, each with the business seconds before it, so the business time
up to an instant t is B(t) = before + (min(t, end) − begin) of the last span begun by t, and
business time between a and b is B(b) − B(a). The spans are written again at each run, from the
first ticket to a week ahead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, insert, literal, select, union_all

from .. import hours, rules
from ..extensions import db
from ..models import (
    AuditEntry,
    BusinessCalendar,
    ReportCalendarSpan,
    SlaPolicy,
    Ticket,
    TicketStatus,
)
from ..queries.reports import epoch

AHEAD = timedelta(days=7)
WINDOW = timedelta(days=366)  # hours._open_spans gives up after three years: restart yearly


def calendars() -> dict[str, int]:
    """{priority value: calendar id} of the SLA policies that have a calendar."""
    return {priority.value: calendar_id for priority, calendar_id in db.session.execute(
        select(SlaPolicy.priority, SlaPolicy.calendar_id)
        .where(SlaPolicy.calendar_id.is_not(None)))}


def _calendar(row: BusinessCalendar) -> rules.Calendar:
    return rules.Calendar.from_json(row.timezone, row.hours, [h.day for h in row.holidays])


def spans(calendar: rules.Calendar, start: datetime, end: datetime):
    """(begin, end, business seconds before) of every open span from `start` to `end`."""
    before, cursor = 0.0, start
    while cursor < end:
        stop = min(end, cursor + WINDOW)
        last = cursor
        for begin, close in hours._open_spans(calendar, cursor):
            if begin >= stop:
                break
            yield begin, close, before
            before += (close - begin).total_seconds()
            last = close
        cursor = max(stop, last)


def write_spans(now: datetime) -> None:
    """Write the spans of every calendar an SLA policy uses (the caller commits)."""
    ids = set(calendars().values())
    db.session.execute(delete(ReportCalendarSpan))
    if not ids:
        return
    first = db.session.scalar(select(func.min(Ticket.created_at))) or now
    start = first - timedelta(days=1)
    for row in db.session.scalars(select(BusinessCalendar).where(BusinessCalendar.id.in_(ids))):
        try:
            rows = [{"calendar_id": row.id, "begin_at": begin, "end_at": close,
                     "before_s": before}
                    for begin, close, before in spans(_calendar(row), start, now + AHEAD)]
        except ValueError:  # a calendar without open hours: the SLA clock could not run either
            continue
        if rows:
            db.session.execute(insert(ReportCalendarSpan), rows)


def _upto(calendar_id: int, moment):
    """B(moment): business seconds of the calendar's spans up to `moment`, as SQL."""
    s = ReportCalendarSpan
    inside = case((moment >= s.end_at, epoch(s.end_at) - epoch(s.begin_at)),
                  else_=epoch(moment) - epoch(s.begin_at))
    last = (select(s.before_s + inside)
            .where(s.calendar_id == calendar_id, s.begin_at <= moment)
            .order_by(s.begin_at.desc()).limit(1)
            .correlate_except(s).scalar_subquery())  # `moment`'s tables: from the enclosing
    return func.coalesce(last, literal(0.0))


def duration(priority, start, end, wall, by_priority: dict[str, int] | None = None):
    """Seconds from `start` to `end` as SQL: business seconds when the priority's SLA policy
    has a calendar, else `wall` (wall-clock seconds)."""
    by_priority = calendars() if by_priority is None else by_priority
    if not by_priority:
        return wall
    whens = [(priority == value, _upto(calendar_id, end) - _upto(calendar_id, start))
             for value, calendar_id in sorted(by_priority.items())]
    return case((end.is_(None), None), *whens, else_=wall)


def net_resolution(round_, ticket_priority, ids, by_priority: dict[str, int] | None = None):
    """Seconds a resolution round worked, as SQL: with a calendar, the business time of the
    ticket's status spans up to the resolution, less *Pendiente* and *Resuelto* — what
    `rules.net_resolution_seconds` sums over `queries.closure.status_spans`, in business
    time; without one, what the closure workflow recorded (wall-clock)."""
    by_priority = calendars() if by_priority is None else by_priority
    wall = round_.resolution_seconds
    if not by_priority:
        return wall
    a = AuditEntry
    valid = [s.value for s in TicketStatus]
    changes = union_all(
        select(a.ticket_id.label("ticket_id"), a.created_at.label("at"), a.id.label("seq"),
               a.new_value.label("status"))
        .where(a.field == "status", a.new_value.in_(valid), ids(a.ticket_id)),
        select(Ticket.id, Ticket.created_at, literal(0), literal(TicketStatus.NEW.value))
        .where(ids(Ticket.id))).subquery()
    spans = select(changes.c.ticket_id, changes.c.status, changes.c.at.label("start"),
                   func.lead(changes.c.at).over(partition_by=changes.c.ticket_id,
                                                order_by=(changes.c.at, changes.c.seq))
                   .label("stop")).subquery()
    resolved = round_.resolved_at
    stop = case((spans.c.stop.is_(None), resolved), (spans.c.stop > resolved, resolved),
                else_=spans.c.stop)
    paused = (TicketStatus.PENDING.value, TicketStatus.RESOLVED.value)

    def worked(calendar_id):
        return select(func.coalesce(func.sum(_upto(calendar_id, stop)
                                             - _upto(calendar_id, spans.c.start)), 0.0)) \
            .where(spans.c.ticket_id == round_.ticket_id, spans.c.status.not_in(paused),
                   spans.c.start < resolved).scalar_subquery()

    whens = [(ticket_priority == value, worked(calendar_id))
             for value, calendar_id in sorted(by_priority.items())]
    return case(*whens, else_=wall)
