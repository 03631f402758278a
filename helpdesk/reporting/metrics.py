"""The Informes figures, read only from the report facts (never from tickets).

Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at position
ceil(p·n) (1-based); the median is the 50th. Periods are half-open [start, end) in UTC, built
from whole days in the viewer's time zone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ..extensions import db
from ..models import (
    Category,
    EscalationReason,
    ReportActivity,
    ReportBacklog,
    ReportEscalation,
    ReportRating,
    ReportRound,
    ReportTicket,
    ResolutionCategory,
    Team,
    User,
)

PERIODS = ("today", "7d", "30d", "this_month", "last_month", "custom")
MAX_DAYS = 366


@dataclass(frozen=True)
class Filters:
    """What the page was asked for, resolved to a UTC range and ids."""

    period: str
    first: date  # first day, viewer's time zone
    last: date   # last day, included
    tz: ZoneInfo
    team_id: int | None = None
    category_id: int | None = None
    agent_id: int | None = None
    priority: str | None = None
    channel: str | None = None
    #: For agents: only these teams' figures, only their own agent rows.
    teams: tuple[int, ...] | None = None
    only_agent: int | None = None
    errors: tuple = field(default=())

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), self.tz).astimezone(ZoneInfo("UTC"))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), self.tz) \
            .astimezone(ZoneInfo("UTC"))

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def period_days(period: str, today: date) -> tuple[date, date]:
    """First and last day of a named period, as the viewer's calendar has them."""
    if period == "today":
        return today, today
    if period == "7d":
        return today - timedelta(days=6), today
    if period == "this_month":
        return today.replace(day=1), today
    if period == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    return today - timedelta(days=29), today


def percentile(sorted_values: list, p: float):
    """Nearest-rank percentile of already sorted values (None when empty)."""
    if not sorted_values:
        return None
    return sorted_values[max(1, math.ceil(p * len(sorted_values))) - 1]


def summary(values) -> dict:
    """count, average, median and p90 of durations (None values left out)."""
    data = sorted(v for v in values if v is not None)
    return {"count": len(data), "avg": sum(data) / len(data) if data else None,
            "median": percentile(data, 0.5), "p90": percentile(data, 0.9)}


def _where(model, f: Filters, column):
    conds = [column >= f.start, column < f.end]
    for name in ("team_id", "category_id", "agent_id", "priority", "channel"):
        value = getattr(f, name)
        if value is not None and hasattr(model, name):
            conds.append(getattr(model, name) == value)
    if f.teams is not None and hasattr(model, "team_id"):
        conds.append(model.team_id.in_(f.teams))
    return conds


def _rows(model, f: Filters, column, *cols):
    return db.session.execute(select(*cols).where(*_where(model, f, column))).all()


def _names(model, attr="name") -> dict:
    return dict(db.session.execute(select(model.id, getattr(model, attr))).all())


def _grouped(rows, key, value) -> dict:
    out = defaultdict(list)
    for row in rows:
        out[key(row)].append(value(row))
    return out


def response(f: Filters) -> dict:
    """First response: overall, by priority (with SLA share), team, channel and day."""
    t = ReportTicket
    rows = _rows(t, f, t.created_at, t.created_at, t.priority, t.channel, t.team_id,
                 t.first_response_s, t.first_response_met)
    teams = _names(Team)
    by_priority = []
    for priority, group in sorted(_grouped(rows, lambda r: r.priority, lambda r: r).items()):
        judged = [r.first_response_met for r in group if r.first_response_met is not None]
        by_priority.append({"key": priority, **summary(r.first_response_s for r in group),
                            "tickets": len(group),
                            "sla": sum(judged) / len(judged) if judged else None,
                            "sla_judged": len(judged)})
    return {
        "all": summary(r.first_response_s for r in rows),
        "by_priority": by_priority,
        "by_team": [{"key": teams.get(k, "—"), **summary(v)} for k, v in sorted(
            _grouped(rows, lambda r: r.team_id, lambda r: r.first_response_s).items(),
            key=lambda kv: teams.get(kv[0], ""))],
        "by_channel": [{"key": k, "tickets": len(v), **summary(v)} for k, v in sorted(
            _grouped(rows, lambda r: r.channel, lambda r: r.first_response_s).items())],
        "by_day": _by_day(f, rows, lambda r: r.created_at, lambda r: r.first_response_s),
    }


def _by_day(f: Filters, rows, when, value) -> list[dict]:
    groups = _grouped(rows, lambda r: when(r).astimezone(f.tz).date(), value)
    return [{"day": d, "created": len(groups.get(d, [])), **summary(groups.get(d, []))}
            for d in f.days()]


def resolution(f: Filters) -> dict:
    """Resolution time per category (one value per resolution round), net of Pendiente."""
    r = ReportRound
    rows = _rows(r, f, r.resolved_at, r.category_id, r.resolution_s, r.reopened,
                 r.confirmation_requested, r.confirmed)
    names = _names(Category)
    by_category = [{"key": names.get(k, "—"), **summary(v)} for k, v in sorted(
        _grouped(rows, lambda x: x.category_id, lambda x: x.resolution_s).items(),
        key=lambda kv: names.get(kv[0], ""))]
    answered = [x.confirmed for x in rows if x.confirmed is not None]
    return {"all": summary(x.resolution_s for x in rows), "by_category": by_category,
            "rounds": len(rows), "reopened": sum(1 for x in rows if x.reopened),
            "confirm_asked": sum(1 for x in rows if x.confirmation_requested),
            "confirmed": sum(1 for x in answered if x), "answered": len(answered)}


