"""The Informes figures, read only from the report tables (never from tickets).

Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at position
ceil(p·n) (1-based); the median is the 50th. Periods are half-open [start, end) in UTC, built
from whole days in the viewer's time zone.

The figures come from the day cubes when the viewer's days are the cubes' (the service's time
zone, or any zone whose midnights fall at the same instants over the period): counts and
averages exactly, percentiles from the merged sketches (within `sketch.ALPHA`). Otherwise
from the narrow facts (`_facts_*`): exact, slower.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, g
from sqlalchemy import Date, case, cast, func, literal, select

from ..extensions import db
from ..models import (
    Category,
    ReportActivity,
    ReportActivityDay,
    ReportRating,
    ReportRatingDay,
    ReportResolutionDay,
    ReportResponseDay,
    ReportRound,
    ReportTicket,
    ResolutionCategory,
    Team,
    User,
)
from . import cube

PERIODS = ("today", "7d", "30d", "this_month", "last_month", "custom")
#: What the page shows when nothing is asked.
DEFAULT_PERIOD = "30d"
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


def _postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def _stats(model, f: Filters, when, value, key, met=None) -> dict:
    """{group: rows, count, avg, median, p90 (and met/judged)} of `value` per `key`, a column
    or "day" (the viewer's days). PostgreSQL aggregates in SQL (percentile_disc is the
    nearest rank); SQLite, which has no percentiles, gets the values and sums them here."""
    conds = _where(model, f, when)
    overall = key is None
    key = literal("all") if overall else key
    if _postgres():
        group = cast(func.timezone(f.tz.key, when), Date) if isinstance(key, str) else key
        cols = [group, func.count(), func.count(value), func.avg(value),
                func.percentile_disc(0.5).within_group(value),
                func.percentile_disc(0.9).within_group(value)]
        if met is not None:
            cols += [func.sum(case((met.is_(True), 1), else_=0)), func.count(met)]
        out = {}
        stmt = select(*cols).where(*conds)
        for row in db.session.execute(stmt if overall else stmt.group_by(group)):
            out[row[0]] = {"rows": row[1], "count": row[2],
                           "avg": None if row[3] is None else float(row[3]),
                           "median": row[4], "p90": row[5]}
            if met is not None:
                out[row[0]] |= {"met": row[6] or 0, "judged": row[7]}
        return out
    cols = [when if isinstance(key, str) else key, value] + ([met] if met is not None else [])
    rows = db.session.execute(select(*cols).where(*conds)).all()
    pick = (lambda r: r[0].astimezone(f.tz).date()) if isinstance(key, str) else (lambda r: r[0])
    out = {}
    for group, items in _grouped(rows, pick, lambda r: r).items():
        out[group] = {"rows": len(items), **summary(r[1] for r in items)}
        if met is not None:
            judged = [r[2] for r in items if r[2] is not None]
            out[group] |= {"met": sum(1 for m in judged if m), "judged": len(judged)}
    return out


def _share_of(row) -> float | None:
    return row["met"] / row["judged"] if row.get("judged") else None


def _facts_response(f: Filters) -> dict:
    """First response: overall, by priority (with SLA share), team, channel and day."""
    t = ReportTicket
    teams = _names(Team)
    stats = lambda key, met=None: _stats(t, f, t.created_at, t.first_response_s, key, met)  # noqa: E731
    empty = {"rows": 0, "count": 0, "avg": None, "median": None, "p90": None}
    by_priority = [{"key": k, **v, "tickets": v["rows"], "sla": _share_of(v),
                    "sla_judged": v["judged"]}
                   for k, v in sorted(stats(t.priority, t.first_response_met).items())]
    by_day = stats("day")
    return {
        "all": stats(None).get("all", empty),
        "by_priority": by_priority,
        "by_team": [{"key": teams.get(k, "—"), **v} for k, v in sorted(
            stats(t.team_id).items(), key=lambda kv: teams.get(kv[0], ""))],
        "by_channel": [{"key": k, "tickets": v["rows"], **v}
                       for k, v in sorted(stats(t.channel).items())],
        "by_day": [{"day": d, "created": by_day.get(d, empty)["rows"], **by_day.get(d, empty)}
                   for d in f.days()],
    }


def _facts_resolution(f: Filters) -> dict:
    """Resolution time per category (one value per resolution round), net of Pendiente."""
    r = ReportRound
    names = _names(Category)
    empty = {"rows": 0, "count": 0, "avg": None, "median": None, "p90": None}
    by_category = [{"key": names.get(k, "—"), **v} for k, v in sorted(
        _stats(r, f, r.resolved_at, r.resolution_s, r.category_id).items(),
        key=lambda kv: names.get(kv[0], ""))]
    ones = lambda cond: func.coalesce(func.sum(case((cond, 1), else_=0)), 0)  # noqa: E731
    rounds, reopened, asked, yes, answered = db.session.execute(
        select(func.count(), ones(r.reopened.is_(True)), ones(r.confirmation_requested.is_(True)),
               ones(r.confirmed.is_(True)), func.count(r.confirmed))
        .where(*_where(r, f, r.resolved_at))).one()
    return {"all": _stats(r, f, r.resolved_at, r.resolution_s, None).get("all", empty),
            "by_category": by_category, "rounds": rounds, "reopened": reopened,
            "confirm_asked": asked, "confirmed": yes, "answered": answered}


def _csat_by(f: Filters, key) -> dict:
    s = ReportRating
    stmt = (select(literal("all") if key is None else key, func.count(),
                   func.sum(case((s.score >= 4, 1), else_=0)), func.avg(s.score))
            .where(*_where(s, f, s.created_at)))
    if key is not None:
        stmt = stmt.group_by(key)
    return {k: {"count": n, "csat": high / n if n else None,
                "avg": float(avg) if avg is not None else None}
            for k, n, high, avg in db.session.execute(stmt) if n}


def _facts_satisfaction(f: Filters) -> dict:
    """CSAT (share of 4–5), average, ratings, response rate; by agent, team, resolution."""
    s, r = ReportRating, ReportRound
    agents, teams, kinds = _names(User), _names(Team), _names(ResolutionCategory)
    sent = db.session.scalar(select(func.count()).where(*_where(r, f, r.resolved_at),
                                                        r.survey_sent.is_(True)))

    def by(key, names, only=None):
        return [{"id": k, "key": names.get(k, "—"), **v} for k, v in sorted(
            _csat_by(f, key).items(), key=lambda kv: names.get(kv[0], ""))
            if only is None or k == only]

    total = _csat_by(f, None).get("all", {"count": 0, "csat": None, "avg": None})
    counts = dict(db.session.execute(select(s.score, func.count())
                                     .where(*_where(s, f, s.created_at)).group_by(s.score)).all())
    comments = db.session.execute(
        select(s.created_at, s.agent_id, s.score, s.comment)
        .where(*_where(s, f, s.created_at), s.comment.is_not(None), s.comment != "")
        .order_by(s.created_at.desc()).limit(5)).all()
    return {**total, "sent": sent, "rate": total["count"] / sent if sent else None,
            "by_agent": by(s.agent_id, agents, f.only_agent),
            "by_team": by(s.team_id, teams),
            "by_resolution": by(s.resolution_category_id, kinds),
            "distribution": [counts.get(n, 0) for n in range(1, 6)],
            "comments": [{"at": x.created_at, "score": x.score, "comment": x.comment,
                          "agent": agents.get(x.agent_id, "—")
                          if f.only_agent in (None, x.agent_id) else "—"}
                         for x in comments]}


def _facts_productivity(f: Filters) -> list[dict]:
    """Per agent: assigned, replies, notes, resolved, medians, SLA, CSAT, open load."""
    t, a, r, s = ReportTicket, ReportActivity, ReportRound, ReportRating
    tickets = _stats(t, f, t.created_at, t.first_response_s, t.agent_id, t.first_response_met)
    activity: dict = defaultdict(lambda: {True: 0, False: 0})
    for agent, public, n in db.session.execute(
            select(a.agent_id, a.public, func.count()).where(*_where(a, f, a.created_at))
            .group_by(a.agent_id, a.public)):
        activity[agent][bool(public)] += n
    rounds = _stats(r, f, r.resolved_at, r.resolution_s, r.agent_id)
    ratings = _csat_by(f, s.agent_id)
    ids = (set(tickets) | set(activity) | set(rounds) | set(ratings)) - {None}
    if f.only_agent is not None:
        ids = {f.only_agent}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    out = []
    for uid in sorted(ids, key=lambda i: people[i].name if i in people else ""):
        own, user = tickets.get(uid, {}), people.get(uid)
        out.append({
            "id": uid, "name": user.name if user else "—", "assigned": own.get("rows", 0),
            "replies": activity[uid][True] if uid in activity else 0,
            "notes": activity[uid][False] if uid in activity else 0,
            "resolved": rounds.get(uid, {}).get("rows", 0),
            "first_response": own.get("median"),
            "resolution": rounds.get(uid, {}).get("median"),
            "sla": _share_of(own) if own else None,
            "csat": ratings.get(uid, {}).get("csat"),
            "open": user.open_tickets if user else 0, "capacity": user.capacity if user else 0,
        })
    return out


# --- the day cubes ----------------------------------------------------------------------------


def cubes_apply(f: Filters) -> bool:
    """Whether the viewer's days of the period are the cubes' days (same midnights)."""
    zone = ZoneInfo(current_app.config["HELPDESK_DEFAULT_TIMEZONE"])
    if f.tz.key == zone.key:
        return True
    return all(datetime.combine(d, time(), f.tz) == datetime.combine(d, time(), zone)
               for d in (*f.days(), f.last + timedelta(days=1)))


def _cube_where(cube, f: Filters) -> list:
    conds = [cube.day >= f.first, cube.day <= f.last]
    for name in ("team_id", "category_id", "agent_id", "priority", "channel"):
        value = getattr(f, name)
        if value is not None:
            conds.append(getattr(cube, name) == value)
    if f.teams is not None:
        conds.append(cube.team_id.in_(f.teams))
    return conds


_MEASURES = {
    ReportResponseDay: (("tickets", "answered", "sum_s", "met", "judged"), True),
    ReportResolutionDay: (("rounds", "answered", "sum_s", "reopened", "confirm_asked",
                           "confirmed", "survey_sent"), True),
    ReportRatingDay: (("ratings", "score_1", "score_2", "score_3", "score_4", "score_5"),
                      False),
    ReportActivityDay: (("replies", "notes"), False),
}

#: The dimensions each cube is grouped by on the page (filters are applied in SQL): only these
#: columns are read.
_GROUPED_BY = {
    ReportResponseDay: ("team_id", "agent_id", "priority", "channel"),
    ReportResolutionDay: ("category_id", "agent_id"),
    ReportRatingDay: ("team_id", "agent_id", "resolution_category_id"),
    ReportActivityDay: ("agent_id",),
}


def frame(model, f: Filters) -> cube.Frame | cube.Sums:
    """The cube's rows of the period and filters (read once per request); the cubes without
    sketches are summed per grouping in SQL."""
    memo = g.setdefault("report_frames", {})
    if (model, f) not in memo:
        measures, sketched = _MEASURES[model]
        dims = _GROUPED_BY[model]
        memo[(model, f)] = cube.Frame(model, _cube_where(model, f), dims, measures, sketched) \
            if sketched else cube.Sums(model, _cube_where(model, f), measures, dims)
    return memo[(model, f)]


def _duration_stats(row: dict, rows: str, total: str = "sum_s") -> dict:
    count = int(row["answered"]) if rows == "tickets" else int(row[rows])
    median, p90 = cube.quantiles(row.get("hist"))
    out = {"rows": int(row[rows]), "count": count,
           "avg": row[total] / count if count else None, "median": median, "p90": p90}
    if "met" in row and rows == "tickets":
        out |= {"met": int(row["met"]), "judged": int(row["judged"])}
    return out


_EMPTY = {"rows": 0, "count": 0, "avg": None, "median": None, "p90": None}


def response(f: Filters) -> dict:
    """First response: overall, by priority (with SLA share), team, channel and day."""
    if not cubes_apply(f):
        return _facts_response(f)
    data = frame(ReportResponseDay, f)
    stats = lambda key: {k: _duration_stats(v, "tickets")  # noqa: E731
                         for k, v in data.group(key).items()}
    teams = _names(Team)
    by_day = stats("day")
    return {
        "all": stats(None).get("all", _EMPTY),
        "by_priority": [{"key": k, **v, "tickets": v["rows"], "sla": _share_of(v),
                         "sla_judged": v["judged"]} for k, v in sorted(stats("priority").items())],
        "by_team": [{"key": teams.get(k, "—"), **v} for k, v in sorted(
            stats("team_id").items(), key=lambda kv: teams.get(kv[0], ""))],
        "by_channel": [{"key": k, "tickets": v["rows"], **v}
                       for k, v in sorted(stats("channel").items())],
        "by_day": [{"day": d, "created": by_day.get(d, _EMPTY)["rows"],
                    **by_day.get(d, _EMPTY)} for d in f.days()],
    }


def _resolution_stats(row: dict) -> dict:
    return _duration_stats(row, "rounds")


def resolution(f: Filters) -> dict:
    """Resolution time per category (one value per resolution round), net of Pendiente."""
    if not cubes_apply(f):
        return _facts_resolution(f)
    data = frame(ReportResolutionDay, f)
    names = _names(Category)
    total = data.group(None).get("all")
    by_category = [{"key": names.get(k, "—"), **_resolution_stats(v)} for k, v in sorted(
        data.group("category_id").items(), key=lambda kv: names.get(kv[0], ""))]
    pick = (lambda name: int(total[name])) if total else (lambda name: 0)
    return {"all": _resolution_stats(total) if total else _EMPTY,
            "by_category": by_category, "rounds": pick("rounds"), "reopened": pick("reopened"),
            "confirm_asked": pick("confirm_asked"), "confirmed": pick("confirmed"),
            "answered": pick("answered")}


def _csat(row: dict) -> dict:
    n = int(row["ratings"])
    high = row["score_4"] + row["score_5"]
    total = sum(i * row[f"score_{i}"] for i in range(1, 6))
    return {"count": n, "csat": high / n if n else None, "avg": total / n if n else None}


def satisfaction(f: Filters) -> dict:
    """CSAT (share of 4–5), average, ratings, response rate; by agent, team, resolution."""
    if not cubes_apply(f):
        return _facts_satisfaction(f)
    data = frame(ReportRatingDay, f)
    agents, teams, kinds = _names(User), _names(Team), _names(ResolutionCategory)
    rounds = frame(ReportResolutionDay, f).group(None).get("all")
    sent = int(rounds["survey_sent"]) if rounds else 0
    total = data.group(None).get("all")

    def by(key, names, only=None):
        return [{"id": k, "key": names.get(k, "—"), **_csat(v)} for k, v in sorted(
            data.group(key).items(), key=lambda kv: names.get(kv[0], ""))
            if (only is None or k == only) and v["ratings"]]

    summary_ = _csat(total) if total else {"count": 0, "csat": None, "avg": None}
    return {**summary_, "sent": sent, "rate": summary_["count"] / sent if sent else None,
            "by_agent": by("agent_id", agents, f.only_agent),
            "by_team": by("team_id", teams),
            "by_resolution": by("resolution_category_id", kinds),
            "distribution": [int(total[f"score_{i}"]) if total else 0 for i in range(1, 6)],
            "comments": _comments(f, agents)}


def _comments(f: Filters, agents: dict) -> list[dict]:
    s = ReportRating
    comments = db.session.execute(
        select(s.created_at, s.agent_id, s.score, s.comment)
        .where(*_where(s, f, s.created_at), s.comment.is_not(None), s.comment != "")
        .order_by(s.created_at.desc()).limit(5)).all()
    return [{"at": x.created_at, "score": x.score, "comment": x.comment,
             "agent": agents.get(x.agent_id, "—") if f.only_agent in (None, x.agent_id)
             else "—"} for x in comments]


def productivity(f: Filters) -> list[dict]:
    """Per agent: assigned, replies, notes, resolved, medians, SLA, CSAT, open load."""
    if not cubes_apply(f):
        return _facts_productivity(f)
    tickets = {k: _duration_stats(v, "tickets")
               for k, v in frame(ReportResponseDay, f).group("agent_id").items()}
    rounds = {k: _resolution_stats(v)
              for k, v in frame(ReportResolutionDay, f).group("agent_id").items()}
    activity = frame(ReportActivityDay, f).group("agent_id")
    ratings = {k: _csat(v) for k, v in frame(ReportRatingDay, f).group("agent_id").items()}
    ids = (set(tickets) | set(activity) | set(rounds) | set(ratings)) - {None}
    if f.only_agent is not None:
        ids = {f.only_agent}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    out = []
    for uid in sorted(ids, key=lambda i: people[i].name if i in people else ""):
        own, user = tickets.get(uid, {}), people.get(uid)
        done = activity.get(uid, {})
        out.append({
            "id": uid, "name": user.name if user else "—", "assigned": own.get("rows", 0),
            "replies": int(done.get("replies", 0)), "notes": int(done.get("notes", 0)),
            "resolved": rounds.get(uid, {}).get("rows", 0),
            "first_response": own.get("median"),
            "resolution": rounds.get(uid, {}).get("median"),
            "sla": _share_of(own) if own else None,
            "csat": ratings.get(uid, {}).get("csat") if ratings.get(uid, {}).get("count")
            else None,
            "open": user.open_tickets if user else 0, "capacity": user.capacity if user else 0,
        })
    return out

