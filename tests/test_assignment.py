"""Automatic assignment: availability, capacity, strategies, waiting tickets — real worker."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm.attributes import set_committed_value

from app import create_app
from helpdesk import jobs, queries, rules, workflows
from helpdesk.extensions import db, get_queue
from helpdesk.models import (
    AuditEntry,
    Availability,
    Category,
    Role,
    Strategy,
    Team,
    Ticket,
    TicketStatus,
    User,
)
from tests.closing import resolve


def assignees(app, ids):
    with app.app_context():
        return [db.session.get(Ticket, i).assignee_id for i in ids]


def set_availability(app, user_id, availability):
    with app.app_context(), workflows.atomic():
        user = db.session.get(User, user_id)
        workflows.set_availability(user, availability, actor=user)


@pytest.fixture
def tecnico(make_team, make_category):
    team = make_team("Técnico")
    return {"team": team, "category": make_category("reproduccion", team_id=team)}


def test_waiting_tickets_go_to_an_agent_who_becomes_available(app, tecnico, make_user,
                                                              make_ticket, run_jobs):
    agent = make_user(Role.AGENT, teams=[tecnico["team"]], availability=Availability.OFFLINE)
    tickets = [make_ticket(category_id=tecnico["category"]) for _ in range(2)]
    run_jobs()
    assert assignees(app, tickets) == [None, None]
    set_availability(app, agent, Availability.AVAILABLE)
    run_jobs()
    assert assignees(app, tickets) == [agent, agent]


def test_capacity_is_respected_and_freed_room_is_filled(app, tecnico, make_user, make_ticket,
                                                        run_jobs):
    agent = make_user(Role.AGENT, teams=[tecnico["team"]], capacity=1)
    first, second = (make_ticket(category_id=tecnico["category"]) for _ in range(2))
    run_jobs()
    assert assignees(app, [first, second]) == [agent, None]
    with app.app_context(), workflows.atomic():
        resolve(db.session.get(Ticket, first), actor=db.session.get(User, agent))
    run_jobs()
    assert assignees(app, [second]) == [agent]


def test_round_robin_rotates_and_least_loaded_balances(app, make_team, make_category,
                                                       make_user, make_ticket, run_jobs):
    team = make_team("Cuenta", strategy=Strategy.ROUND_ROBIN)
    category = make_category(team_id=team)
    a, b = make_user(Role.AGENT, teams=[team]), make_user(Role.AGENT, teams=[team])
    tickets = []
    for _ in range(4):
        tickets.append(make_ticket(category_id=category))
        run_jobs()
    assert assignees(app, tickets) == [a, b, a, b]


def test_skills_route_to_the_agent_who_handles_the_category(app, tecnico, make_user,
                                                            make_category, make_ticket,
                                                            run_jobs):
    other = make_category("dispositivos", team_id=tecnico["team"])
    generalist = make_user(Role.AGENT, teams=[tecnico["team"]])
    specialist = make_user(Role.AGENT, teams=[tecnico["team"]])
    with app.app_context(), workflows.atomic():
        db.session.get(User, generalist).skills = [db.session.get(Category, other)]
    ticket = make_ticket(category_id=tecnico["category"])
    run_jobs()
    assert assignees(app, [ticket]) == [specialist]


def test_sweep_is_the_safety_net(app, tecnico, make_user, make_ticket, run_jobs):
    ticket = make_ticket(category_id=tecnico["category"])
    run_jobs()
    agent = make_user(Role.AGENT, teams=[tecnico["team"]])  # arrives without an event
    with app.app_context(), workflows.atomic():
        assert workflows.sweep_waiting(None) == 1
    assert assignees(app, [ticket]) == [agent]


@pytest.mark.postgres_only
def test_concurrent_assigners_never_exceed_capacity(app, race, tecnico, make_user,
                                                    make_ticket):
    """Eight threads, each its own app and session, assign 16 waiting tickets at once."""
    agents = [make_user(Role.AGENT, teams=[tecnico["team"]], capacity=3) for _ in range(2)]
    tickets = [make_ticket(category_id=tecnico["category"]) for _ in range(16)]
    with app.app_context(), workflows.atomic():  # routed, but nobody assigned yet
        for ticket_id in tickets:
            db.session.get(Ticket, ticket_id).team_id = tecnico["team"]

    def assign_all():
        for ticket_id in tickets:
            ticket = db.session.scalar(select(Ticket).where(
                Ticket.id == ticket_id).with_for_update())
            if ticket.assignee_id is None:
                workflows.auto_assign(ticket, Strategy.LEAST_LOADED, "race")

    race(8, assign_all)
    with app.app_context():
        loads = dict(db.session.execute(select(Ticket.assignee_id, func.count()).where(
            Ticket.assignee_id.is_not(None)).group_by(Ticket.assignee_id)).all())
        per_ticket = db.session.execute(select(AuditEntry.ticket_id, func.count()).where(
            AuditEntry.action == "assign").group_by(AuditEntry.ticket_id)).all()
    assert loads == {agents[0]: 3, agents[1]: 3}
    assert len(per_ticket) == 6 and all(n == 1 for _t, n in per_ticket)  # never twice
    assert_counters_true(app, {agents[0]: 3, agents[1]: 3})


def test_agents_set_their_own_availability_in_the_panel(app, tecnico, make_user, make_ticket,
                                                        login_as, run_jobs):
    agent = make_user(Role.AGENT, teams=[tecnico["team"]], availability=Availability.AWAY)
    ticket = make_ticket(category_id=tecnico["category"])
    run_jobs()
    client = login_as(agent)
    assert 'data-testid="my-availability"' in client.get("/admin/").get_data(as_text=True)
    response = client.post("/admin/availability", data={"availability": "available"})
    assert response.status_code == 302
    run_jobs()
    assert assignees(app, [ticket]) == [agent]


def test_only_supervisors_set_someone_elses_availability(app, tecnico, make_user, login_as):
    ana = make_user(Role.AGENT, teams=[tecnico["team"]], availability=Availability.AWAY)
    luis = make_user(Role.AGENT, teams=[tecnico["team"]])
    response = login_as(luis).post("/admin/availability", page="/admin/", data={
        "user_id": str(ana), "availability": "available"})  # his own form, tampered
    assert response.status_code == 403
    sup_id = make_user(Role.SUPERVISOR, teams=[tecnico["team"]])
    with app.app_context(), workflows.atomic():  # supervisors set their teams' availability
        db.session.get(User, sup_id).supervised_teams = [db.session.get(Team, tecnico["team"])]
    sup = login_as(sup_id)
    page = sup.get("/admin/").get_data(as_text=True)
    assert 'data-testid="roster"' in page
    sup.post("/admin/availability", data={"user_id": str(ana), "availability": "available"})
    with app.app_context():
        assert db.session.get(User, ana).availability is Availability.AVAILABLE
    bad = sup.post("/admin/availability", data={"availability": "on-the-moon"},
                   page="/admin/", follow_redirects=True)
    assert "Disponibilidad desconocida." in bad.get_data(as_text=True)


def counters_and_truth(app):
    """{agent id: (users.open_tickets, unresolved tickets they really hold)} for every user."""
    with app.app_context():
        held = dict(db.session.execute(
            select(Ticket.assignee_id, func.count())
            .where(Ticket.assignee_id.is_not(None),
                   Ticket.status.in_([TicketStatus.NEW, TicketStatus.OPEN,
                                      TicketStatus.PENDING]))
            .group_by(Ticket.assignee_id)).all())
        return {user.id: (user.open_tickets, held.get(user.id, 0))
                for user in db.session.scalars(select(User))}


def assert_counters_true(app, expected: dict[int, int]):
    counts = counters_and_truth(app)
    assert all(counter == truth for counter, truth in counts.values()), counts
    assert {user: counts[user][0] for user in expected} == expected


def test_open_ticket_counters_follow_every_change(app, tecnico, make_user, make_ticket,
                                                  make_customer, run_jobs):
    """users.open_tickets (kept by database triggers) against a real count, step by step:
    assignment, reassignment, waiting, resolution, reopening, the pool, bulk insert, delete."""
    ana = make_user(Role.AGENT, teams=[tecnico["team"]])
    luis = make_user(Role.AGENT, teams=[tecnico["team"]], availability=Availability.AWAY)
    sup = make_user(Role.SUPERVISOR, teams=[tecnico["team"]], availability=Availability.OFFLINE)
    first, second = (make_ticket(category_id=tecnico["category"]) for _ in range(2))
    run_jobs()
    assert_counters_true(app, {ana: 2, luis: 0})

    def act(step):
        with app.app_context(), workflows.atomic():
            step(db.session.get(Ticket, first), db.session.get(User, sup))

    act(lambda t, s: workflows.reassign_ticket(t, team=t.team, agent=db.session.get(User, luis),
                                               actor=s))
    assert_counters_true(app, {ana: 1, luis: 1})
    act(lambda t, s: workflows.add_reply(t, "¿Sigue pasando?", actor=t.assignee,
                                         status=TicketStatus.PENDING))
    assert_counters_true(app, {ana: 1, luis: 1})  # waiting for the customer still counts
    act(lambda t, s: resolve(t, actor=t.assignee))
    assert_counters_true(app, {ana: 1, luis: 0})
    act(lambda t, s: workflows.add_customer_message(t, "Ha vuelto a fallar."))
    # Reopened: Luis is away, so it is routed again, to Ana (issue 12: "same assignee, routed
    # again if that person is gone or unavailable").
    assert_counters_true(app, {ana: 2, luis: 0})
    act(lambda t, s: workflows.reassign_ticket(t, team=t.team, agent=None, actor=s))
    assert_counters_true(app, {ana: 1, luis: 0})

    with app.app_context(), workflows.atomic():  # a bulk insert, as the demo loader does
        customer = make_customer()
        db.session.execute(insert(Ticket), [
            {"subject": f"Carga {n}", "customer_id": customer, "assignee_id": ana,
             "status": status, "team_id": tecnico["team"]}
            for n, status in enumerate([TicketStatus.OPEN] * 3 + [TicketStatus.RESOLVED])])
    assert_counters_true(app, {ana: 4, luis: 0})
    with app.app_context(), workflows.atomic():
        db.session.execute(delete(Ticket).where(Ticket.subject.like("Carga %")))
        db.session.delete(db.session.get(Ticket, second))
    assert_counters_true(app, {ana: 0, luis: 0})


def test_a_full_agent_is_refused_even_with_a_stale_ranking(app, tecnico, make_user,
                                                           make_ticket, run_jobs):
    """The capacity check reads the agent's row under its lock, not what a ranking saw."""
    agent = make_user(Role.AGENT, teams=[tecnico["team"]], capacity=1)
    held, extra = (make_ticket(category_id=tecnico["category"]) for _ in range(2))
    run_jobs()
    assert assignees(app, [held, extra]) == [agent, None]
    with app.app_context(), workflows.atomic():
        with pytest.raises(workflows.CapacityExceeded):
            workflows.assign_ticket(db.session.get(Ticket, extra), db.session.get(User, agent),
                                    actor=None, reason="test")
    assert_counters_true(app, {agent: 1})


