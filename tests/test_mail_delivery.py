"""Mail that is never lost, never doubled, never silently failed: backoff over a day of SMTP
outage, one Message-ID per reply, visible delivery state, *Trabajos fallidos*, and a worker
SIGKILLed in the middle of a send. Real SMTP (aiosmtpd), real Redis, real rq workers."""

from __future__ import annotations

import asyncio
import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from rq import SimpleWorker
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import select, update

from helpdesk import backoff, mail, rules, workflows
from helpdesk.extensions import db, get_queue
from helpdesk.models import (
    AuditEntry,
    Customer,
    IntentState,
    JobIntent,
    Message,
    MessageKind,
    Role,
    Ticket,
    User,
)

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """An SMTP server's handler: keeps what it received; `stall` holds the answer to DATA
    (the message is already kept: a server that queued it and is slow to say "250")."""

    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []
        self.stall = threading.Event()
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's API
        self.messages.append((envelope.rcpt_tos, envelope.content))
        self.arrived.set()
        while self.stall.is_set():  # the client waits for our answer to the final "."
            await asyncio.sleep(0.05)
        return "250 OK"

    def parsed(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(c, policy=policy.default) for _r, c in self.messages]


class Smtp:
    """A real SMTP server on a fixed free port that can be down (nothing listening) or up."""

    def __init__(self, port: int):
        self.port, self.sink, self.controller = port, Sink(), None

    def up(self) -> Sink:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self.sink

    def down(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(app, monkeypatch):
    """The app mails through 127.0.0.1:<port>, where the SMTP server starts down."""
    server = Smtp(free_port())
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", server.port)
    yield server
    server.sink.stall.clear()
    server.down()


@pytest.fixture
def desk(app, make_team, make_user, make_customer, make_ticket, run_jobs):
    """A team with Ana (agent), an agent of another team, an admin, and Lucía's ticket (its
    routing done, so the outbox holds nothing else)."""
    team, other = make_team("Cuenta"), make_team("Pagos")
    ana = make_user(Role.AGENT, teams=[team], name="Ana Agente")
    outsider = make_user(Role.AGENT, teams=[other], name="Otro Agente")
    admin = make_user(Role.ADMIN, name="Admin")
    customer = make_customer(name="Lucía Pérez", email="lucia@example.com")
    ticket = make_ticket("No puedo entrar", "Me pide la contraseña.", customer_id=customer)
    run_jobs()
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, ticket).team_id = team
    return {"team": team, "ana": ana, "outsider": outsider, "admin": admin, "ticket": ticket}


def reply(app, desk, text="Ya está resuelto") -> tuple[int, str]:
    """Ana replies; returns the reply's id and the Message-ID it got when written."""
    with app.app_context(), workflows.atomic():
        message = workflows.add_reply(db.session.get(Ticket, desk["ticket"]), text,
                                      actor=db.session.get(User, desk["ana"]))
        return message.id, message.email_message_id


def intent_of(app, message_id) -> JobIntent:
    with app.app_context():
        intent = db.session.scalar(select(JobIntent).where(JobIntent.key == f"mail:{message_id}"))
        db.session.expunge(intent)
        return intent


def sweep(app, now) -> int:
    with app.app_context(), workflows.atomic():
        return workflows.sweep_outbox(now)


