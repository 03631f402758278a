"""Time Informes at scale: full rebuild, incremental refresh after 1,000 changes, the page.

    .venv/bin/python bench/reports.py [--tickets 1000000] [--fresh] [--requests 30]

The database is DATABASE_URL, else a SQLite file under instance/ (as bench/queue_pages.py, whose
seeding it reuses). The last line printed is JSON: rebuild_s, refresh_s, page_p95_ms,
filtered_p95_ms (team + category + 90 days), "tickets" and "database"; and page_cold_ms /
filtered_cold_ms, one view each with nothing cached (figures, page and charts: the first view
of those filters after a refresh); cold_p95_ms, the p95 of 12 other filter combinations each
viewed once cold. first_view_ms is the process's first view (today, no filter), timed apart:
it compiles the templates and loads pygal and Babel's data, once per worker.

On PostgreSQL the seed runs with triggers off (session_replication_role = replica): the
full-text search triggers refresh a ticket's whole document on each of its messages, which
takes a 1,000,000-ticket seed from minutes to hours. This bench never searches; the agents'
open-ticket counters are recounted after the seed. The timed runs have every trigger on.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import queue_pages  # noqa: E402  (the bench's seeding and clients, shared)


def parse_args() -> argparse.Namespace:
    """The command line: how many tickets, timed requests and changed tickets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--prepare-only", action="store_true",
                        help="migrate and seed (or reuse) the database, then stop")
    return parser.parse_args()


def timed_rebuild(app) -> float:
    """Empty the report tables and rebuild them; seconds."""
    from helpdesk import rules
    from helpdesk.extensions import db
    from helpdesk.reporting import refresh

    with app.app_context():
        with db.engine.begin() as conn:
            tables = [model.__table__ for model in (*refresh.FACTS, *refresh.CUBES)]
            if conn.dialect.name == "postgresql":  # the bench's own reset, not timed
                conn.exec_driver_sql("TRUNCATE " + ", ".join(t.name for t in tables))
            else:
                for table in tables:
                    conn.execute(table.delete())
        db.session.remove()
        started = time.perf_counter()
        assert refresh.rebuild(None, rules.utcnow()) is not None, "report lock held"
        seconds = time.perf_counter() - started
        db.session.remove()
    return seconds


def timed_refresh(app, changes: int) -> float:
    """Change `changes` random tickets (team and updated_at), then refresh; seconds."""
    from sqlalchemy import func, select, update

    from helpdesk import rules
    from helpdesk.extensions import db
    from helpdesk.models import Team, Ticket
    from helpdesk.reporting import refresh

    with app.app_context():
        top = db.session.scalar(select(func.max(Ticket.id)))
        teams = list(db.session.scalars(select(Team.id)))
        rng = random.Random(1)
        ids = rng.sample(range(1, top + 1), min(changes, top))
        now = rules.utcnow()
        # the last run is old enough that only these tickets fall inside its overlap window
        refresh.save_state(updated_since=(now - timedelta(seconds=1)).isoformat())
        db.session.execute(update(Ticket).where(Ticket.id.in_(ids))
                           .values(team_id=rng.choice(teams), updated_at=now))
        db.session.commit()
        started = time.perf_counter()
        done = refresh.refresh(rules.utcnow())
        seconds = time.perf_counter() - started
        db.session.remove()
    print(f"refresh: {done} tickets", file=sys.stderr)
    return seconds


def forget(app) -> None:
    """Drop every cached figure and page (Redis) and every drawn chart (this process)."""
    from helpdesk.extensions import get_redis
    from helpdesk.reporting import cache, charts

    with app.app_context():
        redis = get_redis()
        for key in redis.scan_iter(cache.PREFIX + "*"):
            redis.delete(key)
    charts._drawn.cache_clear()


def cold_ms(app, client, url: str) -> float:
    """One GET of `url` with nothing cached (figures, page, charts): a first view, ms."""
    forget(app)
    started = time.perf_counter()
    assert client.get(url).status_code == 200
    return (time.perf_counter() - started) * 1000


