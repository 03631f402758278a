"""Fill the report tables: each changed ticket's facts, then the day cubes' cells they touch.

A ticket's facts (the ticket row, its resolution rounds, ratings, staff messages and
escalations; their SELECTs in `facts`) are deleted and inserted again from the raw rows by
set-based INSERT … SELECT; then every cube cell (day × team × category × agent × priority ×
channel) that held one of the old facts or holds one of the new (`cells`) is recomputed from
the facts, or, for plain counts, by differences (`delta`), in the same transaction. So a run
is idempotent, and a run killed halfway leaves the previous figures whole: never half of a
day. A full rebuild is one transaction (on PostgreSQL new tables swapped in: `swap`). One Redis
lock serialises refreshes and rebuilds: a second run at the same time returns at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    any_,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from ..extensions import db, get_redis
from ..models import (
    ReportBacklog,
    ReportRating,
    ReportRound,
    ReportTicket,
    SatisfactionRating,
    Setting,
    Ticket,
)
from ..queries.base import OPEN_STATES
from . import business, cache, cells, delta, swap
from .facts import _COLUMNS, _ROWS, CUBES, FACTS, SOURCE, _cube_select, service_zone

CHUNK = 2000
LOCK = "reports:refresh"
STATE_KEY = "reports.state"
#: Re-read what changed a little before the last run: a transaction that committed late with an
#: earlier timestamp (or a lower id) is picked up by the next run.
OVERLAP = timedelta(minutes=10)
ID_OVERLAP = 1000
LOCK_TTL = 120
#: Report rows are never loaded as objects: an ORM DELETE need not send their keys back.
_UNSYNCED = {"synchronize_session": False}
_held = None  # the lock of the run in progress (one per process: jobs run one at a time)


def _condition(ids):
    if isinstance(ids, tuple):
        first, last = ids
        return lambda col: col.between(first, last)
    if db.engine.dialect.name == "postgresql":  # one array parameter, not one per id
        values = literal(list(ids), ARRAY(Integer))
        return lambda col: col == any_(values)
    return lambda col: col.in_(ids)


def replace_facts(ids) -> None:
    """Delete and insert again every fact of some tickets, and the cube cells they touch
    (the caller commits once).

    :param ids: a list of ticket ids, or a (first, last) range of ids
    """
    if not ids:
        return
    cond = _condition(ids)
    cells.start()
    delta.start()
    sources = {kind: SOURCE[cube] for kind, cube in enumerate(CUBES)}
    cells.note(sources, cond)
    delta.note(cond, -1)
    for model in FACTS:
        db.session.execute(delete(model).where(cond(model.ticket_id)),
                           execution_options=_UNSYNCED)
    _insert_facts(cond)
    delta.note(cond, 1)
    cells.note(sources, cond)
    cells.settle()
    for kind, cube in enumerate(CUBES):
        if cube in delta.CUBES:
            delta.apply(kind)
            continue
        db.session.execute(delete(cube).where(cells.touched(cube, kind)),
                           execution_options=_UNSYNCED)
        names, stmt = _cube_select(cube, [cells.touched(SOURCE[cube], kind)])
        table = cube.__table__
        db.session.execute(insert(table).from_select([table.c[n] for n in names], stmt))


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


#: Facts a refresh reads per (day, cell), written in that order by a full rebuild: a touched
#: cell's facts then share a page or two of the heap instead of ~25 scattered ones (the activity
#: facts are read per ticket: `delta`).
CLUSTERED = (ReportTicket, ReportRound, ReportRating)


def _clustered(model, rows):
    if model not in CLUSTERED:
        return rows
    day = _COLUMNS[model].index("day") + 1
    return rows.order_by(text(str(day)), text(str(day + 1)))  # the SELECT's day, cell


def _rebuild_swapped(everything, total: int, steps: int, progress) -> int:
    """rebuild_all on PostgreSQL: new tables filled, indexed and swapped in (`swap`)."""
    done = [0]

    def step():
        _still_alive()
        done[0] += 1
        if progress:
            progress(total * done[0] // steps, total)

    facts = {model: (list(_COLUMNS[model]), _clustered(model, _ROWS[model](everything)))
             for model in FACTS}
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
    """Tickets changed since the last run: updated_at (indexed), new ratings (by id). Of the
    ratings just below the last run's mark (ID_OVERLAP), only those missing from the facts
    (committed late) are taken: re-reading all of them doubled a refresh of 1,000 tickets."""
    since = datetime.fromisoformat(state["updated_since"]) - OVERLAP
    ids = set(db.session.scalars(select(Ticket.id).where(Ticket.updated_at >= since)))
    mark = state.get("rating_id", 0)
    s, r = SatisfactionRating, ReportRating
    known = select(r.rating_id).where(r.ticket_id == s.ticket_id, r.rating_id == s.id).exists()
    ids.update(db.session.scalars(select(s.ticket_id).where(s.id > mark)))  # by the key
    ids.update(db.session.scalars(select(s.ticket_id).where(
        s.id > mark - ID_OVERLAP, s.id <= mark, ~known)))
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