def delivery_state(client, desk, message_id) -> str:
    page = client.get(f"/admin/tickets/{desk['ticket']}/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    marker = f'data-testid="delivery-{message_id}"'
    assert marker in html
    return html[html.index(marker):html.index("</div>", html.index(marker))]


def test_backoff_doubles_from_the_base_up_to_the_cap():
    waits = [backoff.retry_delay(n, 30, 3600).total_seconds() for n in range(1, 11)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert backoff.retry_delay(10_000, 30, 3600) == timedelta(hours=1)


def test_an_error_summary_is_short_and_never_carries_credentials():
    exc = ConnectionError("cannot reach redis://admin:hunter2@cache:6379/0 (password=hunter2)\n"
                          + "x" * 1000)
    summary = backoff.error_summary(exc)
    assert summary.startswith("ConnectionError: cannot reach redis://***@cache:6379/0")
    assert "hunter2" not in summary and len(summary) <= backoff.ERROR_MAX


def test_a_day_of_smtp_outage_loses_nothing_and_delivers_once_with_the_first_message_id(
        app, desk, smtp, run_jobs, login_as):
    message_id, message_ids = reply(app, desk)
    assert len(message_ids) < 78 and message_ids == backoff.message_ids(message_ids)[0]
    run_jobs("mail")  # SMTP is down: the run fails, is recorded, and nothing fails in rq
    first = intent_of(app, message_id)
    assert (first.state, first.attempts) == (IntentState.PENDING, 1)
    assert first.last_error.startswith("ConnectionRefusedError")
    assert timedelta(seconds=25) < first.next_attempt_at - rules.utcnow() <= timedelta(seconds=30)
    waits = []
    for _round in range(14):  # longer than the old 10-attempt window (~14 min)
        due = intent_of(app, message_id).next_attempt_at
        assert sweep(app, due - timedelta(seconds=1)) == 0  # not before its time
        assert sweep(app, due) == 1
        before = rules.utcnow()
        run_jobs("mail")
        waits.append(round((intent_of(app, message_id).next_attempt_at - before).total_seconds()))
    assert [w // 10 * 10 for w in waits[:6]] == [60, 120, 240, 480, 960, 1920]
    assert all(3590 <= w <= 3600 for w in waits[6:])  # capped at an hour
    pending = intent_of(app, message_id)
    assert (pending.state, pending.attempts) == (IntentState.PENDING, 15)
    page = delivery_state(login_as(desk["ana"]), desk, message_id)
    assert "Pendiente de envío" in page and "reintentando a las" in page

    sink = smtp.up()
    assert sweep(app, pending.next_attempt_at) == 1
    run_jobs("mail")
    run_jobs("mail")  # nothing more to send
    assert sweep(app, rules.utcnow() + timedelta(days=2)) == 0
    assert [m["Message-ID"] for m in sink.parsed()] == [message_ids]
    assert intent_of(app, message_id).state is IntentState.DONE
    assert "Enviado" in delivery_state(login_as(desk["ana"]), desk, message_id)


def test_after_the_give_up_window_a_reply_is_failed_visible_and_retried_from_the_ticket(
        app, desk, smtp, run_jobs, login_as):
    message_id, message_ids = reply(app, desk)
    run_jobs("mail")
    due = intent_of(app, message_id).next_attempt_at
    with app.app_context(), workflows.atomic():  # a day has passed since it was written
        db.session.execute(update(JobIntent).where(JobIntent.key == f"mail:{message_id}")
                           .values(created_at=rules.utcnow() - timedelta(hours=24, minutes=1)))
    assert sweep(app, due) == 0
    failed = intent_of(app, message_id)
    assert failed.state is IntentState.FAILED and failed.failed_at is not None
    assert failed.last_error.startswith("ConnectionRefusedError")

    ana = login_as(desk["ana"])
    page = delivery_state(ana, desk, message_id)
    assert "Fallido: ConnectionRefusedError" in page and "Reintentar envío" in page
    admin = login_as(desk["admin"])
    listing = admin.get("/admin/failed_jobs/").get_data(as_text=True)
    assert f'data-testid="failed-intent-{failed.id}"' in listing
    assert "Respuesta al cliente por correo" in listing and f"#{desk['ticket']}" in listing

    sink = smtp.up()
    ana.get(f"/admin/tickets/{desk['ticket']}/")
    response = ana.post(f"/admin/tickets/{desk['ticket']}/replies/{message_id}/retry")
    assert response.status_code == 302
    run_jobs("mail")
    assert [m["Message-ID"] for m in sink.parsed()] == [message_ids]
    assert intent_of(app, message_id).state is IntentState.DONE
    assert "Enviado" in delivery_state(ana, desk, message_id)
    assert "No hay trabajos fallidos" in admin.get("/admin/failed_jobs/").get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "job_intents"))
        assert (entry.action, entry.actor_id, entry.entity_id) == ("retry", desk["ana"],
                                                                  failed.id)


def test_threading_headers_are_plain_ids_never_encoded(app, desk, smtp, run_jobs):
    gmail = "<CAKf9" + "x" * 60 + "+a1b2c3@mail.gmail.com>"  # a real-looking long inbound id
    with app.app_context(), workflows.atomic():
        first = db.session.scalar(select(Message).where(Message.ticket_id == desk["ticket"],
                                                        Message.kind == MessageKind.CUSTOMER))
        first.email_message_id = gmail
    _message_id, message_ids = reply(app, desk)
    sink = smtp.up()
    run_jobs("mail")
    (_rcpt, raw), = sink.messages
    assert b"=?" not in raw.split(b"\r\n\r\n")[0]  # no RFC 2047 word in any header
    received = email.message_from_bytes(raw, policy=policy.default)
    assert received["In-Reply-To"] == gmail and received["References"] == gmail
    assert received["Message-ID"] == message_ids
    assert len(f"Message-ID: {message_ids}") < 78


def test_an_automatic_notice_has_the_same_message_id_on_every_attempt(app, make_customer):
    customer_id = make_customer()
    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        ids = {mail.build_email_change_notice(customer, "a@example.com", "b@example.com",
                                              41)["Message-ID"] for _ in range(2)}
    assert len(ids) == 1 and len(ids.pop()) < 60


def test_an_agent_of_another_team_cannot_retry_a_reply_and_agents_cannot_see_failed_jobs(
        app, desk, smtp, run_jobs, login_as, make_user):
    message_id, _ids = reply(app, desk)
    run_jobs("mail")
    with app.app_context(), workflows.atomic():
        intent = db.session.scalar(select(JobIntent).where(JobIntent.key == f"mail:{message_id}"))
        intent.state, intent.last_error = IntentState.FAILED, "SMTPServerDisconnected"
        intent_id = intent.id
    outsider = login_as(desk["outsider"])
    url = f"/admin/tickets/{desk['ticket']}/replies/{message_id}/retry"
    assert outsider.post(url, token_from="/admin/").status_code == 404
    assert intent_of(app, message_id).state is IntentState.FAILED
    ana = login_as(desk["ana"])
    assert ana.post(url, csrf=False).status_code == 400  # no token: refused, nothing changed
    assert intent_of(app, message_id).state is IntentState.FAILED
    for role in (Role.AGENT, Role.SUPERVISOR):
        client = login_as(make_user(role))
        assert client.get("/admin/failed_jobs/").status_code == 403
        assert client.post(f"/admin/failed_jobs/intents/{intent_id}/discard",
                           token_from="/admin/").status_code == 403
    assert intent_of(app, message_id).state is IntentState.FAILED


def drain_failing(app, redis):
    """A real worker over the default queue, where failing jobs are expected (not run_jobs)."""
    with app.app_context():
        SimpleWorker([get_queue("default")], connection=redis,
                     serializer=JSONSerializer).work(burst=True)


def test_failed_jobs_page_retries_and_discards_intents_and_rq_jobs(app, desk, smtp, run_jobs,
                                                                  login_as, redis):
    admin = login_as(desk["admin"])
    assert "No hay trabajos fallidos" in admin.get("/admin/failed_jobs/").get_data(as_text=True)
    message_id, _ids = reply(app, desk)
    run_jobs("mail")
    with app.app_context(), workflows.atomic():
        intent = db.session.scalar(select(JobIntent).where(JobIntent.key == f"mail:{message_id}"))
        intent.state, intent.last_error = IntentState.FAILED, "SMTPServerDisconnected"
        intent_id = intent.id
        job = get_queue("default").enqueue("helpdesk.jobs.no_such_job")
    drain_failing(app, redis)
    with app.app_context():
        assert FailedJobRegistry(queue=get_queue("default")).get_job_ids() == [job.id]
    page = admin.get("/admin/failed_jobs/").get_data(as_text=True)
    assert f'data-testid="failed-job-{job.id}"' in page
    assert "ValueError: Invalid attribute name: no_such_job" in page

    assert admin.post(f"/admin/failed_jobs/rq/default/{job.id}/retry").status_code == 302
    with app.app_context():
        assert get_queue("default").job_ids == [job.id]
        assert FailedJobRegistry(queue=get_queue("default")).count == 0
    drain_failing(app, redis)  # fails again
    admin.get("/admin/failed_jobs/")
    assert admin.post(f"/admin/failed_jobs/rq/default/{job.id}/discard").status_code == 302
    admin.get("/admin/failed_jobs/")
    assert admin.post(f"/admin/failed_jobs/intents/{intent_id}/discard").status_code == 302
    assert intent_of(app, message_id).state is IntentState.DISCARDED
    page = admin.get("/admin/failed_jobs/").get_data(as_text=True)
    assert "No hay trabajos fallidos" in page
    assert "Envío descartado" in delivery_state(admin, desk, message_id)
    bad = admin.post("/admin/failed_jobs/rq/nope/x/discard", token_from="/admin/")
    assert bad.status_code == 302  # an unknown queue: a message, nothing touched
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.action).where(
            AuditEntry.entity == "job_intents")) == "discard"


