"""Reply templates are offered in the ticket's language, the agent's own as the fallback."""

from __future__ import annotations

import json
import re

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import ResponseTemplate, Role, Ticket


def offered(client, ticket_id: int) -> list[str]:
    html = client.get(f"/admin/tickets/{ticket_id}/").get_data(as_text=True)
    data = re.search(r'<script type="application/json" id="hd-templates">(.*?)</script>', html,
                     re.S).group(1)
    return [t["name"] for t in json.loads(data)]


def test_templates_follow_the_tickets_language_then_the_agents(app, login_as, make_user,
                                                                make_ticket):
    english, unknown = make_ticket(), make_ticket()
    with app.app_context(), workflows.atomic():
        db.session.add_all([ResponseTemplate(name="Saludo", body="Hola", locale="es"),
                            ResponseTemplate(name="Greeting", body="Hello", locale="en")])
        db.session.get(Ticket, english).language = "en"
        db.session.get(Ticket, unknown).language = "pt"
    client = login_as(make_user(Role.SUPERVISOR))  # a Spanish-speaking agent
    assert offered(client, english) == ["Greeting"]
    assert offered(client, unknown) == ["Saludo"]
