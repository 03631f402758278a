"""Fill the report tables: each changed ticket's facts, then the day cubes' cells they touch.

A ticket's facts (the ticket row, its resolution rounds, ratings, staff messages and
escalations) are deleted and inserted again from the raw rows by set-based INSERT … SELECT;
then every cube cell (day × team × category × agent × priority × channel) that held one of
the old facts or holds one of the new is recomputed from the facts, in the same transaction.
So a run is idempotent, and a run killed halfway leaves the previous figures whole: never half
of a day. A full rebuild is one transaction. One Redis lock serialises refreshes and rebuilds:
a second run at the same time returns at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)

from ..extensions import db, get_redis
from ..models import (
    Escalation,
    Message,
    MessageKind,
    ReportActivity,
    ReportActivityDay,
    ReportBacklog,
    ReportEscalation,
    ReportRating,
    ReportRatingDay,
    ReportResolutionDay,
    ReportResponseDay,
    ReportRound,
    ReportTicket,
    ResolutionRound,
    SatisfactionRating,
    Setting,
    Ticket,
)
from ..queries.base import OPEN_STATES
from ..queries.reports import epoch, local_day, sketch_agg, sketch_bucket
from . import business, cache, swap

CHUNK = 2000
CELL_CHUNK = 2000
LOCK = "reports:refresh"
STATE_KEY = "reports.state"
#: Re-read what changed a little before the last run: a transaction that committed late with an
#: earlier timestamp (or a lower id) is picked up by the next run.
OVERLAP = timedelta(minutes=10)
ID_OVERLAP = 1000
LOCK_TTL = 120
_held = None  # the lock of the run in progress (one per process: jobs run one at a time)
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


def _in_cells(model, pairs) -> object:
    """(day, cell) in pairs, as one index range per day: day = d AND cell IN (…) for each
    day (a row-value IN list of pairs is not planned as index lookups)."""
    by_day: dict = {}
    for day, cell in pairs:
        by_day.setdefault(day, []).append(cell)
    return or_(*(and_(model.day == day, model.cell.in_(cells))
                 for day, cells in sorted(by_day.items())))


def _cell_chunks(cells: set) -> list[list]:
    pairs = sorted(cells)
    return [pairs[i:i + CELL_CHUNK] for i in range(0, len(pairs), CELL_CHUNK)]


def _fill_cubes(cells: set | None) -> None:
    """Recompute the cubes' rows of some (day, cell) pairs from the facts (None: all)."""
    for cube in CUBES:
        fact = SOURCE[cube]
        if cells is None:
            db.session.execute(delete(cube))
            groups = [[]]
        else:
            groups = [[_in_cells(fact, chunk)] for chunk in _cell_chunks(cells)]
            for chunk in _cell_chunks(cells):
                db.session.execute(delete(cube).where(_in_cells(cube, chunk)))
        for where in groups:
            names, stmt = _cube_select(cube, where)
            table = cube.__table__
            db.session.execute(insert(table).from_select([table.c[n] for n in names], stmt))


def _cells_of(ids) -> set:
    """The (day, cell) pairs the cubed facts of these tickets sit in."""
    out = set()
    for fact in SOURCE.values():
        out.update(tuple(row) for row in db.session.execute(
            select(fact.day, fact.cell).distinct().where(ids(fact.ticket_id))))
    return out


def _condition(ids):
    if isinstance(ids, tuple):
        first, last = ids
        return lambda col: col.between(first, last)
    return lambda col: col.in_(ids)


def replace_facts(ids) -> None:
    """Delete and insert again every fact of some tickets, and the cube cells they touch
    (the caller commits once).

    :param ids: a list of ticket ids, or a (first, last) range of ids
    """
    if not ids:
        return
    cond = _condition(ids)
    cells = _cells_of(cond)
    for model in FACTS:
        db.session.execute(delete(model).where(cond(model.ticket_id)))
    _insert_facts(cond)
    _fill_cubes(cells | _cells_of(cond))


def _insert_facts(cond) -> None:
    for model in FACTS:
        table = model.__table__
        columns = [table.c[name] for name in _COLUMNS[model]]
        db.session.execute(insert(table).from_select(columns, _ROWS[model](cond)))


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def run_chunks(ids: list[int], progress: Callable[[int, int], None] | None = None) -> int:
    """Replace the facts of `ids`, one committed transaction per chunk; how many tickets."""
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
        cache.changed()
        done += len(chunk)
        _still_alive()
        if progress:
            progress(done, total)
    return done


