"""One home for each decision: the page that offers a button and the workflow that acts give
the same answer, and configuration forms have the side effects the domain layer gives them.
Each test here failed while the rule was written twice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk import queries, workflows
from helpdesk.extensions import db
from helpdesk.models import AuditEntry, Availability, Role, Team, Ticket, User
from tests.closing import resolve


def ticket_row(app, ticket_id):
    with app.app_context():
        return db.session.get(Ticket, ticket_id)


def test_probar_names_the_team_the_router_picks_without_a_default_team(
        app, make_team, make_category, make_ticket, make_user, login_as, run_jobs):
    """No default team chosen, a category without a team, no rules: the router falls back to
    the first active team, and Probar must say so instead of "ninguno"."""
    first = make_team("Primera línea")
    make_team("Segunda línea")
    category = make_category("otros")
    ticket_id = make_ticket(category_id=category)
    run_jobs()
    assert ticket_row(app, ticket_id).team_id == first

    boss = make_user(Role.SUPERVISOR)
    page = login_as(boss).get("/admin/routing/test", query_string={
        "ticket": str(ticket_id)}).get_data(as_text=True)
    assert "Primera línea" in page
    assert "ninguno" not in page


@pytest.fixture
def desk(app, make_team, make_user, make_ticket, run_jobs):
    """Two teams with a waiting ticket each, an unrouted ticket, a resolved one, and people."""
    mine, other = make_team("Cuenta"), make_team("Facturación")
    agent = make_user(Role.AGENT, teams=[mine], availability=Availability.OFFLINE)
    boss = make_user(Role.SUPERVISOR, availability=Availability.OFFLINE)
    tickets = {name: make_ticket(subject=f"Ticket {name}") for name in
               ("my_team", "other_team", "unrouted", "resolved")}
    with app.app_context(), workflows.atomic():
        for name, team in (("my_team", mine), ("other_team", other), ("resolved", mine)):
            db.session.get(Ticket, tickets[name]).team_id = team
        resolved = db.session.get(Ticket, tickets["resolved"])
        resolve(resolved, actor=None)
    return {"agent": agent, "boss": boss, "tickets": tickets}


@pytest.mark.parametrize("who", ["agent", "boss"])
@pytest.mark.parametrize("which", ["my_team", "other_team", "unrouted", "resolved"])
def test_tomar_is_offered_exactly_when_the_workflow_accepts(app, desk, login_as, who, which):
    """The ticket page's Tomar, the queue's Tomar and the take itself agree, for every kind of
    ticket and both roles (agents used to see Tomar on unrouted tickets, then be refused)."""
    client = login_as(desk[who])
    ticket_id = desk["tickets"][which]
    page = client.get(f"/admin/tickets/{ticket_id}/").get_data(as_text=True)
    offered_on_page = 'data-testid="take"' in page
    queue = client.get("/admin/tickets/")  # a handful of tickets: all on page 1 (a number
    # in the search box now opens the ticket itself)
    offered_in_queue = f'data-testid="take-{ticket_id}"' in queue.get_data(as_text=True)
    version = ticket_row(app, ticket_id).version
    # Posted whether or not Tomar is offered: a take without the button is a forged request.
    client.post(f"/admin/tickets/{ticket_id}/take", data={"version": version},
                token_from="/admin/")
    taken = ticket_row(app, ticket_id).assignee_id == desk[who]
    assert offered_on_page == offered_in_queue == taken
    assert taken is (which in ({"my_team"} if who == "agent" else {"my_team", "other_team",
                                                                    "unrouted"}))


def test_reassign_is_refused_where_it_is_not_offered(app, desk, login_as, make_team):
    """A resolved ticket offers no Reasignar, and a team-only move of it is refused too."""
    client = login_as(desk["boss"])
    ticket_id = desk["tickets"]["resolved"]
    page = client.get(f"/admin/tickets/{ticket_id}/").get_data(as_text=True)
    assert 'data-testid="reassign"' not in page
    target = make_team("Técnico")
    response = client.post(f"/admin/tickets/reassign?ids={ticket_id}",
                           data={"ids": str(ticket_id), "team": str(target), "agent": "",
                                 "version": str(ticket_row(app, ticket_id).version)},
                           follow_redirects=True)
    assert "Un ticket resuelto no se puede reasignar" in response.get_data(as_text=True)
    assert ticket_row(app, ticket_id).team_id != target


@pytest.fixture
def waiting_ticket(app, make_ticket, run_jobs):
    """A ticket of the team that nobody could take: it waits, unassigned."""

    def make(team_id: int) -> int:
        ticket_id = make_ticket()
        with app.app_context(), workflows.atomic():
            db.session.get(Ticket, ticket_id).team_id = team_id
        run_jobs()
        assert ticket_row(app, ticket_id).assignee_id is None
        return ticket_id

    return make


def agent_form(user: User, **changes) -> dict:
    """The Agentes edit form as the browser posts it, with `changes`."""
    data = {"name": user.name, "email": user.email, "role": str(user.role.value),
            "active": "y", "teams": [str(t.id) for t in user.teams],
            "supervised_teams": [str(t.id) for t in user.supervised_teams],
            "skills": [str(c.id) for c in user.skills], "availability": user.availability.value,
            "capacity": str(user.capacity), "locale": user.locale, "timezone": user.timezone}
    data.update(changes)
    return data


def test_making_an_agent_available_in_agentes_assigns_waiting_tickets(
        app, make_team, make_user, waiting_ticket, login_as, run_jobs):
    """The Agentes form used to set availability directly: nothing got the waiting ticket.
    Through the workflow it is audited and the team's assignment pass runs."""
    team = make_team("Cuenta")
    agent = make_user(Role.AGENT, teams=[team], availability=Availability.OFFLINE)
    admin = make_user(Role.ADMIN)
    ticket_id = waiting_ticket(team)

    with app.app_context():
        data = agent_form(db.session.get(User, agent), availability="available")
    response = login_as(admin).post(f"/admin/agents/edit/?id={agent}", data=data)
    assert response.status_code == 302
    run_jobs()
    assert ticket_row(app, ticket_id).assignee_id == agent
    with app.app_context():
        fields = set(db.session.scalars(select(AuditEntry.field).where(
            AuditEntry.entity == "users", AuditEntry.entity_id == agent,
            AuditEntry.action == "update")))
    assert "availability" in fields


