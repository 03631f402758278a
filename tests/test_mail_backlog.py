"""E-mail under a backlog, through a real worker: an answer processed before the message it
answers (its job ran first) still threads, and never onto a stranger's ticket; a run routes the
tickets it opened in its own transaction, with the same audit rows and events as routing
one ticket; if that routing breaks, a bulk job (retried by the outbox sweep) routes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import select, text

from helpdesk import jobs, rules, workflows
from helpdesk.extensions import db
from helpdesk.inbound.store import store_many, store_raw
from helpdesk.models import (
    AuditEntry,
    Customer,
    InboundState,
    JobIntent,
    MessageKind,
    Role,
    Strategy,
    Ticket,
    TicketStatus,
    User,
)

from .test_inbound_mail import inbound, simple, tickets


def answer(parent_id: str, *, sender="ana.lopez@correo.example", n=1) -> bytes:
    """A customer's answer naming `parent_id`, as a mail client writes it."""
    return simple(sender=sender, subject="Re: La app se cierra", body="Sigue igual.",
                  message_id=f"<answer-{n}@correo.example>", In_Reply_To=parent_id,
                  References=parent_id)


FIRST = "<first-1@correo.example>"


def first(sender="ana.lopez@correo.example") -> bytes:
    return simple(sender=sender, subject="La app se cierra", body="Se cierra al abrirla.",
                  message_id=FIRST)


def _drop_job(app, redis, intent_key: str) -> int:
    """Take the intent's job out of Redis, as if it were still waiting behind a backlog (its
    intent stays pending: the outbox sweep hands it over later)."""
    with app.app_context():
        intent_id = db.session.scalar(select(JobIntent.id).where(JobIntent.key == intent_key))
    Job.fetch(f"intent-{intent_id}", connection=redis, serializer=JSONSerializer).delete()
    return intent_id


def _sweep(app, minutes: int = 10) -> int:
    with app.app_context(), workflows.atomic():
        return workflows.sweep_outbox(rules.utcnow() + timedelta(minutes=minutes))


@pytest.fixture
def team(make_team, make_user):
    """A team with an available agent, where routing sends everything."""
    team_id = make_team()
    make_user(Role.AGENT, teams=[team_id], capacity=100)
    return team_id


def test_an_answer_whose_job_runs_first_processes_its_first_message_first_and_threads(
        app, redis, run_jobs, team):
    with app.app_context():
        (first_id, _new), = store_many([first()], source="imap")
        store_many([answer(FIRST)], source="imap")
    _drop_job(app, redis, f"inbound:{first_id}")  # the first message's job is still waiting
    run_jobs()
    (ticket,) = tickets(app)
    assert [m.body for m in ticket.messages if m.kind is MessageKind.CUSTOMER] == [
        "Se cierra al abrirla.", "Sigue igual."]
    assert [(r.state, r.reason) for r in inbound(app)] == [
        (InboundState.PROCESSED, "new ticket"), (InboundState.PROCESSED, "threaded (references)")]
    assert _sweep(app) == 1  # the first message's own run comes later and finds nothing to do
    run_jobs()
    assert len(tickets(app)) == 1


def test_an_answer_stored_before_its_first_message_in_one_batch_threads(app, run_jobs, team):
    with app.app_context():
        store_many([answer(FIRST), first()], source="imap")  # the answer has the lower id
    run_jobs()
    (ticket,) = tickets(app)
    assert len([m for m in ticket.messages if m.kind is MessageKind.CUSTOMER]) == 2
    assert {r.reason for r in inbound(app)} == {"new ticket", "threaded (references)"}


def test_a_strangers_answer_to_an_unprocessed_message_never_joins_its_ticket(
        app, redis, run_jobs, team):
    with app.app_context():
        (first_id, _new), = store_many([first()], source="imap")
        store_many([answer(FIRST, sender="mallory@evil.example")], source="imap")
    _drop_job(app, redis, f"inbound:{first_id}")
    run_jobs()
    anas, mallorys = tickets(app)
    assert anas.customer.email == "ana.lopez@correo.example"
    assert [m.body for m in anas.messages if m.kind is MessageKind.CUSTOMER] == [
        "Se cierra al abrirla."]
    assert mallorys.customer.email == "mallory@evil.example"
    assert inbound(app)[1].reason == f"new ticket; sender not a participant of #{anas.id}"