def cold_urls(app) -> list[str]:
    """Filter combinations a supervisor moves through (period, team, category, priority,
    channel, agent), each to be viewed once cold."""
    from datetime import date

    from sqlalchemy import select

    from helpdesk.extensions import db
    from helpdesk.models import Category, Role, Team, User

    with app.app_context():
        teams = list(db.session.scalars(select(Team.id).order_by(Team.id)))
        cats = list(db.session.scalars(select(Category.id).order_by(Category.id)))
        agent = db.session.scalar(select(User.id).where(User.role == Role.AGENT).order_by(User.id))
    today = date.today()
    base = "/admin/reports/?period="
    team2, cat2 = teams[1 % len(teams)], cats[1 % len(cats)]
    return [base + "7d", base + "this_month", base + "last_month", base + "today",
            f"{base}7d&team={teams[0]}", f"{base}30d&team={teams[-1]}&category={cats[-1]}",
            f"{base}this_month&priority=high", f"{base}30d&channel=email",
            f"{base}custom&from={today - timedelta(days=59)}&to={today}&team={team2}",
            f"{base}custom&from={today - timedelta(days=89)}&to={today}&category={cat2}",
            f"{base}last_month&team={teams[0]}&priority=urgent",
            f"{base}30d&agent={agent}"]


def page_p95(client, url: str, requests: int) -> float:
    """p95 of `requests` GETs of `url` (after 3 untimed), ms. Charts of the same figures are
    drawn once per process (`reporting.charts`): these are views after the first."""
    for _ in range(3):
        assert client.get(url).status_code == 200
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return queue_pages.percentile(times, 95)


_SEEDING = {"on": False}


def _without_triggers(session, transaction, connection) -> None:
    if _SEEDING["on"] and connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")


def prepare(app, tickets: int, fresh: bool) -> int:
    """queue_pages.prepare, with triggers off while it seeds (PostgreSQL); the ticket count."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from helpdesk import workflows

    event.listen(Session, "after_begin", _without_triggers)
    _SEEDING["on"] = True
    try:
        have = queue_pages.prepare(app, tickets, fresh)
    finally:
        _SEEDING["on"] = False
        event.remove(Session, "after_begin", _without_triggers)
    with app.app_context(), workflows.atomic():
        workflows.recount_open_tickets()
    return have


def main() -> None:
    args = parse_args()
    uri = queue_pages.database_uri(args.tickets, args.fresh)
    app = queue_pages.build_app(uri)
    have = prepare(app, args.tickets, args.fresh)
    if args.prepare_only:
        print(f"{have} tickets ready", file=sys.stderr)
        return
    rebuild_s = timed_rebuild(app)
    refresh_s = timed_refresh(app, args.changes)
    with app.app_context():
        queue_pages.analyze()  # what autovacuum does after the rebuild's deletes and inserts
    from sqlalchemy import select

    from helpdesk import workflows
    from helpdesk.extensions import db
    from helpdesk.models import Category, Team, User

    print(f"rebuild {rebuild_s:.1f} s, refresh {refresh_s:.2f} s", file=sys.stderr)
    with app.app_context(), workflows.atomic():
        user = db.session.scalar(select(User).where(User.email == queue_pages.SUPERVISOR))
        user.session_token = workflows.start_session(user, remember=False,
                                                     user_agent="bench").token
        client = app.test_client(user=user)
    with app.app_context():
        team = db.session.scalar(select(Team.id).order_by(Team.id))
        category = db.session.scalar(select(Category.id).order_by(Category.id))
        backend = db.engine.dialect.name
    from datetime import date

    today = date.today()
    filtered = (f"/admin/reports/?period=custom&from={today - timedelta(days=89)}&to={today}"
                f"&team={team}&category={category}")
    # a worker's first request compiles the templates and loads pygal's and Babel's data:
    # timed apart (first_view_ms), so the cold figures are a cache miss in a running worker
    first = {"first_view_ms": round(cold_ms(app, client, "/admin/reports/?period=today"), 1)}
    cold = {"page_cold_ms": round(cold_ms(app, client, "/admin/reports/"), 1),
            "filtered_cold_ms": round(cold_ms(app, client, filtered), 1),
            "cold_p95_ms": round(queue_pages.percentile(
                [cold_ms(app, client, url) for url in cold_urls(app)], 95), 1)}
    result = {"rebuild_s": round(rebuild_s, 2), "refresh_s": round(refresh_s, 3),
              "page_p95_ms": round(page_p95(client, "/admin/reports/", args.requests), 1),
              "filtered_p95_ms": round(page_p95(client, filtered, args.requests), 1),
              **cold, **first, "tickets": have, "database": backend}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
