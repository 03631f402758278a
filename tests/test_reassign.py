"""Supervisors reassign tickets (bulk and one); agents cannot reassign anyone's ticket."""

import pytest
from sqlalchemy import select

from helpdesk import workflows
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.models import AuditEntry, Role, Ticket, TicketStatus, User


@pytest.fixture
def floor(app, make_team, make_user, make_ticket):
    cuenta, tecnico = make_team("Cuenta"), make_team("Técnico")
    people = {
        "sup": make_user(Role.SUPERVISOR, teams=[cuenta, tecnico], name="Sergio"),
        "ana": make_user(Role.AGENT, teams=[cuenta], name="Ana"),
        "teo": make_user(Role.AGENT, teams=[tecnico], name="Teo"),
    }
    tickets = [make_ticket(f"Ticket {n}") for n in range(3)]
    with app.app_context(), workflows.atomic():
        for ticket_id in tickets:
            ticket = db.session.get(Ticket, ticket_id)
            ticket.team_id = cuenta
            workflows.assign_ticket(ticket, db.session.get(User, people["ana"]), actor=None,
                                    reason="test")
    return {"cuenta": cuenta, "tecnico": tecnico, "tickets": tickets, **people}


def versions(app, ids) -> str:
    """The reassign form's version field: each ticket's version, in id order."""
    with app.app_context():
        return ",".join(str(t.version) for t in db.session.scalars(
            select(Ticket).where(Ticket.id.in_(ids)).order_by(Ticket.id)))


def rows(app, ids):
    with app.app_context():
        return [(t.team_id, t.assignee_id, t.status) for t in
                db.session.scalars(select(Ticket).where(Ticket.id.in_(ids)).order_by(Ticket.id))]


def test_supervisor_bulk_reassigns_from_the_queue(app, floor, login_as):
    client = login_as(floor["sup"])
    response = client.post("/admin/tickets/action/", page="/admin/tickets/", data={
        "action": "reassign", "rowid": [str(i) for i in floor["tickets"][:2]]})
    assert response.status_code == 302 and "/admin/tickets/reassign?ids=" in \
        response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ticket 0" in page and "Ticket 1" in page and "Ticket 2" not in page
    response = client.post(response.headers["Location"], data={
        "ids": ",".join(map(str, floor["tickets"][:2])), "team": str(floor["tecnico"]),
        "agent": str(floor["teo"]), "version": versions(app, floor["tickets"][:2])})
    assert response.status_code == 302
    moved = (floor["tecnico"], floor["teo"], TicketStatus.OPEN)
    assert rows(app, floor["tickets"]) == [moved, moved,
                                           (floor["cuenta"], floor["ana"], TicketStatus.OPEN)]
    with app.app_context():
        reasons = set(db.session.scalars(select(AuditEntry.reason).where(
            AuditEntry.ticket_id == floor["tickets"][0], AuditEntry.actor_id == floor["sup"])))
    assert reasons == {"manual"}


def test_back_to_the_team_pool(app, floor, login_as):
    ticket = floor["tickets"][0]
    response = login_as(floor["sup"]).post(f"/admin/tickets/reassign?ids={ticket}", data={
        "ids": str(ticket), "team": "", "agent": "", "version": versions(app, [ticket])})
    assert response.headers["Location"].endswith(f"/admin/tickets/{ticket}/")
    assert rows(app, [ticket]) == [(floor["cuenta"], None, TicketStatus.NEW)]


@pytest.mark.parametrize("method", ["get", "post"])
def test_agent_cannot_reassign(app, floor, login_as, method):
    client = login_as(floor["teo"])
    ticket = floor["tickets"][0]
    path, data = f"/admin/tickets/reassign?ids={ticket}", {"ids": str(ticket),
                                                            "agent": str(floor["teo"])}
    if method == "get":
        response = client.get(path, data=data)
    else:  # no page offers him the form: a hand-made post with his session's token
        response = client.post(path, data=data, token_from="/admin/")
    assert response.status_code == 403
    client.post("/admin/tickets/action/", token_from="/admin/tickets/",  # no actions for him
                data={"action": "reassign", "rowid": [str(ticket)]})
    assert rows(app, [ticket]) == [(floor["cuenta"], floor["ana"], TicketStatus.OPEN)]
    with app.app_context(), pytest.raises(DomainError):
        workflows.reassign_ticket(db.session.get(Ticket, ticket), team=None,
                                  agent=db.session.get(User, floor["teo"]),
                                  actor=db.session.get(User, floor["teo"]))


def test_agent_of_another_team_is_refused_clearly(app, floor, login_as):
    ticket = floor["tickets"][0]
    response = login_as(floor["sup"]).post(f"/admin/tickets/reassign?ids={ticket}", data={
        "ids": str(ticket), "team": str(floor["cuenta"]), "agent": str(floor["teo"]),
        "version": versions(app, [ticket])}, follow_redirects=True)
    assert "Teo no pertenece al equipo Cuenta" in response.get_data(as_text=True)
    assert rows(app, [ticket]) == [(floor["cuenta"], floor["ana"], TicketStatus.OPEN)]