@pytest.mark.postgres_only
def test_crossing_reassignments_wait_instead_of_deadlocking(app, race, tecnico, make_user,
                                                            make_ticket):
    """A supervisor moves Ana's ticket to Luis while another moves Luis's to Ana, again and
    again: each reassignment locks the new agent (capacity) and the old one (the counter's
    trigger), so without one lock order PostgreSQL kills one of them as a deadlock."""
    ana, luis = (make_user(Role.AGENT, teams=[tecnico["team"]], capacity=100) for _ in range(2))
    boss = make_user(Role.SUPERVISOR, teams=[tecnico["team"]])
    rounds = 12
    held = {ana: [], luis: []}
    for owner in (ana, luis):
        for _ in range(rounds):
            ticket_id = make_ticket(category_id=tecnico["category"])
            held[owner].append(ticket_id)
            with app.app_context(), workflows.atomic():
                workflows.assign_ticket(db.session.get(Ticket, ticket_id),
                                        db.session.get(User, owner), actor=None, reason="t")
    for n in range(rounds):
        turns = iter([(held[ana][n], luis), (held[luis][n], ana)])

        def swap(turns=turns):
            ticket_id, to = next(turns)
            workflows.reassign_ticket(db.session.get(Ticket, ticket_id), team=None,
                                      agent=db.session.get(User, to),
                                      actor=db.session.get(User, boss))

        race(2, swap)
    assert assignees(app, held[ana]) == [luis] * rounds
    assert assignees(app, held[luis]) == [ana] * rounds
    assert_counters_true(app, {ana: rounds, luis: rounds})


