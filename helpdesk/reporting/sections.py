"""The Informes page put together: the four metrics (`metrics`), what a supervisor asks next
(escalations by reason and target team, the backlog per status) and the agents' live load.
Read only from the report tables (never from tickets)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from ..extensions import db
from ..models import EscalationReason, ReportBacklog, ReportEscalation, Role, Team, User
from .metrics import (
    DEFAULT_PERIOD,
    Filters,
    _names,
    _where,
    period_days,
    productivity,
    resolution,
    response,
    satisfaction,
)


def escalations(f: Filters) -> dict:
    """Escalations by reason and by target team (few rows: grouped in SQL from the facts)."""
    e = ReportEscalation
    counts = db.session.execute(select(e.reason_id, e.to_team_id, func.count())
                                .where(*_where(e, f, e.created_at))
                                .group_by(e.reason_id, e.to_team_id)).all()
    reasons, teams = _names(EscalationReason), _names(Team)

    def count(pick, names):
        totals: dict = defaultdict(int)
        for row in counts:
            totals[names.get(pick(row), "—")] += row[2]
        return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))

    return {"total": sum(row[2] for row in counts), "by_reason": count(lambda r: r[0], reasons),
            "by_team": count(lambda r: r[1], teams)}


BACKLOG_STATES = ("new", "open", "pending")


def backlog(f: Filters) -> list[dict]:
    """Open tickets per status at the end of each of the viewer's days: the day's last
    hourly snapshot (days without one: None)."""
    b = ReportBacklog
    conds = [b.hour >= f.start, b.hour < f.end]
    if f.team_id is not None:
        conds.append(b.team_id == f.team_id)
    if f.teams is not None:
        conds.append(b.team_id.in_(f.teams))
    last: dict = {}
    for (hour,) in db.session.execute(select(b.hour).distinct().where(*conds)):
        day = hour.astimezone(f.tz).date()
        if day not in last or hour > last[day]:
            last[day] = hour
    counts: dict = defaultdict(lambda: dict.fromkeys(BACKLOG_STATES, 0))
    if last:
        day_of = {hour: day for day, hour in last.items()}
        for hour, status, n in db.session.execute(
                select(b.hour, b.status, func.sum(b.tickets)).where(
                    *conds, b.hour.in_(list(day_of))).group_by(b.hour, b.status)):
            if status in BACKLOG_STATES:
                counts[day_of[hour]][status] += int(n)
    return [{"day": d, **counts[d]} if d in last else {"day": d, **dict.fromkeys(
        BACKLOG_STATES)} for d in f.days()]


def figures(f: Filters) -> dict:
    """Every figure of the page for these filters (cached per report tables' generation)."""
    from dataclasses import replace

    from . import cache

    def compute():
        return {"response": response(f), "resolution": resolution(f),
                "satisfaction": satisfaction(f), "agents": productivity(f),
                "escalations": escalations(f), "backlog": backlog(f)}

    fig = cache.cached(("figures", replace(f, errors=())), compute)
    return fig | {"agents": live_load(fig["agents"])}


def live_load(rows: list[dict]) -> list[dict]:
    """The productivity rows with each agent's open load and capacity as they are now (the
    rest of the figures may come from the cache)."""
    ids = [row["id"] for row in rows]
    load = {uid: (n, cap) for uid, n, cap in db.session.execute(
        select(User.id, User.open_tickets, User.capacity).where(User.id.in_(ids)))} \
        if ids else {}
    return [row | dict(zip(("open", "capacity"), load.get(row["id"], (0, 0)), strict=True))
            for row in rows]


def warm(now: datetime) -> int:
    """Compute (into the cache) the figures of the page as supervisors and admins first open
    it — the default period, no filter — once per time zone among them: after a refresh, their
    first view reads the cache instead of the cubes. How many views were computed."""
    zones = set(db.session.scalars(select(User.timezone).distinct().where(
        User.active.is_(True), User.role.in_((Role.SUPERVISOR, Role.ADMIN)))))
    done = 0
    for zone in sorted(z or "UTC" for z in zones):
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        first, last = period_days(DEFAULT_PERIOD, now.astimezone(tz).date())
        figures(Filters(period=DEFAULT_PERIOD, first=first, last=last, tz=tz))
        done += 1
    return done
