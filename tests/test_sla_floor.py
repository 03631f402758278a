"""The approaching-deadline floor: a deadline turns amber with a share of its target left or
the policy's minutes left, whichever comes first — one rule (rules.sla_clock) behind the stored
warning time that the queue badge, the ticket page and the sweep all read."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from helpdesk import rules, workflows
from helpdesk.extensions import db
from helpdesk.models import Customer, Priority, Role, SlaPolicy, SlaState, Ticket


@pytest.mark.parametrize(("target", "floor", "after"), [
    (60, 30, 30),     # Urgente: 25 % would be 15 minutes; the floor makes it 30
    (240, 30, 180),   # Alta: 25 % (60 minutes) comes first
    (60, None, 45),   # no floor: the share alone
    (20, 30, 0),      # a floor longer than the target: amber from the start
])
def test_the_earlier_of_the_share_and_the_floor(target, floor, after):
    assert rules.warn_after(target, 0.25, floor) == after


def create(app, customer_id, priority, minutes_ago):
    with app.app_context(), workflows.atomic():
        ticket = workflows.create_ticket(
            db.session.get(Customer, customer_id), "Sin imagen", "Pantalla negra", actor=None,
            priority=priority, now=rules.utcnow() - timedelta(minutes=minutes_ago))
        return ticket.id


def state(app, ticket_id):
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        return ticket.sla_state, ticket.sla_warn_at, ticket.sla_due_at


def test_an_urgent_ticket_twenty_minutes_from_breach_is_highlighted(app, make_customer,
                                                                    make_user, login_as):
    ticket_id = create(app, make_customer(), Priority.URGENT, minutes_ago=40)
    sla, warn_at, due = state(app, ticket_id)
    assert sla is SlaState.APPROACHING
    assert due - warn_at == timedelta(minutes=30)
    client = login_as(make_user(Role.SUPERVISOR))
    html = client.get("/admin/tickets/").get_data(as_text=True)
    start = html.index(f'href="/admin/tickets/{ticket_id}/"')
    row = html[start:html.index("</tr>", start)]
    assert "hd-sla-approaching" in row
    page = client.get(f"/admin/tickets/{ticket_id}/").get_data(as_text=True)
    assert "hd-sla-approaching" in page


def test_the_sweep_turns_it_amber_at_the_floor(app, make_customer):
    ticket_id = create(app, make_customer(), Priority.URGENT, minutes_ago=25)  # 35 min left
    sla, warn_at, due = state(app, ticket_id)
    assert sla is SlaState.OK
    with app.app_context(), workflows.atomic():
        assert workflows.sweep_sla_states(due - timedelta(minutes=31)) == 0
    with app.app_context(), workflows.atomic():
        assert workflows.sweep_sla_states(due - timedelta(minutes=29)) == 1
    assert state(app, ticket_id)[0] is SlaState.APPROACHING


def test_each_policy_sets_its_floor(app, make_customer):
    with app.app_context(), workflows.atomic():
        db.session.add(SlaPolicy(priority=Priority.URGENT, first_response_minutes=60,
                                 warn_minutes=0))
        db.session.add(SlaPolicy(priority=Priority.HIGH, first_response_minutes=240,
                                 warn_minutes=120))
    share_only = create(app, make_customer(), Priority.URGENT, minutes_ago=40)  # 20 left
    assert state(app, share_only)[0] is SlaState.OK
    floor = create(app, make_customer(), Priority.HIGH, minutes_ago=130)  # 110 left
    sla, warn_at, due = state(app, floor)
    assert sla is SlaState.APPROACHING and due - warn_at == timedelta(minutes=120)


def test_supervisors_set_the_floor_and_bad_values_are_refused(app, make_user, login_as):
    client = login_as(make_user(Role.SUPERVISOR))
    form = {"priority": "urgent", "first_response_minutes": "60", "warn_minutes": "45"}
    response = client.post("/admin/sla/new/", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    with app.app_context():
        assert db.session.scalar(select(SlaPolicy.warn_minutes)) == 45
    refused = client.post("/admin/sla/new/", data={**form, "priority": "high",
                                                         "warn_minutes": "-5"})
    assert refused.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(SlaPolicy.id).where(
            SlaPolicy.priority == Priority.HIGH)) is None