def test_a_drifted_counter_is_found_and_repaired(app, tecnico, make_user, make_ticket,
                                                 run_jobs):
    """Something wrote users.open_tickets behind the triggers' back (a restore, a hand edit):
    the hourly check finds it through the worker and repairs it with an audit row; the
    command line does the same; a right counter is left alone."""
    ana = make_user(Role.AGENT, teams=[tecnico["team"]])
    luis = make_user(Role.AGENT, teams=[tecnico["team"]], availability=Availability.AWAY)
    tickets = [make_ticket(category_id=tecnico["category"]) for _ in range(3)]
    run_jobs()
    assert assignees(app, tickets) == [ana] * 3
    with app.app_context(), workflows.atomic():
        db.session.execute(update(User).where(User.id == ana).values(open_tickets=-4))
        db.session.execute(update(User).where(User.id == luis).values(open_tickets=2))
    with app.app_context():
        get_queue("default").enqueue(jobs.recount_open_tickets)
    run_jobs("default")
    assert_counters_true(app, {ana: 3, luis: 0})
    with app.app_context():
        repairs = db.session.execute(
            select(AuditEntry.entity_id, AuditEntry.old_value, AuditEntry.new_value)
            .where(AuditEntry.action == "recount").order_by(AuditEntry.entity_id)).all()
    assert [tuple(r) for r in repairs] == [(ana, "-4", "3"), (luis, "2", "0")]

    with app.app_context(), workflows.atomic():
        db.session.execute(update(User).where(User.id == luis).values(open_tickets=7))
    result = app.test_cli_runner().invoke(args=["helpdesk", "recount"])
    assert result.exit_code == 0, result.output
    assert f"user {luis}: open tickets 7 -> 0" in result.output
    assert "recount: 1 counter(s) repaired" in result.output
    again = app.test_cli_runner().invoke(args=["helpdesk", "recount"])
    assert "recount: 0 counter(s) repaired" in again.output
    assert_counters_true(app, {ana: 3, luis: 0})


