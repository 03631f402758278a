"""Time the SLA sweep over 100,000 and 1,000,000 open tickets, and routing + assignment per ticket.

    .venv/bin/python bench/sla_sweep.py [--database-url URL | --sqlite] [--small 100000]
        [--large 1000000] [--route 500]

The database is --database-url, else DATABASE_URL, else a scratch PostgreSQL database
`bench_sla_<random>` created through --pg-admin-url and dropped at the end; --sqlite uses a
temporary SQLite file. A given database must be empty: it is migrated, never wiped.

The reference rows come from `demo.seed_reference()`, plus agents (available, unlimited
capacity), a supervisor of every team and a few hundred customers. Open tickets (new and open,
mixed priorities, created over the last three days, denser towards now) are loaded with
PostgreSQL COPY (Core executemany elsewhere) with deadlines from `rules.sla_clock` and
sla_state 'ok', so the first sweep has real work (a catch-up); the database is then vacuumed and
analyzed. Timed: `workflows.sweep_sla_states(at)` with its commit, over `--small` open tickets and
again after topping up to `--large` (two minutes later, so states only move forward), each
followed by a second sweep at the same moment (it must change nothing) and the cron's next one a
minute later; then `workflows.route_ticket(id)` per ticket, each in its own transaction, for
`--route` tickets made by `workflows.create_ticket` (no rq: an embedded Redis takes the intents).

The last line printed is JSON: {"sweep_100k_s", "sweep_1m_s", "route_assign_ms" (mean),
"database", then details}; a sweep that fails gives null and its error. Earlier lines show
progress, the slowest statements and PostgreSQL's plans of the sweep's statement.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import current_app
from sqlalchemy import create_engine, event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from helpdesk import demo, queries, rules, workflows
from helpdesk.extensions import db, shutdown_embedded_redis
from helpdesk.models import (
    AuditEntry,
    Availability,
    Category,
    Channel,
    Customer,
    Notification,
    Priority,
    Role,
    SlaPolicy,
    Team,
    Ticket,
    TicketStatus,
    User,
    team_members,
)

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

#: Rows generated and written per round (COPY streams them; executemany sends each as a batch).
CHUNK = 20_000

#: Open tickets were created within this span before `now`, denser towards now (age ~ u²).
SPAN = timedelta(days=3)
ANSWERED_SHARE = 0.7  # open (assigned, first response given); the rest are new and waiting
PRIORITY_MIX = ((Priority.URGENT, 5), (Priority.HIGH, 15), (Priority.NORMAL, 60),
                (Priority.LOW, 20))
PRIORITY_DICE = tuple(p for p, weight in PRIORITY_MIX for _n in range(weight))
CHANNELS = tuple(Channel)
UNLIMITED = 10_000_000  # agent capacity: a million open tickets must not fill anyone up

COLUMNS = ("subject", "status", "priority", "channel", "language", "customer_id", "category_id",
           "team_id", "assignee_id", "first_response_at", "first_response_due_at",
           "resolution_due_at", "sla_due_at", "sla_warn_at", "sla_paused_minutes", "sla_state",
           "escalation_level", "version", "created_at", "updated_at")

#: How the sweep's statement begins: the UPDATE alone (SQLite), or inside a WITH whose other
#: parts insert the breach notices and audit rows (PostgreSQL).
SWEEP_HEADS = ("UPDATE tickets SET sla_state", "WITH changed AS (UPDATE tickets SET sla_state")
SWEEP_LABEL = "sla sweep"

#: category code, priority, channel, subject, body: what `--route` tickets look like.
ROUTE_CASES = (
    ("reproduccion", Priority.NORMAL, Channel.WEB, "La película se queda cargando",
     "Desde ayer «Kibutz» se queda cargando en la Smart TV."),
    ("facturacion", Priority.NORMAL, Channel.EMAIL, "Cargo duplicado este mes",
     "Veo dos cargos iguales; pido el reembolso de uno."),
    ("acceso", Priority.URGENT, Channel.PHONE, "No puedo entrar en mi cuenta",
     "Me dice que la contraseña no es válida."),
    ("contenido", Priority.LOW, Channel.APP, "¿Cuándo llega la nueva temporada?",
     "Me gustaría saber cuándo se estrena la siguiente temporada."),
    ("dispositivos", Priority.HIGH, Channel.CHAT, "La app no abre en el Roku",
     "Se cierra nada más abrirla."),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: sizes, how many routed tickets, which database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100_000, help="open tickets, first sweep")
    parser.add_argument("--large", type=int, default=1_000_000, help="open tickets, second")
    parser.add_argument("--route", type=int, default=500, help="tickets routed and timed")
    parser.add_argument("--warmup", type=int, default=10, help="untimed routings first")
    parser.add_argument("--agents-per-team", type=int, default=10)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                        help="an EMPTY database (default: DATABASE_URL, else scratch PostgreSQL)")
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL,
                        help="where the scratch PostgreSQL database is created and dropped")
    args = parser.parse_args(argv)
    if not 0 < args.small <= args.large:
        parser.error("need 0 < --small <= --large")
    return args


def say(line: str) -> None:
    """One progress line (stdout, flushed; the JSON line comes last)."""
    print(line, flush=True)


# --- The database -------------------------------------------------------------------------------


def normalize_url(raw: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3, as in `Config`."""
    url = make_url("postgresql://" + raw.removeprefix("postgres://")
                   if raw.startswith("postgres://") else raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


@contextmanager
def database(args: argparse.Namespace, tmp: str) -> Iterator[str]:
    """The database URL to use; a scratch PostgreSQL database lives only inside the block."""
    if args.sqlite:
        yield f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        return
    if args.database_url:
        yield normalize_url(args.database_url)
        return
    admin = create_engine(normalize_url(args.pg_admin_url), isolation_level="AUTOCOMMIT")
    name = f"bench_sla_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        say(f"Scratch database {name}")
        yield make_url(normalize_url(args.pg_admin_url)).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
        say(f"Dropped {name}")


def build_app(uri: str, instance: str):
    """The app on `uri`, with an embedded Redis under `instance` for the job intents."""
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": uri, "REDIS_URL": "",
                       "HELPDESK_INSTANCE": instance, "SECRET_KEY": "bench"})


