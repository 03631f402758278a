"""Customer-written text (and anything else typed into the desk) is always escaped: the queue,
search, the ticket page, the customer list, the preview JSON and the templates' JSON block."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest

from helpdesk import rules, workflows
from helpdesk.extensions import db
from helpdesk.models import AccountEvent, ResponseTemplate, Role, Ticket, User

from .pages import parse

ROOT = Path(__file__).resolve().parent.parent

NAME = "<img src=x onerror=alert(1)>"
SUBJECT = '<script>alert("s")</script>'
BODY = "<svg onload=alert(2)>"
REPLY = 'Hecho "><b onmouseover=alert(3)>'
NOTE = 'Nota "><b onmouseover=alert(3)>'
EVENT = "<iframe src=javascript:alert(4)>"
DEVICE = "<video src=x onerror=alert(5)>"
PLAN = "<u>Premium</u>"
AGENT = "<i onmouseover=alert(6)>Eve</i>"
TEMPLATE_NAME = "<marquee>Plantilla</marquee>"
TEMPLATE_BODY = "</script><script>alert(1)</script> Hola {{ cliente.nombre }}"

#: Raw markup that must never reach a page: what an attacker's text would become in the DOM.
RAW = ("<img src=x", "<script>alert", "<svg onload", "<b onmouseover", '"><b onmouseover',
       "<iframe src=javascript", "<video src=x", "<u>Premium", "<i onmouseover",
       "<marquee>", "</script><script>alert")


@pytest.fixture
def hostile(app, make_team, make_user, make_customer, make_ticket):
    """A customer, ticket, thread, account history and template full of markup."""
    team = make_team("Cuenta")
    viewer = make_user(Role.AGENT, teams=[team], name="Ana Agente")
    eve = make_user(Role.AGENT, name=AGENT)
    customer = make_customer(name=NAME, email="evil@example.com", plan=PLAN,
                             devices=[DEVICE, "iPhone"], subscription_state="<s>activa</s>")
    earlier = make_ticket(SUBJECT, BODY, customer_id=customer)
    ticket = make_ticket(SUBJECT, BODY, customer_id=customer)  # no team: every agent sees it
    with app.app_context(), workflows.atomic():
        db.session.add(AccountEvent(customer_id=customer, kind="login", description=EVENT,
                                    occurred_at=rules.utcnow() - timedelta(hours=3)))
        template = ResponseTemplate(name=TEMPLATE_NAME, locale="es", body=TEMPLATE_BODY)
        db.session.add(template)
        db.session.flush()
        template_id = template.id
    with app.app_context(), workflows.atomic():
        t = db.session.get(Ticket, ticket)
        author = db.session.get(User, eve)
        workflows.add_reply(t, REPLY, actor=author)  # Eve takes it: an "assign" event too
        workflows.add_note(t, NOTE, actor=author)
    return {"viewer": viewer, "ticket": ticket, "earlier": earlier, "customer": customer,
            "template": template_id}


def assert_escaped(html: str, *expected: str) -> None:
    """No raw payload anywhere; each expected payload is on the page in escaped form."""
    for raw in RAW:
        assert raw not in html, f"unescaped {raw!r}"
    for text in expected:
        escaped = (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
        assert re.search(re.escape(escaped).replace('"', '(?:"|&#34;|&quot;)'), html), \
            f"{text!r} is not on the page in escaped form"


def get(client, path, **kwargs) -> str:
    response = client.get(path, **kwargs)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_queue_list_escapes_subject_and_customer(hostile, login_as):
    html = get(login_as(hostile["viewer"]), "/admin/tickets/")
    assert f'href="/admin/tickets/{hostile["ticket"]}/"' in html
    assert_escaped(html, SUBJECT, NAME, AGENT)


def test_search_results_escape_text_and_the_search_term(hostile, login_as):
    client = login_as(hostile["viewer"])
    html = get(client, "/admin/tickets/", query_string={"search": "alert"})
    assert_escaped(html, SUBJECT, NAME)
    echoed = get(client, "/admin/tickets/", query_string={"search": BODY})
    assert_escaped(echoed, BODY)  # the term is echoed in the search box, escaped


def test_ticket_page_escapes_every_customer_field(hostile, login_as):
    html = get(login_as(hostile["viewer"]), f"/admin/tickets/{hostile['ticket']}/")
    assert_escaped(html, SUBJECT, BODY, NAME, REPLY, NOTE, EVENT, DEVICE, PLAN, AGENT,
                   TEMPLATE_NAME, "<s>activa</s>")
    title = parse(html).one("title")
    assert not title.children and "<script>" in title.text  # text, not an element


def test_templates_json_block_cannot_be_broken_out_of(hostile, login_as):
    html = get(login_as(hostile["viewer"]), f"/admin/tickets/{hostile['ticket']}/")
    opening = '<script type="application/json" id="hd-templates">'
    assert html.count(opening) == 1
    block = html.split(opening, 1)[1].split("</script>", 1)[0]  # where the browser ends it
    assert "<" not in block and ">" not in block
    templates = json.loads(block)
    assert {"id": hostile["template"], "name": TEMPLATE_NAME, "body": TEMPLATE_BODY} in templates
    assert "</script><script>alert(1)" not in html


def test_ticket_details_view_escapes(hostile, login_as):
    html = get(login_as(hostile["viewer"]), f"/admin/tickets/details/?id={hostile['ticket']}")
    assert_escaped(html, SUBJECT, NAME)


def test_customer_list_escapes(hostile, login_as):
    html = get(login_as(hostile["viewer"]), "/admin/customers/")
    assert_escaped(html, NAME, PLAN)


def test_template_list_escapes(hostile, make_user, login_as):
    supervisor = make_user(Role.SUPERVISOR)
    html = get(login_as(supervisor), "/admin/templates/")
    assert_escaped(html, TEMPLATE_NAME)


def test_preview_is_json_the_editor_puts_into_text(hostile, login_as):
    client = login_as(hostile["viewer"])
    # as ticket.js does: the token from the script's data-csrf, in the X-CSRFToken header
    page = parse(client.get(f"/admin/tickets/{hostile['ticket']}/"))
    headers = {"X-CSRFToken": page.one("script", id="hd-ticket-script").attrs["data-csrf"]}
    assert headers["X-CSRFToken"]
    response = client.post(f"/admin/tickets/{hostile['ticket']}/preview", csrf=False,
                           headers=headers, data={"body": "{{ cliente.nombre }} " + BODY})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"ok": True, "text": f"{NAME} {BODY}"}

    problem = client.post(f"/admin/tickets/{hostile['ticket']}/preview", csrf=False,
                          headers=headers, data={"body": "{{ cliente['" + NAME + "'] }}"})
    assert problem.mimetype == "application/json"
    assert problem.get_json()["ok"] is False

    script = (ROOT / "static" / "ticket.js").read_text()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "boxText.textContent = result.text" in script
    assert "errorBox.textContent = result.error" in script


def test_flashed_refusal_escapes_names(app, hostile, make_user, login_as):
    """A refusal quoting a person's name (here: the ticket is Eve's) is flashed escaped."""
    client = login_as(hostile["viewer"])
    with app.app_context():
        version = db.session.get(Ticket, hostile["ticket"]).version
    response = client.post(f"/admin/tickets/{hostile['ticket']}/take",
                           data={"version": version},  # a Tomar button gone stale
                           token_from=f"/admin/tickets/{hostile['ticket']}/")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "ya está asignado a" in unescape(html)
    assert_escaped(html, AGENT)