def test_ranking_reads_fresh_loads_and_keeps_unsaved_changes(app, tecnico, make_user):
    """`queries.team_agents` sees load the database moved behind the session's back, and leaves
    the session's pending edits of those users alone."""
    ana = make_user(Role.AGENT, teams=[tecnico["team"]])
    with app.app_context(), workflows.atomic():
        db.session.execute(update(User).where(User.id == ana).values(open_tickets=5))
    with app.app_context():
        user = db.session.get(User, ana)
        set_committed_value(user, "open_tickets", 0)  # as if a trigger had moved it since
        with db.session.no_autoflush:
            user.name = "Ana María"
            loads = queries.team_agents(tecnico["team"]).loads
        assert user.name == "Ana María" and loads[ana].open_tickets == 5


def test_an_assignment_marks_the_agent_already_in_the_session(app, tecnico, make_user,
                                                              make_ticket):
    """Round-robin ranks by last_assigned_at: the capacity UPDATE sets it in the database and
    on the User object the caller holds."""
    ana = make_user(Role.AGENT, teams=[tecnico["team"]])
    ticket_id = make_ticket(category_id=tecnico["category"])
    with app.app_context(), workflows.atomic():
        agent = db.session.get(User, ana)
        assert agent.last_assigned_at is None
        workflows.assign_ticket(db.session.get(Ticket, ticket_id), agent, actor=None,
                                reason="t")
        marked = agent.last_assigned_at
        assert marked is not None
    with app.app_context():
        assert db.session.get(User, ana).last_assigned_at == marked