def _still_alive() -> None:
    if _held is not None:
        _held.reacquire()  # keep the lock another LOCK_TTL


def rebuild_all(progress: Callable[[int, int], None] | None = None) -> int:
    """Every fact and every cube row again, in one transaction: readers see the previous
    figures until it commits, and a run killed halfway changes nothing. How many tickets."""
    total = _max_id(Ticket.id)
    steps = len(FACTS) + len(CUBES)
    everything = lambda col: literal(True)  # noqa: E731
    if db.engine.dialect.name == "postgresql":
        return _rebuild_swapped(everything, total, steps, progress)
    try:
        for model in (*FACTS, *CUBES):
            db.session.execute(delete(model))
        for step, model in enumerate(FACTS, start=1):
            table = model.__table__
            db.session.execute(insert(table).from_select(
                [table.c[name] for name in _COLUMNS[model]], _ROWS[model](everything)))
            _still_alive()
            if progress:
                progress(total * step // steps, total)
        for step, cube in enumerate(CUBES, start=len(FACTS) + 1):
            names, stmt = _cube_select(cube, [])
            table = cube.__table__
            db.session.execute(insert(table).from_select([table.c[n] for n in names], stmt))
            _still_alive()
            if progress:
                progress(total * step // steps, total)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    cache.changed()
    return db.session.scalar(select(func.count()).select_from(ReportTicket))


def _rebuild_swapped(everything, total: int, steps: int, progress) -> int:
    """rebuild_all on PostgreSQL: new tables filled, indexed and swapped in (`swap`)."""
    done = [0]

    def step():
        _still_alive()
        done[0] += 1
        if progress:
            progress(total * done[0] // steps, total)

    facts = {model: (list(_COLUMNS[model]), _ROWS[model](everything)) for model in FACTS}
    cubes = {cube: (lambda aliases, cube=cube: _cube_select(cube, [], aliases[SOURCE[cube]]))
             for cube in CUBES}
    try:
        swap.rebuild(facts, cubes, _still_alive, step)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    cache.changed()
    return db.session.scalar(select(func.count()).select_from(ReportTicket))


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
    lives LOCK_TTL seconds past each step, so a killed run frees it soon."""
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
        if "updated_since" not in state or state.get("zone") != service_zone():
            return _rebuild(None, now, progress)
        _spans(now)
        mark = _max_id(SatisfactionRating.id)
        done = run_chunks(changed_ticket_ids(state), progress)
        snapshot_backlog(now)
        save_state(updated_since=now.isoformat(), rating_id=mark, refreshed_at=now.isoformat())
        return done
    return locked(run)


def _spans(now: datetime) -> None:
    try:
        business.write_spans(now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def _rebuild(since: datetime | None, now: datetime, progress=None) -> int:
    _spans(now)
    mark = _max_id(SatisfactionRating.id)
    if since is None:
        done = rebuild_all(progress)
    else:
        rated = select(SatisfactionRating.ticket_id).where(SatisfactionRating.created_at >= since)
        stmt = select(Ticket.id).where((Ticket.updated_at >= since) | Ticket.id.in_(rated))
        done = run_chunks(list(db.session.scalars(stmt)), progress)
    snapshot_backlog(now)
    values = {"rating_id": mark, "refreshed_at": now.isoformat()}
    if since is None or "updated_since" not in load_state():
        values |= {"updated_since": now.isoformat(), "zone": service_zone()}
    save_state(**values)
    return done


def fill_now(now: datetime) -> int:
    """A full rebuild without the Redis lock, for a database nothing else uses yet (the demo
    right after seeding it)."""
    return _rebuild(None, now)


def rebuild(since: datetime | None, now: datetime, progress=None) -> int | None:
    """Rebuild the facts of every ticket (or those changed since `since`)."""
    return locked(lambda: _rebuild(since, now, progress))


def snapshot_backlog(now: datetime) -> None:
    """Replace this hour's backlog rows (open tickets per status and team) in one
    transaction: each hour keeps its last refresh's counts."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    try:
        db.session.execute(delete(ReportBacklog).where(ReportBacklog.hour == hour))
        counts = (select(literal(hour, ReportBacklog.hour.type), Ticket.status, Ticket.team_id,
                         func.count())
                  .where(Ticket.status.in_(OPEN_STATES))
                  .group_by(Ticket.status, Ticket.team_id))
        table = ReportBacklog.__table__
        db.session.execute(insert(table).from_select(
            [table.c.hour, table.c.status, table.c.team_id, table.c.tickets], counts))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    cache.changed()


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

