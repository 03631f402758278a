"""Automatic assignment: availability, capacity, strategies, waiting tickets — real worker."""

import os

import pytest
from sqlalchemy import func, select

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import (
    AuditEntry,
    Availability,
    Category,
    Role,
    Strategy,
    Ticket,
    TicketStatus,
    User,
)


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
        workflows.change_status(db.session.get(Ticket, first), TicketStatus.RESOLVED,
                                actor=db.session.get(User, agent))
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


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="row locks need PostgreSQL; CI runs this with DATABASE_URL set")
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
    response = login_as(luis).post("/admin/availability", data={
        "user_id": str(ana), "availability": "available"})
    assert response.status_code == 403
    sup = make_user(Role.SUPERVISOR, teams=[tecnico["team"]])
    page = login_as(sup).get("/admin/").get_data(as_text=True)
    assert 'data-testid="roster"' in page
    login_as(sup).post("/admin/availability", data={"user_id": str(ana),
                                                    "availability": "available"})
    with app.app_context():
        assert db.session.get(User, ana).availability is Availability.AVAILABLE
    bad = login_as(sup).post("/admin/availability", data={"availability": "on-the-moon"},
                             follow_redirects=True)
    assert "Disponibilidad desconocida." in bad.get_data(as_text=True)