def is_postgres() -> bool:
    """Whether the app's database is PostgreSQL."""
    return db.engine.dialect.name == "postgresql"


def vacuum_analyze() -> None:
    """Planner statistics and PostgreSQL's visibility map, as autovacuum would leave them."""
    db.session.remove()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if is_postgres() else "ANALYZE")


# --- Reference rows, people, customers ----------------------------------------------------------


@dataclass
class World:
    """What ticket generation needs: targets, categories with their teams, agents, customers."""

    targets: dict[Priority, tuple[int, int | None]]
    warn_share: float
    categories: list[tuple[int, int]]
    members: dict[int, list[int]]
    customers: list[int]


def seed_world(agents_per_team: int = 10, customers: int = 300) -> World:
    """Reference rows, agents in every team, a supervisor, customers; commits; the World."""
    demo.seed_reference()
    with workflows.atomic():
        teams = list(db.session.scalars(select(Team).order_by(Team.id)))
        db.session.add_all(staff(teams, agents_per_team))
        db.session.execute(insert(Customer.__table__), customer_rows(customers))
    return load_world()


def staff(teams: list[Team], agents_per_team: int) -> list[User]:
    """Available agents with room for anything, and one supervisor of every team."""
    people = [User(email="supervisor@bench.invalid", name="Supervisora Bench",
                   role=Role.SUPERVISOR, supervised_teams=teams, password_hash=None)]
    for team in teams:
        people += [User(email=f"agent{team.id}.{n}@bench.invalid", name=f"Agente {team.id}.{n}",
                        role=Role.AGENT, availability=Availability.AVAILABLE,
                        capacity=UNLIMITED, teams=[team], password_hash=None)
                   for n in range(agents_per_team)]
    return people