def _worker(database_uri, redis_url, port) -> subprocess.Popen:
    """`flask helpdesk worker mail` as its own process group (killed as a whole)."""
    env = {**os.environ, "DATABASE_URL": database_uri, "REDIS_URL": redis_url,
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port), "SECRET_KEY": "test-secret"}
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "helpdesk", "worker", "mail"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)


def kill_everything(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and its work-horse at once (rq puts the horse in a process group
    of its own), as a host or container dying would."""
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    assert children, "the worker has no work-horse running the job"
    for pid in children:
        os.killpg(int(pid), signal.SIGKILL)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)


def test_a_worker_killed_mid_send_is_replaced_and_the_customer_sees_one_message_id(
        app, desk, smtp, database_uri, redis_url):
    sink = smtp.up()
    sink.stall.set()
    worker = _worker(database_uri, redis_url, smtp.port)
    try:
        message_id, message_ids = reply(app, desk)
        assert sink.arrived.wait(60), worker.stderr.read1().decode(errors="replace")
        time.sleep(0.2)  # the whole message is in; the worker waits for our "250"
        started = time.monotonic()  # meanwhile the panel writes: no lock is held over SMTP
        with app.app_context(), workflows.atomic():
            workflows.add_note(db.session.get(Ticket, desk["ticket"]), "Esperando al correo",
                               actor=db.session.get(User, desk["ana"]))
        assert time.monotonic() - started < 2
        kill_everything(worker)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    sink.stall.clear()
    assert len(sink.messages) == 1  # accepted, but the worker died before it heard so
    lost = intent_of(app, message_id)
    assert (lost.state, lost.attempts) == (IntentState.PENDING, 1) and lost.started_at
    assert sweep(app, rules.utcnow()) == 0  # its lease still holds

    lease = timedelta(seconds=app.config["HELPDESK_JOB_LEASE_SECONDS"])
    assert sweep(app, rules.utcnow() + lease + timedelta(seconds=1)) == 1
    restarted = _worker(database_uri, redis_url, smtp.port)
    try:
        for _wait in range(300):
            if intent_of(app, message_id).state is IntentState.DONE:
                break
            time.sleep(0.1)
    finally:
        os.killpg(restarted.pid, signal.SIGKILL)
        restarted.wait(10)
    done = intent_of(app, message_id)
    assert (done.state, done.attempts) == (IntentState.DONE, 2)
    copies = sink.parsed()  # at least once: twice, but as one message for the customer
    assert len(copies) == 2 and {m["Message-ID"] for m in copies} == {message_ids}
    assert [r for r, _c in sink.messages] == [["lucia@example.com"]] * 2


def test_retrying_a_reply_that_did_not_fail_is_refused_with_a_message(app, desk, smtp, run_jobs,
                                                                     login_as):
    message_id, _ids = reply(app, desk)
    smtp.up()
    run_jobs("mail")
    ana = login_as(desk["ana"])
    url = f"/admin/tickets/{desk['ticket']}/replies/{message_id}/retry"
    response = ana.post(url, token_from=f"/admin/tickets/{desk['ticket']}/")
    assert response.status_code == 409
    assert "no está fallido" in response.get_data(as_text=True)
    assert intent_of(app, message_id).state is IntentState.DONE
    assert ana.post(f"/admin/tickets/{desk['ticket']}/replies/999999/retry",
                    token_from=f"/admin/tickets/{desk['ticket']}/").status_code == 404
    assert len(smtp.sink.messages) == 1
