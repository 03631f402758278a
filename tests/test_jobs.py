"""Jobs through a real worker; the outbox survives a dead Redis; one cron scheduler only."""

import json
import zlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import create_app
from helpdesk import cron, jobs, rules, workflows
from helpdesk.extensions import db, get_queue
from helpdesk.models import (
    AuditEntry,
    Availability,
    Customer,
    IntentState,
    JobIntent,
    Role,
    SlaState,
    Ticket,
    TicketStatus,
)


@pytest.fixture
def cuenta(make_team, make_category, make_user):
    """A team with one available agent and a category routed to it."""
    team = make_team("Cuenta")
    agent = make_user(Role.AGENT, teams=[team])
    category = make_category("acceso", team_id=team)
    return {"team": team, "agent": agent, "category": category}


def ticket_row(app, ticket_id):
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        db.session.expunge(ticket)
        return ticket


def intents(app):
    with app.app_context():
        return [(i.func, i.args, i.state) for i in db.session.scalars(select(JobIntent))]


def test_new_ticket_is_routed_and_assigned_by_the_worker(app, cuenta, make_ticket, run_jobs):
    ticket_id = make_ticket(category_id=cuenta["category"])
    assert ticket_row(app, ticket_id).assignee_id is None  # nothing runs before the worker
    run_jobs()
    ticket = ticket_row(app, ticket_id)
    assert (ticket.team_id, ticket.assignee_id) == (cuenta["team"], cuenta["agent"])
    assert ticket.status is TicketStatus.OPEN
    assert intents(app) == [("route_ticket", [ticket_id], IntentState.DONE)]
    with app.app_context():
        reasons = db.session.scalars(select(AuditEntry.reason).where(
            AuditEntry.ticket_id == ticket_id, AuditEntry.field == "assignee")).all()
    assert reasons == ["auto:least_loaded:default"]


def test_ticket_waits_in_new_when_nobody_is_available(app, make_team, make_user, make_category,
                                                      make_ticket, run_jobs):
    team = make_team("Técnico")
    make_user(Role.AGENT, teams=[team], availability=Availability.AWAY)
    ticket_id = make_ticket(category_id=make_category(team_id=team))
    run_jobs()
    ticket = ticket_row(app, ticket_id)
    assert (ticket.team_id, ticket.assignee_id, ticket.status) == (team, None, TicketStatus.NEW)


def test_running_an_intent_twice_changes_nothing_more(app, cuenta, make_ticket, make_user,
                                                      run_jobs):
    ticket_id = make_ticket(category_id=cuenta["category"])
    run_jobs()
    with app.app_context():
        intent_id = db.session.scalar(select(JobIntent.id))
    make_user(Role.AGENT, teams=[cuenta["team"]])  # now the least loaded: must not get it
    with app.app_context():
        assert jobs.run_intent(intent_id) == "done"
    assert ticket_row(app, ticket_id).assignee_id == cuenta["agent"]


def test_ticket_is_saved_while_redis_is_down_and_routed_once_it_is_back(
        app, app_config, cuenta, make_customer, run_jobs, caplog):
    dead = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    customer_id = make_customer()
    with dead.app_context(), workflows.atomic():
        ticket = workflows.create_ticket(db.session.get(Customer, customer_id), "Sin acceso",
                                         "No puedo entrar.", actor=None)
        ticket_id = ticket.id
    assert "Redis unreachable" in caplog.text
    assert intents(app) == [("route_ticket", [ticket_id], IntentState.PENDING)]
    run_jobs()  # Redis is back, but the job never reached it: nothing to run yet
    assert ticket_row(app, ticket_id).assignee_id is None

    with app.app_context():  # the periodic sweep hands it over once it is old enough
        later = rules.utcnow() + timedelta(minutes=5)
        with workflows.atomic():
            assert workflows.sweep_outbox(later) == 1
    run_jobs()
    assert ticket_row(app, ticket_id).assignee_id == cuenta["agent"]
    assert intents(app) == [("route_ticket", [ticket_id], IntentState.DONE)]


def test_sweep_leaves_recent_and_queued_intents_alone(app, cuenta, make_ticket, redis):
    make_ticket(category_id=cuenta["category"])
    with app.app_context(), workflows.atomic():
        assert workflows.sweep_outbox(rules.utcnow()) == 0  # too recent
    with app.app_context(), workflows.atomic():
        later = rules.utcnow() + timedelta(minutes=5)
        assert workflows.sweep_outbox(later) == 1
    with app.app_context():
        assert get_queue("default").count == 1  # still queued: not enqueued twice


def test_rolled_back_change_enqueues_nothing(app, make_customer):
    customer_id = make_customer()
    with app.app_context():
        with pytest.raises(RuntimeError), workflows.atomic():
            workflows.create_ticket(db.session.get(Customer, customer_id), "x", "y", actor=None)
            raise RuntimeError("boom")
        assert get_queue("default").count == 0
        assert db.session.scalar(select(Ticket.id)) is None


def test_jobs_are_json_not_pickle(app, cuenta, make_ticket, redis):
    make_ticket(category_id=cuenta["category"])
    with app.app_context():
        job = get_queue("default").jobs[0]
    data = json.loads(zlib.decompress(redis.hget(f"rq:job:{job.id}", "data")))
    assert data[0] == "helpdesk.jobs.run_intent"


def test_sla_sweep_flags_tickets_with_set_based_updates(app, make_ticket, run_jobs):
    ticket_id = make_ticket()
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, ticket_id)
        ticket.sla_due_at = ticket.sla_warn_at = rules.utcnow() - timedelta(minutes=1)
    with app.app_context():
        get_queue("sla").enqueue(jobs.sweep_sla_states)
    run_jobs("sla")
    assert ticket_row(app, ticket_id).sla_state is SlaState.BREACHED
    with app.app_context(), workflows.atomic():
        assert workflows.sweep_sla_states(rules.utcnow()) == 0  # idempotent


def test_cron_scheduler_registers_json_jobs_and_only_one_runs(app, redis):
    with app.app_context():
        scheduler = cron.build_cron(redis)
        assert {j.func_name for j in scheduler.get_jobs()} == {
            "helpdesk.jobs.sweep_sla_states", "helpdesk.jobs.sweep_outbox",
            "helpdesk.jobs.sweep_waiting", "helpdesk.jobs.recount_open_tickets",
            "helpdesk.jobs.refresh_reports", "helpdesk.jobs.finalise_reports",
            "helpdesk.jobs.poll_mailbox"}
        scheduler.enqueue_jobs()
        assert get_queue("sla").count == 1
    assert cron.acquire_cron_lock(redis, "first")
    assert not cron.acquire_cron_lock(redis, "second")
    result = app.test_cli_runner().invoke(args=["helpdesk", "cron"])
    assert result.exit_code == 1
    assert "another helpdesk cron scheduler is already running" in result.output
