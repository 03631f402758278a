"""Fill the report facts: replace every fact of a set of tickets in one transaction.

A ticket's facts (the ticket row, its resolution rounds, ratings, staff messages and
escalations) are deleted and inserted again from the raw rows by set-based INSERT … SELECT, so
a run is idempotent and a run killed halfway leaves each ticket's previous facts whole. One
Redis lock serialises refreshes and rebuilds: a second run at the same time returns at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Date, case, delete, func, insert, literal, select

from ..extensions import db, get_redis
from ..models import (
    Escalation,
    Message,
    MessageKind,
    ReportActivity,
    ReportBacklog,
    ReportEscalation,
    ReportRating,
    ReportRound,
    ReportTicket,
    ResolutionRound,
    SatisfactionRating,
    Setting,
    Ticket,
)
from ..queries.base import OPEN_STATES
from ..queries.reports import epoch

CHUNK = 2000
RANGE = 20_000  # a full rebuild walks id ranges: range scans, no id lists
LOCK = "reports:refresh"
STATE_KEY = "reports.state"
#: Re-read what changed a little before the last run: a transaction that committed late with an
#: earlier timestamp (or a lower id) is picked up by the next run.
OVERLAP = timedelta(minutes=10)
ID_OVERLAP = 1000
LOCK_TTL = 120
_held = None  # the lock of the run in progress (one per process: jobs run one at a time)
FACTS = (ReportTicket, ReportRound, ReportRating, ReportActivity, ReportEscalation)


def _first_reply(ids):
    return (select(Message.ticket_id, func.min(Message.created_at).label("at"))
            .where(Message.kind == MessageKind.REPLY, Message.author_id.is_not(None),
                   ids(Message.ticket_id))
            .group_by(Message.ticket_id).subquery())


def _ticket_rows(ids):
    first = _first_reply(ids)
    met = case((Ticket.first_response_due_at.is_(None), None),
               (first.c.at.is_(None), None),
               (first.c.at <= Ticket.first_response_due_at, True), else_=False)
    return select(Ticket.id, Ticket.created_at, Ticket.team_id, Ticket.category_id,
                  Ticket.assignee_id, Ticket.priority, Ticket.channel, Ticket.status,
                  epoch(first.c.at) - epoch(Ticket.created_at), met) \
        .outerjoin(first, first.c.ticket_id == Ticket.id).where(ids(Ticket.id))


def _round_rows(ids):
    r = ResolutionRound
    confirmed = case((r.confirmation_answer == "yes", True),
                     (r.confirmation_answer == "no", False), else_=None)
    return select(r.id, r.ticket_id, r.resolved_at, r.team_id, r.category_id, r.agent_id,
                  Ticket.priority, Ticket.channel, r.resolution_category_id,
                  r.resolution_seconds, r.reopened_at.is_not(None), r.confirmation_requested,
                  confirmed, r.survey_sent_at.is_not(None)) \
        .join(Ticket, Ticket.id == r.ticket_id).where(ids(r.ticket_id))


def _rating_rows(ids):
    s = SatisfactionRating
    return select(s.id, s.ticket_id, s.created_at, s.team_id,
                  func.coalesce(ResolutionRound.category_id, Ticket.category_id), s.agent_id,
                  Ticket.priority, Ticket.channel, s.resolution_category_id, s.score, s.comment) \
        .join(Ticket, Ticket.id == s.ticket_id) \
        .outerjoin(ResolutionRound, ResolutionRound.id == s.round_id).where(ids(s.ticket_id))


def _activity_rows(ids):
    m = Message
    return select(m.id, m.ticket_id, m.created_at, m.author_id, Ticket.team_id,
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


_COLUMNS = {
    ReportTicket: ("ticket_id", "created_at", "team_id", "category_id", "agent_id", "priority",
                   "channel", "status", "first_response_s", "first_response_met"),
    ReportRound: ("round_id", "ticket_id", "resolved_at", "team_id", "category_id", "agent_id",
                  "priority", "channel", "resolution_category_id", "resolution_s", "reopened",
                  "confirmation_requested", "confirmed", "survey_sent"),
    ReportRating: ("rating_id", "ticket_id", "created_at", "team_id", "category_id", "agent_id",
                   "priority", "channel", "resolution_category_id", "score", "comment"),
    ReportActivity: ("message_id", "ticket_id", "created_at", "agent_id", "team_id",
                     "category_id", "priority", "channel", "public"),
    ReportEscalation: ("escalation_id", "ticket_id", "created_at", "reason_id", "to_team_id",
                       "team_id", "category_id", "agent_id", "priority", "channel"),
}
_ROWS = {ReportTicket: _ticket_rows, ReportRound: _round_rows, ReportRating: _rating_rows,
         ReportActivity: _activity_rows, ReportEscalation: _escalation_rows}


def replace_facts(ids) -> None:
    """Delete and insert again every fact of some tickets (the caller commits once).

    :param ids: a list of ticket ids, or a (first, last) range of ids
    """
    if isinstance(ids, tuple):
        first, last = ids
        cond = lambda col: col.between(first, last)  # noqa: E731
    elif ids:
        cond = lambda col: col.in_(ids)  # noqa: E731
    else:
        return
    for model in FACTS:
        db.session.execute(delete(model).where(cond(model.ticket_id)))
    for model in FACTS:
        table = model.__table__
        columns = [table.c[name] for name in _COLUMNS[model]]
        db.session.execute(insert(table).from_select(columns, _ROWS[model](cond)))


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _ranges(top: int) -> Iterable[tuple[int, int]]:
    for start in range(1, top + 1, RANGE):
        yield start, min(top, start + RANGE - 1)


def run_chunks(ids, progress: Callable[[int, int], None] | None = None) -> int:
    """Replace the facts of `ids` (a list, or every ticket up to an id when an int), one
    committed transaction per chunk; returns how many ticket ids were covered."""
    if isinstance(ids, int):
        chunks, total = list(_ranges(ids)), ids
    else:
        chunks = list(_chunks(sorted(set(ids))))
        total = sum(len(c) for c in chunks)
    done = 0
    for chunk in chunks:
        try:
            replace_facts(chunk)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        done += len(chunk) if isinstance(chunk, list) else chunk[1] - chunk[0] + 1
        if _held is not None:
            _held.reacquire()  # still alive: keep the lock another LOCK_TTL
        if progress:
            progress(done, total)
    return done


def load_state() -> dict:
    """The refresh watermark and when the figures were last refreshed."""
    row = db.session.get(Setting, STATE_KEY)
    return dict(row.value) if row is not None and isinstance(row.value, dict) else {}


def save_state(**values) -> None:
    """Merge values into the refresh state and commit."""
    state = load_state() | values
    row = db.session.get(Setting, STATE_KEY)
    if row is None:
        db.session.add(Setting(key=STATE_KEY, value=state))
    else:
        row.value = state
    db.session.commit()


def _max_id(column) -> int:
    return db.session.scalar(select(func.coalesce(func.max(column), 0)))


def changed_ticket_ids(state: dict) -> list[int]:
    """Tickets changed since the last run: updated_at (indexed), new ratings (by id)."""
    since = datetime.fromisoformat(state["updated_since"]) - OVERLAP
    ids = set(db.session.scalars(select(Ticket.id).where(Ticket.updated_at >= since)))
    after = state.get("rating_id", 0) - ID_OVERLAP
    ids.update(db.session.scalars(select(SatisfactionRating.ticket_id)
                                  .where(SatisfactionRating.id > after)))
    return sorted(ids)


def locked(run: Callable[[], int]) -> int | None:
    """Run under the report lock; None when another refresh or rebuild holds it. The lock
    lives LOCK_TTL seconds past each chunk, so a killed run frees it soon."""
    global _held
    lock = get_redis().lock(LOCK, timeout=LOCK_TTL, blocking=False)
    if not lock.acquire(blocking=False):
        return None
    _held = lock
    try:
        return run()
    finally:
        _held = None
        try:
            lock.release()
        except Exception:  # noqa: BLE001 - expired meanwhile: nothing left to release
            pass


def refresh(now: datetime, progress=None) -> int | None:
    """Incremental refresh: the facts of every ticket changed since the last run."""
    def run():
        state = load_state()
        if "updated_since" not in state:
            return _rebuild(None, now, progress)
        mark = _max_id(SatisfactionRating.id)
        done = run_chunks(changed_ticket_ids(state), progress)
        snapshot_backlog(now, current_app.config["HELPDESK_DEFAULT_TIMEZONE"])
        save_state(updated_since=now.isoformat(), rating_id=mark, refreshed_at=now.isoformat())
        return done
    return locked(run)


def _rebuild(since: datetime | None, now: datetime, progress=None) -> int:
    mark = _max_id(SatisfactionRating.id)
    if since is None:
        run_chunks(_max_id(Ticket.id), progress)
        done = db.session.scalar(select(func.count()).select_from(ReportTicket))
    else:
        rated = select(SatisfactionRating.ticket_id).where(SatisfactionRating.created_at >= since)
        stmt = select(Ticket.id).where((Ticket.updated_at >= since) | Ticket.id.in_(rated))
        done = run_chunks(list(db.session.scalars(stmt)), progress)
    snapshot_backlog(now, current_app.config["HELPDESK_DEFAULT_TIMEZONE"])
    values = {"rating_id": mark, "refreshed_at": now.isoformat()}
    if since is None or "updated_since" not in load_state():
        values["updated_since"] = now.isoformat()
    save_state(**values)
    return done


def rebuild(since: datetime | None, now: datetime, progress=None) -> int | None:
    """Rebuild the facts of every ticket (or those changed since `since`)."""
    return locked(lambda: _rebuild(since, now, progress))



def snapshot_backlog(now: datetime, tz_name: str) -> None:
    """Replace today's backlog rows (open tickets per status and team) in one transaction."""
    day = now.astimezone(ZoneInfo(tz_name)).date()
    try:
        db.session.execute(delete(ReportBacklog).where(ReportBacklog.day == day))
        counts = (select(literal(day, Date), Ticket.status, Ticket.team_id, func.count())
                  .where(Ticket.status.in_(OPEN_STATES))
                  .group_by(Ticket.status, Ticket.team_id))
        table = ReportBacklog.__table__
        db.session.execute(insert(table).from_select(
            [table.c.day, table.c.status, table.c.team_id, table.c.tickets], counts))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def finalise_yesterday(now: datetime, tz_name: str) -> int:
    """Rebuild the facts of tickets changed since yesterday's start, once per day (0 if done)."""
    tz = ZoneInfo(tz_name)
    yesterday = now.astimezone(tz).date() - timedelta(days=1)
    if load_state().get("finalised", "") >= yesterday.isoformat():
        return 0
    start = datetime.combine(yesterday, datetime.min.time(), tz)
    done = rebuild(start, now)
    if done is None:
        return 0
    save_state(finalised=yesterday.isoformat())
    return done
