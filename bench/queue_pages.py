"""Time the queue at scale: page 1, page 200, filters, search, every saved view, the ticket page.

    .venv/bin/python bench/queue_pages.py [--tickets 1000000] [--fresh] [--requests 30]

The database is DATABASE_URL, else a SQLite file under instance/ that later runs reuse
(instance/bench-1m.sqlite for a million tickets). If it holds fewer tickets than asked it is
migrated and seeded with `demo.seed` (an existing DATABASE_URL is only wiped with --fresh); the
migrations run on every start, so new indexes reach a reused database. Requests go through
Flask's test client, logged in as a demo agent and as the supervisor, after a warm-up; each group
mixes both. The last line printed is JSON: p50 and p95 in ms per group, "tickets", "database";
`fts_p50_ms`/`fts_p95_ms` are the worse of the full-text groups (a rare quoted phrase, a common
word), each also reported on its own (`fts_rare_*`, `fts_common_*`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AGENT, SUPERVISOR = "agente1@demo.bayit", "supervisor@demo.bayit"
#: The demo generates at most this many tickets; the rest are copies made in SQL (replicate).
BASE = 100_000
TAB_LINK = re.compile(r'href="([^"]+)" data-testid="view-(\w+)"')


def _load() -> str:
    """The machine's load averages (1, 5, 15 min), reported with every figure."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_args() -> argparse.Namespace:
    """The command line: how many tickets, how many timed requests, whether to start over."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per group")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per URL")
    parser.add_argument("--fresh", action="store_true",
                        help="wipe the database (DATABASE_URL too) and seed it again")
    parser.add_argument("--base", type=int, default=BASE,
                        help="tickets the demo generates; the rest are copies (replicate())")
    parser.add_argument("--only", default="",
                        help="time only these groups, comma-separated (fts_rare,fts_common,"
                             "search,…; 'views' for the saved views)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="migrate, seed and analyze, then stop")
    return parser.parse_args()


def database_uri(tickets: int, fresh: bool) -> str:
    """DATABASE_URL, else the bench's own SQLite file (deleted first with --fresh)."""
    if url := os.environ.get("DATABASE_URL"):
        return url
    name = "bench-1m" if tickets == 1_000_000 else f"bench-{tickets}"
    path = ROOT / "instance" / f"{name}.sqlite"
    path.parent.mkdir(exist_ok=True)
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def build_app(uri: str):
    """The app against `uri`; test clients start logged in (flask_login.FlaskLoginClient)."""
    from flask_login import FlaskLoginClient

    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "WTF_CSRF_ENABLED": False,
                      "SECRET_KEY": "bench"})
    app.test_client_class = FlaskLoginClient
    return app


def ticket_count() -> int:
    """Tickets in the database (0 before the first migration)."""
    from sqlalchemy import func, inspect, select

    from helpdesk.extensions import db
    from helpdesk.models import Ticket

    if "tickets" not in inspect(db.engine).get_table_names():
        return 0
    with db.engine.connect() as conn:  # not the session: SQLite's BEGIN IMMEDIATE would linger
        return conn.scalar(select(func.count()).select_from(Ticket))


def wipe() -> None:
    """Drop everything in the public schema: tables, the search index, the migrations'
    functions and triggers (only ever with --fresh, and only on PostgreSQL)."""
    from helpdesk.extensions import db

    db.session.remove()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
        conn.exec_driver_sql("DROP TEXT SEARCH CONFIGURATION IF EXISTS hd_es")
        conn.exec_driver_sql("DROP TEXT SEARCH CONFIGURATION IF EXISTS hd_en")