def _csat(scores: list[int]) -> dict:
    n = len(scores)
    return {"count": n, "csat": sum(1 for s in scores if s >= 4) / n if n else None,
            "avg": sum(scores) / n if n else None}


def satisfaction(f: Filters) -> dict:
    """CSAT (share of 4–5), average, ratings, response rate; by agent, team, resolution."""
    s = ReportRating
    rows = _rows(s, f, s.created_at, s.created_at, s.agent_id, s.team_id,
                 s.resolution_category_id, s.score, s.comment)
    r = ReportRound
    sent = sum(1 for x in _rows(r, f, r.resolved_at, r.survey_sent) if x.survey_sent)
    agents, teams, kinds = _names(User), _names(Team), _names(ResolutionCategory)

    def by(key, names, only=None):
        groups = _grouped(rows, key, lambda x: x.score)
        return [{"id": k, "key": names.get(k, "—"), **_csat(v)} for k, v in sorted(
            groups.items(), key=lambda kv: names.get(kv[0], "")) if only is None or k == only]

    scores = [x.score for x in rows]
    comments = sorted((x for x in rows if x.comment), key=lambda x: x.created_at, reverse=True)
    return {**_csat(scores), "sent": sent, "rate": len(rows) / sent if sent else None,
            "by_agent": by(lambda x: x.agent_id, agents, f.only_agent),
            "by_team": by(lambda x: x.team_id, teams),
            "by_resolution": by(lambda x: x.resolution_category_id, kinds),
            "distribution": [sum(1 for v in scores if v == n) for n in range(1, 6)],
            "comments": [{"at": x.created_at, "score": x.score, "comment": x.comment,
                          "agent": agents.get(x.agent_id, "—")
                          if f.only_agent in (None, x.agent_id) else "—"}
                         for x in comments[:5]]}


def productivity(f: Filters) -> list[dict]:
    """Per agent: assigned, replies, notes, resolved, medians, SLA, CSAT, open load."""
    t, a, r, s = ReportTicket, ReportActivity, ReportRound, ReportRating
    tickets = _grouped(_rows(t, f, t.created_at, t.agent_id, t.first_response_s,
                             t.first_response_met), lambda x: x.agent_id, lambda x: x)
    activity: dict = defaultdict(lambda: {True: 0, False: 0})
    for agent, public, n in db.session.execute(
            select(a.agent_id, a.public, func.count()).where(*_where(a, f, a.created_at))
            .group_by(a.agent_id, a.public)):
        activity[agent][bool(public)] += n
    rounds = _grouped(_rows(r, f, r.resolved_at, r.agent_id, r.resolution_s),
                      lambda x: x.agent_id, lambda x: x.resolution_s)
    ratings = _grouped(_rows(s, f, s.created_at, s.agent_id, s.score),
                       lambda x: x.agent_id, lambda x: x.score)
    ids = (set(tickets) | set(activity) | set(rounds) | set(ratings)) - {None}
    if f.only_agent is not None:
        ids = {f.only_agent}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    out = []
    for uid in sorted(ids, key=lambda i: people[i].name if i in people else ""):
        own = tickets.get(uid, [])
        judged = [x.first_response_met for x in own if x.first_response_met is not None]
        user = people.get(uid)
        out.append({
            "id": uid, "name": user.name if user else "—", "assigned": len(own),
            "replies": activity[uid][True] if uid in activity else 0,
            "notes": activity[uid][False] if uid in activity else 0,
            "resolved": len(rounds.get(uid, [])),
            "first_response": summary(x.first_response_s for x in own)["median"],
            "resolution": summary(rounds.get(uid, []))["median"],
            "sla": sum(judged) / len(judged) if judged else None,
            "csat": _csat(ratings.get(uid, []))["csat"],
            "open": user.open_tickets if user else 0, "capacity": user.capacity if user else 0,
        })
    return out


def escalations(f: Filters) -> dict:
    """Escalations by reason and by target team."""
    e = ReportEscalation
    rows = _rows(e, f, e.created_at, e.reason_id, e.to_team_id)
    reasons, teams = _names(EscalationReason), _names(Team)
    count = lambda key, names: sorted(  # noqa: E731
        ((names.get(k, "—"), len(v)) for k, v in _grouped(rows, key, lambda x: 1).items()),
        key=lambda kv: (-kv[1], kv[0]))
    return {"total": len(rows), "by_reason": count(lambda x: x.reason_id, reasons),
            "by_team": count(lambda x: x.to_team_id, teams)}


BACKLOG_STATES = ("new", "open", "pending")


def backlog(f: Filters) -> list[dict]:
    """Open tickets per status at the end of each day of the period (days without a snapshot:
    None); the days are the configured time zone's, as the refresh took them."""
    b = ReportBacklog
    conds = [b.day >= f.first, b.day <= f.last]
    if f.team_id is not None:
        conds.append(b.team_id == f.team_id)
    if f.teams is not None:
        conds.append(b.team_id.in_(f.teams))
    counts: dict = defaultdict(lambda: dict.fromkeys(BACKLOG_STATES, 0))
    for day, status, n in db.session.execute(select(b.day, b.status, b.tickets).where(*conds)):
        counts[day][status] += n
    return [{"day": d, **counts[d]} if d in counts else {"day": d, **dict.fromkeys(
        BACKLOG_STATES)} for d in f.days()]