@pytest.mark.postgres_only
def test_routing_alone_commits_without_waiting_for_the_disk(app, tecnico, make_user,
                                                           make_ticket):
    ana = make_user(Role.AGENT, teams=[tecnico["team"]])
    ticket_id = make_ticket(category_id=tecnico["category"])
    with app.app_context(), workflows.atomic():
        assert workflows.route_ticket(ticket_id) == ana
        assert db.session.scalar(text("SHOW synchronous_commit")) == "off"
    with app.app_context():
        assert db.session.scalar(text("SHOW synchronous_commit")) == "on"


def test_the_capacity_update_keeps_a_stale_in_session_agent_true(app, tecnico, make_user):
    """take_capacity judges room in the database, whatever the session remembers: room →
    the held User is marked assigned (and keeps its pending edit); full → left alone."""
    ana = make_user(Role.AGENT, teams=[tecnico["team"]], capacity=1)
    with app.app_context():
        agent = db.session.get(User, ana)
        set_committed_value(agent, "open_tickets", 1)  # looks full; the database has room
        with db.session.no_autoflush:
            agent.name = "Ana María"
            assert queries.take_capacity(ana, rules.utcnow()) is agent
        assert agent.last_assigned_at is not None and agent.name == "Ana María"
        db.session.rollback()
    with app.app_context(), workflows.atomic():
        db.session.execute(update(User).where(User.id == ana).values(open_tickets=1))
    with app.app_context():
        agent = db.session.get(User, ana)
        set_committed_value(agent, "open_tickets", 0)  # looks free; the database is full
        assert queries.take_capacity(ana, rules.utcnow()) is None
        assert agent.last_assigned_at is None
        db.session.rollback()


def _two_at_once(app_config, first, second, pause: threading.Event):
    """Run `first` and, once it sets `pause`, `second`, each in its own app and transaction;
    the errors."""
    apps = [create_app(app_config) for _ in range(2)]
    errors = []

    def run(local, body, wait):
        try:
            if wait:
                pause.wait(10)
                time.sleep(0.3)  # `first` is mid-transaction, holding its first locks
            with local.app_context(), workflows.atomic():
                body()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(apps[0], first, False)),
               threading.Thread(target=run, args=(apps[1], second, True))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.mark.postgres_only
def test_a_bulk_move_and_a_single_reassignment_never_deadlock(app, app_config, tecnico,
                                                              make_user, make_ticket,
                                                              monkeypatch):
    """The queue's bulk move (Luis's and Ana's tickets to Xavi) pauses after its first
    ticket while a supervisor moves another of Ana's tickets to Luis: with agent locks taken
    per ticket that is a cycle; taken up front in id order, one waits for the other."""
    ana, luis, xavi = (make_user(Role.AGENT, teams=[tecnico["team"]], capacity=50)
                       for _ in range(3))
    boss = make_user(Role.SUPERVISOR, teams=[tecnico["team"]])
    t1, t2, t9 = (make_ticket(category_id=tecnico["category"]) for _ in range(3))
    with app.app_context(), workflows.atomic():
        for ticket_id, owner in ((t1, luis), (t2, ana), (t9, ana)):
            workflows.assign_ticket(db.session.get(Ticket, ticket_id),
                                    db.session.get(User, owner), actor=None, reason="t")
    paused = threading.Event()
    reassign = workflows.reassign_ticket

    def slow_first(ticket, **kwargs):  # the real thing, with a pause after the first ticket
        reassign(ticket, **kwargs)
        if ticket.id == t1 and not paused.is_set():
            paused.set()
            time.sleep(1.5)

    monkeypatch.setattr(workflows.assignment, "reassign_ticket", slow_first)
    errors = _two_at_once(
        app_config,
        lambda: workflows.reassign_tickets([t1, t2], team=None,
                                           agent=db.session.get(User, xavi),
                                           actor=db.session.get(User, boss)),
        lambda: reassign(db.session.get(Ticket, t9), team=None,
                         agent=db.session.get(User, luis), actor=db.session.get(User, boss)),
        paused)
    assert not errors, errors
    assert assignees(app, [t1, t2, t9]) == [xavi, xavi, luis]
    assert_counters_true(app, {ana: 0, luis: 1, xavi: 2})