def prepare(app, tickets: int, fresh: bool, base: int = BASE) -> int:
    """Migrate; seed when there are fewer tickets than asked; refresh planner stats; the count."""
    import flask_migrate

    from helpdesk import demo
    from helpdesk.extensions import db
    from helpdesk.queries import search

    with app.app_context():
        if fresh and db.engine.dialect.name != "sqlite":
            wipe()
        before = _revision()
        flask_migrate.upgrade()
        stale = before != _revision()
        have = ticket_count()
        if have < tickets:
            if demo.has_data():
                db.session.remove()
                raise SystemExit(f"Error: the database has {have} tickets and other data; "
                                 f"run with --fresh to wipe it and seed {tickets}")
            base = min(tickets, base)
            print(f"Seeding {base} tickets…", file=sys.stderr)
            started = time.perf_counter()
            pg = db.engine.dialect.name == "postgresql"
            with _without_search_gin(pg), search.bulk_load():  # the index built once, after
                demo.seed(tickets=base, progress=True)
            db.session.remove()
            if tickets > base:
                db.engine.dispose()  # SQLite: connections opened before the migration
                replicate(base, tickets)
            print(f"Seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            stale, have = True, ticket_count()
        db.session.remove()
        if stale:
            analyze()
    return have


def replicate(base: int, tickets: int) -> None:
    """Grow the seeded `base` tickets to `tickets` by copying them, their threads and their
    search documents in SQL, ids shifted by a multiple of the base (the copies keep their
    customers, so each document is the original's, word for word). The demo's generator is
    Python: a million tickets took ~10 minutes of one core, over an hour on the shared
    machine; the copies take a few minutes of the database's own C code."""
    from helpdesk.demo.bulk import reset_sequences
    from helpdesk.extensions import db
    from helpdesk.queries import search

    print(f"Copying up to {tickets} tickets…", file=sys.stderr)
    with db.engine.connect() as conn:
        ticket_cols = [c["name"] for c in _columns(conn, "tickets")]
        message_cols = [c["name"] for c in _columns(conn, "messages")]
        max_message = conn.exec_driver_sql("SELECT max(id) FROM messages").scalar()
        pg = conn.dialect.name == "postgresql"
    with search.bulk_load(rebuild=False), _without_search_gin(pg):
        for copy in range(1, -(-tickets // base)):
            shift, top = copy * base, min(base, tickets - copy * base)
            tcols = ", ".join(f"id + {shift}" if c == "id" else c for c in ticket_cols)
            mcols = ", ".join(f"id + {copy * max_message}" if c == "id" else
                              f"ticket_id + {shift}" if c == "ticket_id" else c
                              for c in message_cols)
            with db.engine.begin() as conn:
                conn.exec_driver_sql(f"INSERT INTO tickets ({', '.join(ticket_cols)}) "
                                     f"SELECT {tcols} FROM tickets WHERE id <= {top}")
                conn.exec_driver_sql(f"INSERT INTO messages ({', '.join(message_cols)}) "
                                     f"SELECT {mcols} FROM messages WHERE ticket_id <= {top}")
                if pg:
                    conn.exec_driver_sql(
                        f"INSERT INTO ticket_fts (ticket_id, names, body, doc) SELECT "
                        f"ticket_id + {shift}, names, body, doc FROM ticket_fts "
                        f"WHERE ticket_id <= {top}")
                else:
                    conn.exec_driver_sql(
                        f"INSERT INTO ticket_fts (rowid, subject, customer, body) SELECT "
                        f"rowid + {shift}, subject, customer, body FROM ticket_fts "
                        f"WHERE rowid <= {top}")
            print(f"  {shift + top} tickets", file=sys.stderr)
    if pg:
        reset_sequences()
        db.session.commit()
        db.session.remove()
    # SQLite: no 'optimize' of the FTS5 index after the copies. It rewrites the whole index in
    # one transaction (4 GB at a million tickets): over half an hour on the shared machine,
    # the seed's stall near 1M. FTS5's automerge already keeps the segments few, and a search
    # reads each term's few segments newest first.


@contextmanager
def _without_search_gin(pg: bool):
    """PostgreSQL: the search table's GIN indexes dropped while the copies are written and built
    again after (a GIN build sorts once; kept, each copied document's hundreds of entries go in
    one by one, as the indexes have no pending list)."""
    from helpdesk.extensions import db

    if not pg:
        yield
        return
    with db.engine.begin() as conn:
        definitions = conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ticket_fts' "
            "AND indexdef ~ 'USING gin'").all()
        for name, _definition in definitions:
            conn.exec_driver_sql(f"DROP INDEX {name}")
    try:
        yield
    finally:
        print("Building the search indexes…", file=sys.stderr)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
            for _name, definition in definitions:
                conn.exec_driver_sql(definition)


def _columns(conn, table: str) -> list[dict]:
    from sqlalchemy import inspect

    return inspect(conn).get_columns(table)


def _revision() -> str | None:
    from sqlalchemy import inspect, text

    from helpdesk.extensions import db

    if "alembic_version" not in inspect(db.engine).get_table_names():
        return None
    with db.engine.connect() as conn:
        return conn.scalar(text("SELECT version_num FROM alembic_version"))


def analyze() -> None:
    """Planner statistics (and PostgreSQL's visibility map, for index-only scans)."""
    from helpdesk.extensions import db

    print("Analyzing…", file=sys.stderr)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")


def clients(app) -> dict:
    """A logged-in test client for the demo agent and one for the supervisor."""
    from sqlalchemy import select

    from helpdesk import workflows
    from helpdesk.extensions import db
    from helpdesk.models import User

    with app.app_context(), workflows.atomic():  # a server-side session each, as a login
        users = {email: db.session.scalar(select(User).where(User.email == email))
                 for email in (AGENT, SUPERVISOR)}
        for user in users.values():
            user.session_token = workflows.start_session(user, remember=False,
                                                         user_agent="bench").token
        return {email: app.test_client(user=user) for email, user in users.items()}


def filter_args(app, pairs) -> dict:
    """URL arguments for the ticket view's filters: [(column attribute, operation class, value)]."""
    admin = app.extensions["admin"][0]
    view = next(v for v in admin._views if getattr(v, "endpoint", None) == "tickets")
    args = {}
    for position, (column, kind, value) in enumerate(pairs):
        index, flt = next((i, f) for i, f in enumerate(view._filters)
                          if getattr(f, "column", None) is column and type(f).__name__ == kind)
        args[f"flt{position}_{view.get_filter_arg(index, flt)}"] = value
    return args


def samples(app) -> dict:
    """What to search for and which ticket to open: a subject word, an e-mail, a long thread."""
    from sqlalchemy import func, select

    from helpdesk.extensions import db
    from helpdesk.models import Customer, Message, Ticket, User, team_members

    with app.app_context():
        agent = db.session.scalar(select(User).where(User.email == AGENT))
        teams = select(team_members.c.team_id).where(team_members.c.user_id == agent.id)
        middle = db.session.scalar(select(func.max(Ticket.id))) // 2
        subject = db.session.scalar(select(Ticket.subject).where(Ticket.id >= middle)
                                    .order_by(Ticket.id).limit(1))
        word = max(re.findall(r"\w+", subject), key=len)
        ticket = db.session.get(Ticket, middle)
        email = db.session.get(Customer, ticket.customer_id).email
        window = select(Ticket.id).where(Ticket.id.between(middle, middle + 5000),
                                         Ticket.team_id.in_(teams))
        thread = db.session.execute(
            select(Message.ticket_id, func.count()).where(Message.ticket_id.in_(window))
            .group_by(Message.ticket_id).order_by(func.count().desc(), Message.ticket_id)
            .limit(1)).one()
        return {"word": word, "email": email, "ticket": thread[0], "messages": thread[1],
                **fts_samples(middle)}


def fts_samples(middle: int) -> dict:
    """Full-text search terms: a rare phrase (four words of one customer message, quoted) and a
    common word (the most frequent long word of a few hundred messages)."""
    from collections import Counter as Tally

    from sqlalchemy import select

    from helpdesk.extensions import db
    from helpdesk.models import Message

    bodies = list(db.session.scalars(select(Message.body).where(Message.ticket_id >= middle)
                                      .order_by(Message.id).limit(300)))
    words = Tally(w.lower() for body in bodies for w in re.findall(r"\w{6,}", body))
    common = words.most_common(1)[0][0]
    longest = max(bodies, key=lambda body: len(re.findall(r"\w+", body)))
    phrase = " ".join(re.findall(r"\w+", longest)[3:7])
    return {"phrase": f'"{phrase}"', "common": common}


class Counter:
    """Counts the SQL statements the engine runs and the time they take (the bench reports both
    per request: on a loaded machine the SQL share tells the search's own cost from rendering)."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.n, self.seconds, self.engine = 0, 0.0, engine
        event.listen(engine, "before_cursor_execute", self.before)
        event.listen(engine, "after_cursor_execute", self.after)

    def before(self, conn, *args) -> None:
        self.n += 1
        conn.info["bench_started"] = time.perf_counter()

    def after(self, conn, *args) -> None:
        self.seconds += time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())


def timed(client, url: str, counter: Counter) -> tuple[float, int, float]:
    """One GET: milliseconds, statements and milliseconds in SQL; a non-200 answer stops the
    bench."""
    before, sql_before = counter.n, counter.seconds
    started = time.perf_counter()
    response = client.get(url)
    ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"Error: GET {url} answered {response.status_code}")
    return ms, counter.n - before, (counter.seconds - sql_before) * 1000


def measure(users: dict, urls: list[str], requests: int, warmup: int, counter: Counter) -> dict:
    """Warm every URL up, then time `requests` GETs spread over the users and URLs."""
    pairs = [(client, url) for client in users.values() for url in urls]
    for client, url in pairs:
        for _i in range(warmup):
            timed(client, url, counter)
    times, statements, sql = [], [], []
    for i in range(requests):
        ms, n, sql_ms = timed(*pairs[i % len(pairs)], counter)
        times.append(ms)
        statements.append(n)
        sql.append(sql_ms)
    return {"p50": percentile(times, 50), "p95": percentile(times, 95),
            "max": round(max(times), 1), "statements": max(statements),
            "sql_p50": percentile(sql, 50), "sql_p95": percentile(sql, 95)}


def percentile(values: list[float], pct: int) -> float:
    """The pct-th percentile (inclusive method), rounded to 0.1 ms."""
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 1)


def groups(app, users: dict, sample: dict) -> dict[str, list[str]]:
    """The URLs of each timed group."""
    from helpdesk.models import Priority, Ticket, TicketStatus

    base = "/admin/tickets/"
    combo = filter_args(app, [(Ticket.status, "FilterEqual", TicketStatus.OPEN.value),
                              (Ticket.priority, "FilterEqual", Priority.HIGH.value)])
    with app.test_request_context():
        from flask import url_for
        combo_url = url_for("tickets.index_view", **combo)
        search = [url_for("tickets.index_view", search=sample["word"]),
                  url_for("tickets.index_view", search=sample["email"])]
        fts = {"fts_rare": [url_for("tickets.index_view", search=sample["phrase"])],
               "fts_common": [url_for("tickets.index_view", search=sample["common"])]}
    return {"page1": [base], "page200": [base + "?page=199"],
            "filtered": [tabs(users)["open"], combo_url], "search": search, **fts,
            "detail": [f"{base}{sample['ticket']}/"]}


def tabs(users: dict) -> dict[str, str]:
    """The saved views' URLs, read from the queue page itself."""
    html = next(iter(users.values())).get("/admin/tickets/").get_data(as_text=True)
    return {key: url.replace("&amp;", "&") for url, key in TAB_LINK.findall(html)}


def run_views(users: dict, args, counter: Counter) -> dict[str, dict]:
    """Page 1 and page 200 of every saved view and of Todos, each timed on its own."""
    results = {}
    for key, url in {"all": "/admin/tickets/", **tabs(users)}.items():
        for page, suffix in (("page1", ""), ("page200", "&page=199" if "?" in url else
                                              "?page=199")):
            results[f"{key}/{page}"] = measure(users, [url + suffix], args.requests,
                                               args.warmup, counter)
    return results


def main() -> None:
    """Prepare the database, time every group, print a line per group and the JSON last."""
    args = parse_args()
    app = build_app(database_uri(args.tickets, args.fresh))
    tickets = prepare(app, args.tickets, args.fresh, args.base)
    if args.prepare_only:
        return
    with app.app_context():
        from helpdesk.extensions import db
        engine, backend = db.engine, db.engine.dialect.name
    counter, users = Counter(engine), clients(app)
    sample = samples(app)
    print(f"{backend}: {tickets} tickets; search {sample['word']!r} and {sample['email']!r}; "
          f"full-text {sample['phrase']!r} and {sample['common']!r}; "
          f"ticket #{sample['ticket']} ({sample['messages']} messages)")
    result = {}
    only = {name for name in args.only.split(",") if name}
    for name, urls in groups(app, users, sample).items():
        if only and name not in only:
            continue
        stats = measure(users, urls, args.requests, args.warmup, counter)
        print(f"{name:>24}: p50 {stats['p50']:7.1f} ms  p95 {stats['p95']:7.1f} ms  "
              f"max {stats['max']:7.1f} ms  {stats['statements']} statements  "
              f"SQL p50 {stats['sql_p50']:.1f} / p95 {stats['sql_p95']:.1f} ms")
        result[f"{name}_p50_ms"], result[f"{name}_p95_ms"] = stats["p50"], stats["p95"]
        if name.startswith("fts_"):
            result[f"{name}_sql_p50_ms"] = stats["sql_p50"]
            result[f"{name}_sql_p95_ms"] = stats["sql_p95"]
    if "fts_rare_p50_ms" in result and "fts_common_p50_ms" in result:
        result["fts_p50_ms"] = max(result["fts_rare_p50_ms"], result["fts_common_p50_ms"])
        result["fts_p95_ms"] = max(result["fts_rare_p95_ms"], result["fts_common_p95_ms"])
    views = run_views(users, args, counter) if not only or "views" in only else {}
    for name, stats in views.items():
        print(f"{name:>24}: p50 {stats['p50']:7.1f} ms  p95 {stats['p95']:7.1f} ms  "
              f"max {stats['max']:7.1f} ms  {stats['statements']} statements")
    if views:
        worst = max(views, key=lambda name: views[name]["p95"])
        result.update(views_worst_p95_ms=views[worst]["p95"], views_worst=worst)
    result.update(tickets=tickets, database=backend, load=_load())
    with app.app_context():
        from helpdesk.extensions import shutdown_embedded_redis
        db.engine.dispose()
    shutdown_embedded_redis()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