def test_raising_capacity_in_agentes_assigns_waiting_tickets(
        app, make_team, make_user, waiting_ticket, login_as, run_jobs):
    """A full agent given more room takes the team's waiting ticket."""
    team = make_team("Cuenta")
    agent = make_user(Role.AGENT, teams=[team], capacity=0)
    admin = make_user(Role.ADMIN)
    ticket_id = waiting_ticket(team)
    with app.app_context():
        data = agent_form(db.session.get(User, agent), capacity="3")
    assert login_as(admin).post(f"/admin/agents/edit/?id={agent}", data=data).status_code == 302
    run_jobs()
    assert ticket_row(app, ticket_id).assignee_id == agent


def test_adding_an_available_member_in_equipos_assigns_waiting_tickets(
        app, make_team, make_user, waiting_ticket, login_as, run_jobs):
    """Team membership edited by a supervisor goes through the workflow too."""
    team = make_team("Cuenta")
    agent = make_user(Role.AGENT)  # available, in no team yet
    boss = make_user(Role.SUPERVISOR)
    ticket_id = waiting_ticket(team)
    response = login_as(boss).post(f"/admin/teams/edit/?id={team}", data={
        "name": "Cuenta", "description": "", "email": "", "strategy": "round_robin",
        "active": "y", "members": [str(agent)], "supervisors": [str(boss)]})
    assert response.status_code == 302
    run_jobs()
    assert ticket_row(app, ticket_id).assignee_id == agent
    with app.app_context():
        members = db.session.scalar(select(AuditEntry).where(
            AuditEntry.entity == "teams", AuditEntry.field == "members"))
    assert members is not None and members.actor_id == boss


def test_a_team_move_reads_as_a_team_move_while_you_worked(app, desk, make_team, login_as):
    """"While you worked" described a supervisor's team move as an assignment to whichever
    user had the team's id; it now names the team."""
    target = make_team("Técnico")
    ticket_id = desk["tickets"]["my_team"]
    version = ticket_row(app, ticket_id).version
    with app.app_context(), workflows.atomic():
        workflows.reassign_ticket(db.session.get(Ticket, ticket_id),
                                  team=db.session.get(Team, target), agent=None,
                                  actor=db.session.get(User, desk["boss"]))
    with app.app_context():
        said = queries.describe_changes_since(ticket_id, version)
    assert "movió el ticket al equipo Técnico" in said


def test_mi_equipo_counts_the_teams_a_supervisor_supervises(app, make_team, make_user,
                                                             make_ticket):
    """A supervisor who supervises a team without working in it saw 0 under *Mi equipo*."""
    team = make_team("Cuenta")
    boss = make_user(Role.SUPERVISOR)
    ticket_id = make_ticket()
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, ticket_id).team_id = team
        db.session.get(User, boss).supervised_teams = [db.session.get(Team, team)]
    with app.app_context():
        counts = queries.queue_counts(db.session.get(User, boss))
    assert counts["team"] == 1
