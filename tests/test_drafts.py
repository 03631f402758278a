"""Drafts: a rejected reply keeps its text in the reply box and never in the internal-note
box; the ticket page loads the drafts script (the browser test covers reload and sending)."""

from __future__ import annotations

from helpdesk.models import Role
from tests.pages import parse


def test_a_rejected_reply_stays_out_of_the_note_box(app, login_as, make_user, make_ticket):
    ticket = make_ticket()
    client = login_as(make_user(Role.SUPERVISOR))
    page = f"/admin/tickets/{ticket}/"
    response = client.post(f"{page}reply", page=page, data={
        "body": "Hola {{ cliente.nombre", "status": "pending", "version": "1"})
    assert response.status_code in (400, 409)
    doc = parse(response)
    assert "Hola {{ cliente.nombre" in doc.testid("reply-body").text
    assert doc.testid("note-body").text.strip() == ""


def test_a_rejected_note_stays_out_of_the_reply_box(app, login_as, make_user, make_ticket):
    ticket = make_ticket()
    client = login_as(make_user(Role.SUPERVISOR))
    page = f"/admin/tickets/{ticket}/"
    response = client.post(f"{page}note", page=page, data={"body": "x" * 10_001,
                                                           "version": "1"})
    assert response.status_code == 422  # the form failed validation
    doc = parse(response)
    assert doc.testid("reply-body").text.strip() == ""


def test_the_ticket_page_carries_the_drafts_script(app, login_as, make_user, make_ticket):
    ticket = make_ticket()
    user = make_user(Role.SUPERVISOR)
    html = login_as(user).get(f"/admin/tickets/{ticket}/").get_data(as_text=True)
    assert 'src="/static/drafts.js"' in html
    assert f'data-user="{user}" data-ticket="{ticket}"' in html