@pytest.mark.postgres_only
def test_an_answer_waits_while_another_run_holds_its_first_message(app, redis, run_jobs,
                                                                    team):
    with app.app_context():
        (first_id, _new), = store_many([first()], source="imap")
        (answer_id, _new), = store_many([answer(FIRST)], source="imap")
    _drop_job(app, redis, f"inbound:{first_id}")
    with app.app_context(), db.engine.connect() as other:  # another run, mid-way
        other.execute(text("SELECT id FROM inbound_mail WHERE id = :id FOR UPDATE"),
                      {"id": first_id})
        run_jobs()
        other.rollback()
    assert [r.state for r in inbound(app)] == [InboundState.RECEIVED] * 2  # nothing guessed
    with app.app_context():
        later = db.session.scalar(select(JobIntent).where(JobIntent.key.like(
            f"inbound:{answer_id}:later:%")))
        assert later.args == [[answer_id]] and later.enqueued_at is None  # after its delay
    assert _sweep(app) == 2  # the first message's run and the answer's later one
    run_jobs()
    (ticket,) = tickets(app)
    assert len([m for m in ticket.messages if m.kind is MessageKind.CUSTOMER]) == 2


def _trail(ticket_id: int) -> list[tuple]:
    """What routing left on a ticket: audit rows (without ids and times) and its events."""
    rows = db.session.execute(
        select(AuditEntry.action, AuditEntry.field, AuditEntry.reason)
        .where(AuditEntry.entity == "tickets", AuditEntry.entity_id == ticket_id,
               AuditEntry.action != "create")
        .order_by(AuditEntry.id)).all()
    ticket = db.session.get(Ticket, ticket_id)
    events = [m.body.split(":")[0] for m in ticket.messages if m.kind is MessageKind.EVENT]
    return [tuple(r) for r in rows] + events


def test_a_processing_run_routes_its_new_tickets_as_routing_one_would(app, redis, run_jobs,
                                                                     team, make_ticket):
    with app.app_context():
        store_many([simple(sender=f"c{n}@correo.example", subject=f"Asunto {n}",
                           message_id=f"<bulk-{n}@correo.example>") for n in range(5)],
                   source="imap")
    run_jobs()
    with app.app_context():
        mailed = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
        assert len(mailed) == 5
        assert all(t.team_id == team and t.assignee_id is not None
                   and t.status is TicketStatus.OPEN for t in mailed)
        funcs = db.session.scalars(select(JobIntent.func).order_by(JobIntent.id)).all()
        assert funcs == ["process_inbound", "mail_acknowledgements"]  # no routing job
        mailed_trail = _trail(mailed[0].id)
    single = make_ticket(customer_id=None)  # the web's way: one route_ticket job
    run_jobs()
    with app.app_context():
        assert db.session.get(Ticket, single).assignee_id is not None
        assert _trail(single) == mailed_trail
        assert mailed_trail  # routed, assigned, opened: not an empty comparison


def test_a_runs_routing_takes_turns_and_stops_at_each_agents_capacity(
        app, run_jobs, make_team, make_user):
    """One run, five new tickets, two agents with room for two each: the batch counts its own
    assignments (round-robin, then full), and the counters the triggers keep agree."""
    team_id = make_team(strategy=Strategy.ROUND_ROBIN)
    agents = [make_user(Role.AGENT, teams=[team_id], capacity=2) for _ in range(2)]
    with app.app_context():  # the only team: routing's fallback
        store_many([simple(sender=f"c{n}@correo.example", subject=f"Asunto {n}",
                           message_id=f"<cap-{n}@correo.example>") for n in range(5)],
                   source="imap")
    run_jobs()
    assert [t.assignee_id for t in tickets(app)] == [*agents, *agents, None]
    with app.app_context():
        assert [db.session.get(User, a).open_tickets for a in agents] == [2, 2]


