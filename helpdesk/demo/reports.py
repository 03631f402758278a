"""The demo's report part: Informes full at once after `make run`.

The report jobs fill the facts and cubes from the seeded rows (a full rebuild, as the first
refresh would do minutes later). The backlog is a snapshot the refresh takes every hour, so a
fresh database would have just today's; for the demo, each past day's end is reconstructed
from the tickets' own times: created and not yet resolved then; *Nuevo* until the first
response, then *Pendiente* if it waits for the customer now, else *Abierto*. An approximation
(a ticket's past pauses are not replayed), good for a demo's chart, not for a real install.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import ReportBacklog, Ticket, TicketStatus
from ..reporting import refresh

HISTORY_DAYS = 90


def fill(now: datetime) -> None:
    """Build every report table for the freshly seeded data, and 90 days of backlog."""
    refresh.fill_now(now)
    backlog_history(now, HISTORY_DAYS)


def backlog_history(now: datetime, days: int) -> None:
    """One backlog snapshot at the last hour of each of the past `days` days (service zone):
    per team and status, the tickets created by then and not yet resolved."""
    zone = ZoneInfo(current_app.config["HELPDESK_DEFAULT_TIMEZONE"])
    today = now.astimezone(zone).date()
    ends = [datetime.combine(today - timedelta(days=back), time(23), zone)
            for back in range(days, 0, -1)]
    first = ends[0]
    # per (team, status): +1 at the first day it counts, −1 at the first day it no longer does
    delta: dict = defaultdict(lambda: [0] * (len(ends) + 1))
    rows = db.session.execute(
        select(Ticket.created_at, Ticket.first_response_at, Ticket.resolved_at, Ticket.status,
               Ticket.team_id)
        .where((Ticket.resolved_at.is_(None)) | (Ticket.resolved_at > first)))
    for created, answered, resolved, status, team in rows:
        stop = resolved or now
        later = "pending" if status is TicketStatus.PENDING else "open"
        for state, start, end in (("new", created, min(answered or stop, stop)),
                                  (later, answered, stop)):
            if start is None or end <= start:
                continue
            a, b = bisect_left(ends, start), bisect_left(ends, end)  # snapshots in [start, end)
            if a < b:
                delta[(team, state)][a] += 1
                delta[(team, state)][b] -= 1
    out = []
    for (team, state), steps in delta.items():
        running = 0
        for i, end in enumerate(ends):
            running += steps[i]
            if running:
                out.append({"hour": end.astimezone(now.tzinfo), "status": state,
                            "team_id": team, "tickets": running})
    db.session.execute(ReportBacklog.__table__.delete().where(ReportBacklog.hour < ends[-1]
                                                              + timedelta(hours=1)))
    if out:
        db.session.execute(ReportBacklog.__table__.insert(), out)
    db.session.commit()