def customer_rows(count: int) -> list[dict]:
    """Plain customer rows (ids from the database)."""
    plans, countries = ("Básico", "Estándar", "Premium", "Familiar"), ("ES", "MX", "AR", "US")
    return [{"email": f"cliente{n}@bench.invalid", "name": f"Cliente {n}",
             "locale": "en" if n % 7 == 0 else "es", "plan": plans[n % 4],
             "country": countries[n % 4], "devices": ["Smart TV"]} for n in range(count)]


def load_world() -> World:
    """Read the World back from the database."""
    members: dict[int, list[int]] = {}
    for team_id, user_id in db.session.execute(select(team_members).order_by("user_id")):
        members.setdefault(team_id, []).append(user_id)
    return World(
        targets={p.priority: (p.first_response_minutes, p.resolution_minutes)
                 for p in db.session.scalars(select(SlaPolicy))},
        warn_share=current_app.config["HELPDESK_SLA_WARN_SHARE"],
        categories=list(db.session.execute(
            select(Category.id, Category.default_team_id).order_by(Category.id))),
        members=members,
        customers=list(db.session.scalars(select(Customer.id).order_by(Customer.id))),
    )


# --- Open tickets -------------------------------------------------------------------------------


def ticket_row(world: World, now: datetime, rng: random.Random) -> tuple:
    """One open ticket in COLUMNS order: new and waiting, or open, assigned and answered."""
    priority = rng.choice(PRIORITY_DICE)
    first, resolution = world.targets[priority]
    category_id, team_id = rng.choice(world.categories)
    created = now - SPAN * rng.random() ** 2
    answered = rng.random() < ANSWERED_SHARE
    clock = rules.sla_clock(
        status=TicketStatus.OPEN if answered else TicketStatus.NEW, created=created,
        answered=answered, first_minutes=first, resolution_minutes=resolution,
        paused_minutes=0, warn_share=world.warn_share, calendar=None)
    responded = created + (now - created) * rng.random() * 0.5 if answered else None
    return (f"Ticket de carga {rng.randrange(10**6)}", "open" if answered else "new",
            priority.value, rng.choice(CHANNELS).value, "es", rng.choice(world.customers),
            category_id, team_id, rng.choice(world.members[team_id]) if answered else None,
            responded, clock.first_due, clock.resolution_due, clock.running_due, clock.warn_at,
            0.0, "ok", 0, 1, created, responded or created)


def load_tickets(world: World, count: int, now: datetime, seed: int) -> float:
    """Insert `count` open tickets (COPY on PostgreSQL), vacuum and analyze; the seconds."""
    rng = random.Random(seed)
    chunks = ([ticket_row(world, now, rng) for _n in range(min(CHUNK, count - start))]
              for start in range(0, count, CHUNK))
    started = time.perf_counter()
    with workflows.atomic():
        (copy_rows if is_postgres() else insert_rows)(chunks)
    vacuum_analyze()
    return time.perf_counter() - started


