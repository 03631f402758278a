"""Faults: a mixed workload on PostgreSQL + Redis while the worker is killed, Redis restarts
empty and SMTP is down for a while; then everything recovers, and nothing is lost or doubled.

    .venv/bin/python bench/faults.py [--seconds 150] [--rate 2]

What it runs, all real processes: its own `redis-server` (no persistence) on a free port, an
`aiosmtpd` SMTP sink in this process that it stops and starts on the same port, and
`flask helpdesk serve` (web + worker + cron under the supervisor) against DATABASE_URL, else a
fresh PostgreSQL database on 127.0.0.1:5432 that it drops afterwards. The workload, in this
process through the domain layer as the web views call it, opens `--rate` tickets a second and
answers about as many earlier ones. Faults, as fractions of `--seconds`: SIGKILL the worker
while mail is being sent (0.15), SHUTDOWN NOSAVE Redis and start it again 5 s later (0.35), stop
SMTP for 40% of the run (0.5 to 0.9). Then the workload stops and the script waits until every
ticket is routed and every reply delivered (or `--recover` seconds pass).

Retries are shortened for the run (HELPDESK_RETRY_BASE_SECONDS=2, HELPDESK_RETRY_MAX_SECONDS=20)
so recovery is measured in sweeps, not in the production back-off's hours.

Last line, JSON: tickets_requested/stored, replies_requested/delivered, duplicate_deliveries
(a reply that reached the customer under two different Message-IDs: two messages for them),
repeated_copies (the same Message-ID received again: one message for their mail client),
scheduler_alive, worker_restarts, recovery_s (from the last fault cleared to all delivered)
and the sweep interval it is measured against.
"""

from __future__ import annotations

import argparse
import email
import json
import logging
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MARKER = re.compile(r"\[faults-reply (\w+)\]")
HEALTH_TOKEN = "faults-bench-health-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Sink:
    """An SMTP server that records every message it accepts; stop() and start() on one port."""

    def __init__(self, port: int):
        self.port = port
        self.copies: dict[str, list[str]] = defaultdict(list)  # marker -> Message-IDs received
        self.lock = threading.Lock()
        self.controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's API
        mail = email.message_from_bytes(envelope.content, policy=policy.default)
        body = mail.get_body(("plain",))
        found = MARKER.search(body.get_content() if body is not None else "")
        if found:
            with self.lock:
                self.copies[found.group(1)].append(str(mail["Message-ID"]))
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        # A stopped Controller's event loop is closed: each start is a new server, same port.
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class Redis:
    """A redis-server of our own, without persistence, that can be restarted empty."""

    def __init__(self, port: int, workdir: Path):
        self.port, self.workdir, self.proc = port, workdir, None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if self.proc is not None:
            self.proc.wait(timeout=10)