@pytest.mark.postgres_only
def test_the_waiting_pass_and_a_reassignment_never_deadlock(app, app_config, tecnico,
                                                            make_user, make_ticket, run_jobs,
                                                            monkeypatch):
    """The waiting-ticket pass gives one ticket to Luis, pauses, then one to Ana, while a
    supervisor moves Ana's ticket to Luis (locking Ana, then Luis)."""
    ana, luis = (make_user(Role.AGENT, teams=[tecnico["team"]], capacity=50,
                           availability=Availability.OFFLINE) for _ in range(2))
    boss = make_user(Role.SUPERVISOR)
    waiting = [make_ticket(category_id=tecnico["category"]) for _ in range(2)]
    run_jobs()  # routed to the team; nobody available
    held = make_ticket(category_id=tecnico["category"])
    with app.app_context(), workflows.atomic():
        workflows.assign_ticket(db.session.get(Ticket, held), db.session.get(User, ana),
                                actor=None, reason="t")
        db.session.execute(update(User).where(User.id.in_([ana, luis])).values(
            availability=Availability.AVAILABLE, last_assigned_at=None))
        db.session.execute(update(User).where(User.id == luis).values(
            last_assigned_at=rules.utcnow() - timedelta(days=1)))  # Luis first, then Ana
    paused = threading.Event()
    claim = workflows.assignment._claim

    def slow_claim(ticket, agent_id, now):
        agent = claim(ticket, agent_id, now)
        if not paused.is_set():
            paused.set()
            time.sleep(1.5)
        return agent

    monkeypatch.setattr(workflows.assignment, "_claim", slow_claim)
    errors = _two_at_once(
        app_config,
        lambda: workflows.assign_waiting(tecnico["team"]),
        lambda: workflows.reassign_ticket(db.session.get(Ticket, held), team=None,
                                          agent=db.session.get(User, luis),
                                          actor=db.session.get(User, boss)),
        paused)
    assert not errors, errors
    assert None not in assignees(app, waiting) and assignees(app, [held]) == [luis]
    assert_counters_true(app, {})


@pytest.mark.postgres_only
def test_a_rolled_back_savepoint_takes_its_ticket_locks_along(app, app_config, make_ticket):
    """ROLLBACK TO SAVEPOINT releases the row locks taken inside it: the transaction must not
    go on believing it holds them (lock_for_assignment would skip the lock)."""
    ticket_id = make_ticket()
    other = create_app(app_config)
    with app.app_context(), workflows.atomic():
        nested = db.session.begin_nested()
        queries.lock_for_assignment(ticket_id, [])
        assert ticket_id in db.session.info[queries.LOCKED_TICKETS]
        nested.rollback()
        assert ticket_id not in db.session.info.get(queries.LOCKED_TICKETS, {})
        with other.app_context():  # and indeed another transaction can lock it now
            assert db.session.execute(select(Ticket.id).where(Ticket.id == ticket_id)
                                      .with_for_update(nowait=True)).scalar() == ticket_id
            db.session.rollback()
