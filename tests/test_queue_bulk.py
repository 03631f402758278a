"""The queue's bulk actions — Tomar, Cambiar estado, Cambiar prioridad, Reasignar — each ticket
through its workflow with its audit rows; the answer counts what changed and what was refused
and why, in the viewer's language with the right plural forms."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import AuditEntry, Priority, Role, Ticket, TicketStatus, User


@pytest.fixture
def desk(app, make_team, make_user, make_ticket):
    """Team Cuenta (Ana, agent, capacity 2; Sergio, supervisor) and team Otro; tickets: two
    new unassigned of Cuenta, one Cuenta open of Sergio, one resolved (unassigned) of Cuenta,
    one of Otro (Ana cannot see it)."""
    cuenta, otro = make_team("Cuenta"), make_team("Otro")
    ana = make_user(Role.AGENT, teams=[cuenta], name="Ana", capacity=2)
    sergio = make_user(Role.SUPERVISOR, teams=[cuenta], name="Sergio", capacity=50)
    ids = {name: make_ticket(f"Ticket {name}") for name in
           ("new1", "new2", "open", "resolved", "other")}
    with app.app_context(), workflows.atomic():
        for name, ticket_id in ids.items():
            db.session.get(Ticket, ticket_id).team_id = otro if name == "other" else cuenta
        db.session.flush()
        boss = db.session.get(User, sergio)
        for name in ("open",):
            workflows.assign_ticket(db.session.get(Ticket, ids[name]), boss, actor=None,
                                    reason="test")
        resolved = db.session.get(Ticket, ids["resolved"])
        resolved.status = TicketStatus.RESOLVED
    return {"cuenta": cuenta, "otro": otro, "ana": ana, "sergio": sergio, **ids}


def rows(app, ids):
    with app.app_context():
        return {t.id: (t.status, t.priority, t.assignee_id) for t in db.session.scalars(
            select(Ticket).where(Ticket.id.in_(ids)))}


def versions(app, ids) -> str:
    with app.app_context():
        return ",".join(str(t.version) for t in db.session.scalars(
            select(Ticket).where(Ticket.id.in_(ids)).order_by(Ticket.id)))


def flashed(client, response) -> str:
    """The page the answer redirected to, as text (its flash message is on it)."""
    assert response.status_code == 302, response.status_code
    return html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))


def bulk_action(client, action: str, ids):
    return client.post("/admin/tickets/action/", page="/admin/tickets/",
                       data={"action": action, "rowid": [str(i) for i in ids]})


def test_bulk_take_counts_taken_and_says_why_others_were_refused(app, desk, login_as):
    client = login_as(desk["ana"])
    ids = [desk["new1"], desk["new2"], desk["open"], desk["resolved"], desk["other"]]
    text = flashed(client, bulk_action(client, "take", ids))
    assert "2 tickets tomados; 2 rechazados — " in text
    assert f"#{desk['open']}: Este ticket ya está asignado a Sergio." in text
    assert f"#{desk['resolved']}: Un ticket resuelto no se puede tomar" in text
    assert f"#{desk['other']}" not in text  # not hers to see: not even named
    after = rows(app, ids)
    assert after[desk["new1"]][2] == after[desk["new2"]][2] == desk["ana"]
    assert after[desk["other"]][2] is None and after[desk["open"]][2] == desk["sergio"]
    with app.app_context():
        takes = db.session.scalars(select(AuditEntry.ticket_id).where(
            AuditEntry.actor_id == desk["ana"], AuditEntry.reason == "take",
            AuditEntry.field == "assignee")).all()
    assert sorted(takes) == sorted([desk["new1"], desk["new2"]])


def test_bulk_take_stops_at_capacity_one_ticket_at_a_time(app, desk, login_as, make_ticket):
    extra = make_ticket("Ticket extra")
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, extra).team_id = desk["cuenta"]
    client = login_as(desk["ana"])  # capacity 2: the third is refused, the first two stay
    text = flashed(client, bulk_action(client, "take", [desk["new1"], desk["new2"], extra]))
    assert "2 tickets tomados; 1 rechazado — " in text
    assert f"#{extra}: Ana no tiene capacidad libre." in text
    assert rows(app, [extra])[extra][2] is None


def test_bulk_status_follows_the_allowed_transitions(app, desk, login_as):
    client = login_as(desk["sergio"])
    ids = [desk["open"], desk["resolved"], desk["new1"]]
    response = bulk_action(client, "status", ids)
    assert response.headers["Location"].startswith("/admin/tickets/bulk/status?ids=")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="bulk-form"' in page
    response = client.post(response.headers["Location"], data={
        "ids": ",".join(map(str, sorted(ids))), "value": "pending",
        "version": versions(app, ids)})
    text = flashed(client, response)
    assert "1 ticket cambiado; 2 rechazados — " in text
    assert f"#{desk['resolved']}: Un ticket resuelto no puede pasar a pendiente." in text
    assert f"#{desk['new1']}: Un ticket nuevo no puede pasar a pendiente." in text
    after = rows(app, ids)
    assert after[desk["open"]][0] is TicketStatus.PENDING
    assert after[desk["resolved"]][0] is TicketStatus.RESOLVED
    with app.app_context():
        audit = db.session.scalars(select(AuditEntry).where(
            AuditEntry.ticket_id == desk["open"], AuditEntry.action == "status",
            AuditEntry.actor_id == desk["sergio"])).one()
    assert (audit.old_value, audit.new_value) == ("open", "pending")


def test_bulk_priority_changes_each_and_counts_those_already_so(app, desk, login_as):
    client = login_as(desk["ana"])
    ids = [desk["new1"], desk["new2"], desk["open"]]
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, desk["new2"]).priority = Priority.URGENT
    url = f"/admin/tickets/bulk/priority?ids={','.join(map(str, ids))}"
    response = client.post(url, data={"ids": ",".join(map(str, ids)), "value": "urgent",
                                      "version": versions(app, ids)})
    text = flashed(client, response)
    assert "2 tickets cambiados; 1 ya estaba así." in text
    assert {v[1] for v in rows(app, ids).values()} == {Priority.URGENT}
    with app.app_context():
        changed = db.session.scalars(select(AuditEntry.ticket_id).where(
            AuditEntry.action == "priority", AuditEntry.actor_id == desk["ana"])).all()
    assert sorted(changed) == sorted([desk["new1"], desk["open"]])


def test_a_ticket_moved_meanwhile_refuses_the_whole_batch(app, desk, login_as):
    client = login_as(desk["sergio"])
    ids = [desk["new1"], desk["new2"]]
    seen = versions(app, ids)
    with app.app_context(), workflows.atomic():  # someone else reprioritises one meanwhile
        workflows.change_priority(db.session.get(Ticket, desk["new2"]), Priority.LOW,
                                  actor=db.session.get(User, desk["sergio"]))
    response = client.post(f"/admin/tickets/bulk/priority?ids={desk['new1']},{desk['new2']}",
                           data={"ids": f"{desk['new1']},{desk['new2']}", "value": "high",
                                 "version": seen})
    assert response.status_code == 409
    assert f"#{desk['new2']}" in html.unescape(response.get_data(as_text=True))
    assert rows(app, [desk["new1"]])[desk["new1"]][1] is Priority.NORMAL


@pytest.mark.parametrize("value", ["resolved", "new", "zzz", ""])
def test_bad_values_are_refused_and_change_nothing(app, desk, login_as, value):
    client = login_as(desk["sergio"])
    before = rows(app, [desk["open"]])
    url = f"/admin/tickets/bulk/status?ids={desk['open']}"
    response = client.post(url, data={"ids": str(desk["open"]), "value": value,
                                      "version": versions(app, [desk["open"]])})
    assert response.status_code == 422
    assert "Revisa el formulario" in html.unescape(response.get_data(as_text=True))
    assert rows(app, [desk["open"]]) == before


def test_unknown_bulk_kind_and_invisible_tickets(app, desk, login_as):
    client = login_as(desk["ana"])
    assert client.get(f"/admin/tickets/bulk/assignee?ids={desk['new1']}").status_code == 404
    response = client.get(f"/admin/tickets/bulk/priority?ids={desk['other']}")
    assert response.status_code == 302  # nothing of hers selected: back to the queue


def test_answers_in_english_with_english_plurals(app, desk, login_as):
    with app.app_context(), workflows.atomic():
        db.session.get(User, desk["ana"]).locale = "en"
    client = login_as(desk["ana"])
    text = flashed(client, bulk_action(client, "take", [desk["new1"], desk["open"]]))
    assert "1 ticket taken; 1 refused — " in text
    text = flashed(client, bulk_action(client, "take", [desk["new2"]]))
    assert "1 ticket taken." in text


def test_spanish_singular(app, desk, login_as):
    client = login_as(desk["ana"])
    text = flashed(client, bulk_action(client, "take", [desk["new1"]]))
    assert "1 ticket tomado." in text and "tickets tomados" not in text