def children(pid: int) -> dict[int, str]:
    """The direct children of `pid` and their command lines, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def child_pid(serve: subprocess.Popen, word: str) -> int | None:
    return next((pid for pid, cmd in children(serve.pid).items()
                 if f"helpdesk {word}" in cmd), None)


def prepare_database(url: str | None) -> tuple[str, str | None]:
    """DATABASE_URL, or a fresh PostgreSQL database (and its name, to drop afterwards)."""
    if url:
        return url, None
    import psycopg

    name = f"helpdesk_faults_{os.getpid()}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}", name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Workload:
    """Opens tickets and answers earlier ones through the domain layer, counting what it asked."""

    def __init__(self, app, rate: float):
        self.app, self.rate = app, rate
        self.tickets_requested = self.replies_requested = 0
        self.reply_markers: set[str] = set()
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.rng = random.Random(7)

    def run(self) -> None:
        from sqlalchemy import func, select

        from helpdesk import workflows
        from helpdesk.extensions import db
        from helpdesk.models import Channel, Customer, Ticket

        with self.app.app_context():
            customers = db.session.scalars(select(Customer.id).limit(50)).all()
            db.session.rollback()
            opened: list[int] = []
            while not self.stop.wait(1 / self.rate):
                n = self.tickets_requested
                self.tickets_requested += 1
                try:
                    with workflows.atomic():
                        customer = db.session.get(Customer, self.rng.choice(customers))
                        ticket = workflows.create_ticket(
                            customer, f"[faults] ticket {n}", f"Mensaje de prueba {n}.",
                            actor=None, channel=Channel.EMAIL)
                    opened.append(ticket.id)
                except Exception as exc:  # counted as lost: the JSON shows stored < requested
                    self.errors.append(f"create: {type(exc).__name__}: {exc}"[:200])
                if len(opened) < 3:
                    continue
                # Answered by its assignee, as in the panel (someone else would first take it,
                # and may have no capacity left): an unassigned one waits a round.
                ticket_id = db.session.scalar(
                    select(Ticket.id).where(Ticket.id.in_(opened[:-1]),
                                            Ticket.assignee_id.is_not(None))
                    .order_by(func.random()).limit(1))
                db.session.rollback()
                if ticket_id is None:
                    continue
                marker = f"r{self.replies_requested}"
                self.replies_requested += 1
                try:
                    with workflows.atomic():
                        ticket = db.session.get(Ticket, ticket_id)
                        workflows.add_reply(ticket, f"Respuesta de prueba [faults-reply {marker}]",
                                            actor=ticket.assignee)
                    self.reply_markers.add(marker)
                except Exception as exc:
                    self.errors.append(f"reply: {type(exc).__name__}: {exc}"[:200])


def tickets_stored_and_routed(app) -> tuple[int, int]:
    from sqlalchemy import func, select

    from helpdesk.extensions import db
    from helpdesk.models import IntentState, JobIntent, Ticket

    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Ticket)
                                   .where(Ticket.subject.like("[faults]%")))
        pending = db.session.scalar(select(func.count()).select_from(JobIntent)
                                    .where(JobIntent.state == IntentState.PENDING))
        db.session.rollback()
        return stored, pending


def health(port: int) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz",
                                     headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read() or b"{}")
    except OSError as exc:
        return {"status": "unreachable", "error": type(exc).__name__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=150, help="length of the workload")
    parser.add_argument("--rate", type=float, default=2.0, help="tickets opened per second")
    parser.add_argument("--recover", type=int, default=240, help="most seconds to wait after")
    args = parser.parse_args()

    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="helpdesk-faults-"))
    database_url, created = prepare_database(os.environ.get("DATABASE_URL"))
    redis = Redis(free_port(), workdir)
    sink = Sink(free_port())
    web_port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(sink.port),
        "HELPDESK_RETRY_BASE_SECONDS": "2",
        "HELPDESK_RETRY_MAX_SECONDS": "20",
        "HELPDESK_HEALTH_TOKEN": HEALTH_TOKEN,
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    serve = None
    try:
        redis.start()
        sink.start()
        from app import create_app
        from helpdesk import demo

        app = create_app()
        # This process's own "Redis unreachable, the sweep will hand it" lines are expected
        # while Redis is down; the serve log (in the temp dir) keeps the children's.
        logging.getLogger("helpdesk").setLevel(logging.ERROR)
        with app.app_context():
            import flask_migrate

            flask_migrate.upgrade()
            if not demo.has_data():
                demo.seed(tickets=20)
        serve = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "helpdesk", "serve", "--port",
             str(web_port), "--no-demo"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=open(workdir / "serve.log", "w"))  # noqa: SIM115 - lives as long as serve
        deadline = time.monotonic() + 60
        while health(web_port).get("status") != "up" and time.monotonic() < deadline:
            time.sleep(0.5)
        log(f"up: web :{web_port}, redis :{redis.port}, smtp :{sink.port}, db {database_url}")

        workload = Workload(app, args.rate)
        runner = threading.Thread(target=workload.run, daemon=True)
        started = time.monotonic()
        runner.start()

        def at(fraction: float) -> None:
            time.sleep(max(0.0, started + fraction * args.seconds - time.monotonic()))

        worker_pids: set[int] = set()
        at(0.15)
        pid = child_pid(serve, "worker")
        if pid is not None:
            worker_pids.add(pid)
            os.kill(pid, signal.SIGKILL)
            log(f"killed the worker (pid {pid}) with SIGKILL")
        at(0.35)
        redis.stop()
        log("Redis stopped (SHUTDOWN NOSAVE)")
        time.sleep(5)
        redis.start()
        log("Redis started again, empty")
        at(0.5)
        sink.stop()
        log("SMTP stopped")
        at(0.9)
        sink.start()
        cleared = time.monotonic()
        log("SMTP started again")
        at(1.0)
        workload.stop.set()
        runner.join(timeout=60)
        log(f"workload stopped: {workload.tickets_requested} tickets, "
            f"{workload.replies_requested} replies asked")

        deadline = time.monotonic() + args.recover
        recovered_at = None
        while time.monotonic() < deadline:
            stored, pending = tickets_stored_and_routed(app)
            with sink.lock:
                delivered = len(set(sink.copies) & workload.reply_markers)
            if delivered >= len(workload.reply_markers) and pending == 0:
                recovered_at = time.monotonic()
                break
            time.sleep(1)
        stored, pending = tickets_stored_and_routed(app)
        status = health(web_port)
        pid = child_pid(serve, "worker")
        if pid is not None:
            worker_pids.add(pid)
        with sink.lock:
            copies = {marker: ids for marker, ids in sink.copies.items()
                      if marker in workload.reply_markers}
        scheduler = status.get("scheduler", {})
        result = {
            "tickets_requested": workload.tickets_requested,
            "tickets_stored": stored,
            "replies_requested": workload.replies_requested,
            "replies_delivered": len(copies),
            "duplicate_deliveries": sum(len(set(ids)) - 1 for ids in copies.values()),
            "repeated_copies": sum(len(ids) - len(set(ids)) for ids in copies.values()),
            "intents_pending": pending,
            "scheduler_alive": bool(child_pid(serve, "cron")) and scheduler.get("ok", False),
            "serve_alive": serve.poll() is None,
            "worker_restarts": len(worker_pids) - 1,
            "recovery_s": round(recovered_at - max(cleared, started + args.seconds), 1)
            if recovered_at else None,
            "sweep_interval_s": 30,
            "workload_errors": len(workload.errors),
            "database": "postgresql" if database_url.startswith("postgres") else "sqlite",
        }
        for line in workload.errors[:5]:
            log(f"workload error: {line}")
        if status.get("status") != "up":
            log(f"health at the end: {json.dumps(status)[:300]}")
    finally:
        if serve is not None and serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=20)
            except subprocess.TimeoutExpired:
                serve.kill()
        try:
            sink.stop()
        except Exception:  # already stopped
            pass
        redis.stop()
        if created:
            drop_database(created)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