def copy_rows(chunks: Iterator[list[tuple]]) -> None:
    """Stream the rows through PostgreSQL COPY on the session's own connection."""
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(
            f"COPY tickets ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for rows in chunks:
            for row in rows:
                copy.write_row(row)


def insert_rows(chunks: Iterator[list[tuple]]) -> None:
    """Core executemany through the tickets table, a chunk at a time."""
    stmt = insert(Ticket.__table__)
    for rows in chunks:
        db.session.execute(stmt, [dict(zip(COLUMNS, row, strict=True)) for row in rows])


def sla_mix(now: datetime) -> dict[str, int]:
    """Open tickets per state they should have at `now` (what the sweep will converge to)."""
    due, warn = Ticket.sla_due_at, Ticket.sla_warn_at
    stmt = select(func.count().filter(due <= now), func.count().filter(warn <= now, due > now),
                  func.count().filter(warn > now)).where(due.is_not(None))
    breached, approaching, ok = db.session.execute(stmt).one()
    db.session.rollback()
    return {"ok": ok, "approaching": approaching, "breached": breached}


# --- Statement timing and plans -----------------------------------------------------------------


class StatementTimer:
    """Wall time per statement on an engine while inside `with`: label → [count, seconds]."""

    def __init__(self, engine):
        self.engine = engine
        self.stats: dict[str, list] = {}
        self.samples: dict[str, tuple[str, object]] = {}

    def __enter__(self) -> StatementTimer:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench.started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        elapsed = time.perf_counter() - conn.info["bench.started"]
        label = statement_label(statement, parameters)
        entry = self.stats.setdefault(label, [0, 0.0])
        entry[0] += 1
        entry[1] += elapsed
        self.samples.setdefault(label, (statement, parameters))

    def top(self, n: int = 8) -> list[tuple[str, int, float]]:
        """The `n` statements that took longest in total: (label, count, seconds)."""
        rows = sorted(self.stats.items(), key=lambda item: -item[1][1])[:n]
        return [(label, count, seconds) for label, (count, seconds) in rows]


def statement_label(statement: str, parameters) -> str:
    """A short name for a statement; the sweep's is SWEEP_LABEL."""
    words = " ".join(statement.split())
    if words.startswith(SWEEP_HEADS):
        return SWEEP_LABEL
    head, _from, tail = words.partition(" FROM ")
    return f"{head[:40]} … FROM {tail[:70]}" if tail else words[:90]


def show_statements(timer: StatementTimer, title: str, per: int = 1) -> None:
    """Print the slowest statements (total, or per call when `per` > 1)."""
    say(f"  {title}:")
    for label, count, seconds in timer.top():
        say(f"    {seconds / per * 1000:9.2f} ms  x{count / per:g}  {label}")


def sweep_updates(timer: StatementTimer) -> list[tuple[str, str, object]]:
    """The sweep's statement as captured: [(label, SQL, parameters)]."""
    return [(label, *timer.samples[label]) for label in sorted(timer.samples)
            if label == SWEEP_LABEL]


def explain(statement: str, parameters, analyze: bool) -> list[str]:
    """PostgreSQL's plan of a captured statement (ANALYZE runs it, then rolls back)."""
    options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    try:
        result = db.session.connection().exec_driver_sql(
            f"EXPLAIN ({options}) {statement}", parameters).scalar()
    finally:
        db.session.rollback()
    plan = json.loads(result) if isinstance(result, str) else result
    lines = list(plan_lines(plan[0]["Plan"]))
    if analyze:
        lines.append(f"execution {plan[0]['Execution Time']:.1f} ms")
    return lines


def plan_lines(node: dict, depth: int = 0) -> Iterator[str]:
    """One line per plan node: type, index, rows, time, buffers."""
    index = f" using {node['Index Name']}" if "Index Name" in node else ""
    rows = node.get("Actual Rows", node.get("Plan Rows"))
    took = f" {node['Actual Total Time']:.1f} ms" if "Actual Total Time" in node else ""
    hits = node.get("Shared Hit Blocks")
    buffers = f" hit={hits} read={node.get('Shared Read Blocks')}" if hits is not None else ""
    cond = node.get("Index Cond") or node.get("Filter") or ""
    yield f"{'  ' * depth}{node['Node Type']}{index} rows={rows}{took}{buffers} {cond}".rstrip()
    for child in node.get("Plans", ()):
        yield from plan_lines(child, depth + 1)


def show_plans(updates: list[tuple[str, str, object]], analyze: bool, title: str) -> None:
    """Print the plan of the sweep's statement (PostgreSQL only)."""
    if not updates or not is_postgres():
        return
    say(f"  {title}:")
    for label, statement, parameters in updates:
        say(f"    {label}")
        for line in explain(statement, parameters, analyze):
            say(f"      {line}")


# --- The sweep ----------------------------------------------------------------------------------


def breach_counts() -> tuple[int, int]:
    """(breach audit rows, breach notices: one per ticket or a digest) written so far."""
    audits = select(func.count()).where(AuditEntry.action == queries.BREACH)
    notices = select(func.count()).where(Notification.kind.in_((queries.BREACH,
                                                               queries.BREACH_DIGEST)))
    counts = db.session.scalar(audits), db.session.scalar(notices)
    db.session.rollback()
    return counts


def sweep_once(at: datetime) -> tuple[dict, StatementTimer]:
    """One timed sweep at `at`, commit included: seconds, rows changed, breaches, notices, and
    the database's error if it failed (it then rolled back)."""
    audits, notices = breach_counts()
    changed, error = 0, None
    with StatementTimer(db.engine) as timer:
        started = swept = time.perf_counter()
        try:
            with workflows.atomic():
                changed = workflows.sweep_sla_states(at)
                swept = time.perf_counter()
        except SQLAlchemyError as exc:
            error = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        seconds = time.perf_counter() - started
    after = breach_counts()
    return {"seconds": seconds, "changed": changed, "breached": after[0] - audits,
            "notices": after[1] - notices, "commit_s": started + seconds - swept,
            "error": error}, timer


def timed_sweep(at: datetime, title: str) -> tuple[dict, StatementTimer]:
    """`sweep_once`, printed with its slowest statements."""
    result, timer = sweep_once(at)
    outcome = f"FAILED ({result['error']})" if result["error"] else (
        f"{result['changed']} changed, {result['breached']} breached, {result['notices']} "
        f"notices, commit {result['commit_s']:.3f} s")
    say(f"{title}: {result['seconds']:.3f} s, {outcome}")
    show_statements(timer, "statements")
    return result, timer


def measure_sweep(at: datetime, label: str) -> tuple[dict, StatementTimer]:
    """The measured sweep, a second one at the same moment (must change nothing), and the
    cron's next one, a minute later."""
    first, timer = timed_sweep(at, f"Sweep {label}")
    updates = {f"sweep_{label}_statement_s": sum(
        seconds for name, _count, seconds in timer.top(99) if name == SWEEP_LABEL)}
    if first["error"]:
        return {f"sweep_{label}_s": None, f"sweep_{label}_error": first["error"],
                f"sweep_{label}_failed_after_s": first["seconds"], **updates}, timer
    second, _timer = timed_sweep(at, f"Second sweep {label}, same moment")
    if second["changed"] or second["error"]:
        raise SystemExit(f"Error: the second sweep changed {second['changed']} rows "
                         f"({second['error']})")
    minute, _timer = timed_sweep(at + timedelta(minutes=1), f"Sweep {label}, a minute later")
    return {f"sweep_{label}_s": first["seconds"], f"sweep_{label}_changed": first["changed"],
            f"sweep_{label}_breached": first["breached"],
            f"sweep_{label}_notices": first["notices"], **updates,
            f"sweep_{label}_second_s": second["seconds"],
            f"sweep_{label}_next_minute_s": minute["seconds"],
            f"sweep_{label}_next_minute_changed": minute["changed"]}, timer


def phase(world: World, count: int, now: datetime, at: datetime, label: str, seed: int,
          preview: list | None = None) -> tuple[dict, list]:
    """Top the open tickets up by `count` (created before `now`), show the plans of `preview`
    (an earlier sweep statement), then measure the sweep at `at`; the results and its statement."""
    seconds = load_tickets(world, count, now, seed)
    say(f"Loaded {count} open tickets in {seconds:.1f} s; at the sweep they are {sla_mix(at)}")
    show_plans(preview or [], analyze=False, title="plans chosen now (EXPLAIN of the last "
               "sweep's statement)")
    result, timer = measure_sweep(at, label)
    return {f"seed_{label}_s": seconds, **result}, sweep_updates(timer)


# --- Routing and assignment ---------------------------------------------------------------------


def create_route_tickets(count: int, seed: int) -> list[int]:
    """`count` new tickets through `workflows.create_ticket`, in one transaction; their ids."""
    rng = random.Random(seed)
    customers = list(db.session.scalars(select(Customer).order_by(Customer.id)))
    categories = {c.code: c for c in db.session.scalars(select(Category))}
    ids = []
    with workflows.atomic():
        for n in range(count):
            code, priority, channel, subject, body = ROUTE_CASES[n % len(ROUTE_CASES)]
            ticket = workflows.create_ticket(
                rng.choice(customers), f"{subject} ({n})", body, actor=None,
                category=categories[code], priority=priority, channel=channel)
            ids.append(ticket.id)
    return ids


def route_each(ids: list[int]) -> tuple[list[float], int]:
    """`route_ticket` per id, each in its own transaction: milliseconds each, how many assigned."""
    timings, assigned = [], 0
    for ticket_id in ids:
        started = time.perf_counter()
        with workflows.atomic():
            agent_id = workflows.route_ticket(ticket_id)
        timings.append((time.perf_counter() - started) * 1000)
        assigned += agent_id is not None
    return timings, assigned


def measure_routing(count: int, warmup: int, seed: int) -> dict:
    """Time routing + assignment of `count` tickets (after `warmup`); 20 more show where the
    time goes, statement by statement."""
    ids = create_route_tickets(warmup + count + 20, seed)
    route_each(ids[:warmup])
    timings, assigned = route_each(ids[warmup:warmup + count])
    with StatementTimer(db.engine) as timer:
        route_each(ids[warmup + count:])
    percentiles = statistics.quantiles(timings, n=100) if len(timings) > 1 else timings * 99
    result = {"route_assign_ms": statistics.fmean(timings),
              "route_assign_p50_ms": statistics.median(timings),
              "route_assign_p95_ms": percentiles[94], "route_assigned": assigned,
              "route_tickets": len(timings)}
    say(f"Routing + assignment: mean {result['route_assign_ms']:.2f} ms, p50 "
        f"{result['route_assign_p50_ms']:.2f} ms, p95 {result['route_assign_p95_ms']:.2f} ms; "
        f"{assigned}/{len(timings)} assigned")
    show_statements(timer, "statements per ticket", per=len(ids) - warmup - count)
    return result


# --- The run ------------------------------------------------------------------------------------


def bench(args: argparse.Namespace) -> dict:
    """Migrate, seed, sweep at both sizes, route; the results (seconds and ms)."""
    import flask_migrate

    flask_migrate.upgrade()
    if demo.has_data():
        raise SystemExit("Error: the database is not empty; give an empty one (or none)")
    now = rules.utcnow().replace(microsecond=0)
    world = seed_world(args.agents_per_team, args.customers)
    small, updates = phase(world, args.small, now, now, "100k", args.seed)
    # Two minutes on: the small set's states only move forward, as with the real cron.
    large, updates = phase(world, args.large - args.small, now, now + timedelta(minutes=2),
                           "1m", args.seed + 1, preview=updates)
    failed = large["sweep_1m_s"] is None
    show_plans(updates, analyze=True, title="plan of the failed sweep's statement (EXPLAIN "
               "ANALYZE, rolled back)" if failed else "plan of a routine sweep (EXPLAIN ANALYZE)")
    routing = measure_routing(args.route, args.warmup, args.seed)
    return {"sweep_100k_s": small["sweep_100k_s"], "sweep_1m_s": large["sweep_1m_s"],
            "route_assign_ms": routing["route_assign_ms"], "database": db.engine.dialect.name,
            "tickets_small": args.small, "tickets_large": args.large, **small, **large,
            **routing}


def run(args: argparse.Namespace, uri: str, instance: str) -> dict:
    """The benchmark inside an app context, always closing connections and the embedded Redis."""
    app = build_app(uri, instance)
    with app.app_context():
        try:
            return bench(args)
        finally:
            db.session.remove()
            db.engine.dispose()
            shutdown_embedded_redis()


def rounded(result: dict) -> dict:
    """Seconds to the millisecond, milliseconds to the hundredth."""
    return {key: round(value, 2 if key.endswith("_ms") else 3) if isinstance(value, float)
            else value for key, value in result.items()}


def main() -> None:
    """Run in a throwaway directory (and database) and print the JSON line last."""
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="sla-sweep-") as tmp, database(args, tmp) as uri:
        result = run(args, uri, tmp)
    print(json.dumps(rounded(result)))


if __name__ == "__main__":
    main()