def test_routing_that_breaks_leaves_the_mail_processed_and_a_job_to_route_it(
        app, redis, run_jobs, team, monkeypatch):
    """Fault injection: the run's routing raises once. The messages are processed all the
    same, their tickets wait in *Nuevo*, and one `route_tickets` job (retried by the outbox
    like any other; here lost in Redis, so the sweep hands it over) routes them."""
    from helpdesk.workflows import inbound as inbound_workflow

    def broken(ticket_ids):
        raise RuntimeError("routing broke")

    monkeypatch.setattr(inbound_workflow, "route_tickets", broken)
    with app.app_context():
        (first_id, _new), *_rest = store_many(
            [simple(sender=f"c{n}@correo.example", subject=f"Asunto {n}",
                    message_id=f"<lost-{n}@correo.example>") for n in range(3)], source="imap")
        processing = _drop_job(app, redis, f"inbound:{first_id}")
        assert jobs.run_intent(processing) == "done"  # what the worker runs
        bulk = db.session.scalar(select(JobIntent.key).where(JobIntent.func == "route_tickets"))
    assert [r.state for r in inbound(app)] == [InboundState.PROCESSED] * 3
    _drop_job(app, redis, bulk)  # Redis lost the bulk routing job
    run_jobs()
    with app.app_context():
        assert [t.assignee_id for t in db.session.scalars(select(Ticket))] == [None] * 3
    assert _sweep(app, minutes=2) == 1  # the bulk intent, after its retry delay
    run_jobs()
    with app.app_context():
        assert None not in [t.assignee_id for t in db.session.scalars(select(Ticket))]


def test_answers_and_new_mail_in_one_run_thread_and_route(app, run_jobs, team):
    """The bench's shape in small: new messages and answers to them, all stored before any is
    processed, answers first."""
    firsts = [simple(sender=f"c{n}@correo.example", subject=f"Asunto {n}",
                     message_id=f"<f-{n}@correo.example>") for n in range(4)]
    answers = [answer(f"<f-{n}@correo.example>", sender=f"c{n}@correo.example", n=n)
               for n in range(4)]
    with app.app_context():
        for raw in answers + firsts:
            store_raw(raw, source="pipe")
    run_jobs()
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Ticket)) == 4
        assert db.session.scalar(select(db.func.count()).select_from(Customer)) == 4
    rows = inbound(app)
    assert sum(r.reason == "threaded (references)" for r in rows) == 4
    assert all(t.assignee_id is not None for t in tickets(app))


def test_the_hourly_limit_and_one_acknowledgement_hold_within_one_run(app, run_jobs, team,
                                                                      monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_TICKETS_PER_SENDER_HOUR", 2)
    with app.app_context():
        store_many([simple(subject=f"Asunto {n}", message_id=f"<flood{n}@correo.example>")
                    for n in range(3)], source="imap")
    run_jobs()
    rows = inbound(app)
    assert [r.reason for r in rows] == ["new ticket", "new ticket",
                                        "more than 2 new tickets in an hour"]
    assert [r.acknowledged_at is not None for r in rows] == [True, False, False]
    assert len(tickets(app)) == 2


def test_a_message_that_breaks_processing_is_held_and_the_rest_of_its_run_goes_on(
        app, run_jobs, team):
    """A real fault at the file store: where the attachment's folder must go, a file stands,
    so writing it fails (as a full disk would). The run's one pass fails, so it is done again
    a savepoint per message; only the message with the attachment is held."""
    import hashlib
    from email.message import EmailMessage

    from helpdesk import attachments

    content = b"%PDF-1.4 only this test's file"
    with app.app_context():
        blocked = attachments.root() / hashlib.sha256(content).hexdigest()[:2]
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_bytes(b"not a folder")
    with_file = EmailMessage()
    with_file["From"], with_file["To"] = "c9@correo.example", "soporte@bayit.example"
    with_file["Subject"], with_file["Message-ID"] = "Captura", "<file-9@correo.example>"
    with_file.set_content("Adjunto la captura.")
    with_file.add_attachment(content, maintype="application", subtype="pdf",
                             filename="captura.pdf")
    raws = [simple(sender=f"c{n}@correo.example", subject=f"Asunto {n}",
                   message_id=f"<ok-{n}@correo.example>") for n in range(2)]
    with app.app_context():
        store_many([raws[0], bytes(with_file), raws[1]], source="imap")
    try:
        run_jobs()
    finally:
        blocked.unlink()  # the attachments folder is the session's: leave it usable
    rows = inbound(app)
    assert [r.state for r in rows] == [InboundState.PROCESSED, InboundState.HELD,
                                       InboundState.PROCESSED]
    assert rows[1].reason.startswith("processing failed: FileExistsError")
    assert rows[1].ticket_id is None and rows[1].raw  # its bytes stay, no half ticket
    assert len(tickets(app)) == 2
    assert all(t.assignee_id is not None for t in tickets(app))  # the others were routed