def test_reassign_button_only_for_supervisors(floor, login_as):
    ticket = floor["tickets"][0]
    assert 'data-testid="reassign"' in login_as(floor["sup"]).get(
        f"/admin/tickets/{ticket}/").get_data(as_text=True)
    assert 'data-testid="reassign"' not in login_as(floor["ana"]).get(
        f"/admin/tickets/{ticket}/").get_data(as_text=True)


# --- The dialog: availability and load; past capacity only knowingly, with a reason ------------


def test_the_dialog_shows_each_agents_availability_and_load(app, floor, login_as):
    with app.app_context(), workflows.atomic():
        db.session.get(User, floor["teo"]).capacity = 0  # full before anything arrives
    page = login_as(floor["sup"]).get(
        f"/admin/tickets/reassign?ids={floor['tickets'][0]}").get_data(as_text=True)
    assert "Ana (Cuenta) — Disponible · 3/10" in page
    assert "Teo (Técnico) — Disponible · 0/0 · al límite" in page
    assert f'data-testid="load-{floor["teo"]}" class="table-warning"' in page
    assert 'data-testid="reassign-reason"' in page


def test_past_capacity_needs_a_reason_then_goes_through_audited(app, floor, login_as):
    with app.app_context(), workflows.atomic():
        db.session.get(User, floor["teo"]).capacity = 1
    client, ids = login_as(floor["sup"]), floor["tickets"][:2]
    url = f"/admin/tickets/reassign?ids={','.join(map(str, ids))}"
    data = {"ids": ",".join(map(str, ids)), "team": str(floor["tecnico"]),
            "agent": str(floor["teo"]), "version": versions(app, ids)}
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert "Teo tendría 2 tickets abiertos y su capacidad es 1" in response.get_data(
        as_text=True)
    assert [r[1] for r in rows(app, ids)] == [floor["ana"], floor["ana"]]

    response = client.post(url, data={**data, "over_capacity": "  Cubre a Ana: baja hoy  "})
    assert response.status_code == 302
    assert [r[1] for r in rows(app, ids)] == [floor["teo"], floor["teo"]]
    with app.app_context():
        past = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "over_capacity")).all()
        assert db.session.get(User, floor["teo"]).open_tickets == 2
    assert [(a.ticket_id, a.actor_id, a.old_value, a.new_value, a.reason) for a in past] == [
        (ids[1], floor["sup"], "1/1", str(floor["teo"]), "Cubre a Ana: baja hoy")]
    text = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 tickets reasignados." in text


def test_a_reason_too_long_is_refused(app, floor, login_as):
    ticket = floor["tickets"][0]
    response = login_as(floor["sup"]).post(f"/admin/tickets/reassign?ids={ticket}", data={
        "ids": str(ticket), "team": "", "agent": str(floor["ana"]),
        "over_capacity": "x" * 501, "version": versions(app, [ticket])})
    assert response.status_code == 422
    assert rows(app, [ticket]) == [(floor["cuenta"], floor["ana"], TicketStatus.OPEN)]


def test_agents_never_go_past_capacity_reason_or_not(app, floor, make_ticket):
    extra = make_ticket("Uno más")
    with app.app_context(), workflows.atomic():
        ana = db.session.get(User, floor["ana"])
        ana.capacity = 3  # she holds 3
        db.session.get(Ticket, extra).team_id = floor["cuenta"]
    with app.app_context(), pytest.raises(workflows.CapacityExceeded,
                                          match="Ana no tiene capacidad libre"):
        ticket, ana = db.session.get(Ticket, extra), db.session.get(User, floor["ana"])
        workflows.assign_ticket(ticket, ana, actor=ana, reason="take",
                                over_capacity="me apetece")
    with app.app_context(), pytest.raises(workflows.CapacityExceeded,
                                          match="escribe el motivo"):
        sup = db.session.get(User, floor["sup"])
        workflows.reassign_ticket(db.session.get(Ticket, extra), team=None,
                                  agent=db.session.get(User, floor["ana"]), actor=sup)
    assert rows(app, [extra]) == [(floor["cuenta"], None, TicketStatus.NEW)]


def test_the_capacity_rule():
    from helpdesk import rules
    assert rules.capacity_refusal(Role.AGENT, open_tickets=2, capacity=3, reason=None) is None
    assert rules.capacity_refusal(Role.AGENT, open_tickets=3, capacity=3,
                                  reason="urgente") == rules.FULL
    assert rules.capacity_refusal(None, open_tickets=3, capacity=3, reason="x") == rules.FULL
    assert rules.capacity_refusal(Role.SUPERVISOR, open_tickets=3, capacity=3,
                                  reason="  ") == rules.NEEDS_REASON
    assert rules.capacity_refusal(Role.ADMIN, open_tickets=9, capacity=3,
                                  reason="guardia") is None
