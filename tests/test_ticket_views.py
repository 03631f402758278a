"""The ticket page and the queue over HTTP: what an agent sees, what each form post does,
two agents on one ticket, refusals that change nothing, tabs, filters, paging, SLA and search."""

from __future__ import annotations

import json
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_datetime
from sqlalchemy import func, select

from helpdesk import rules, workflows
from helpdesk.extensions import db
from helpdesk.models import (
    AccountEvent,
    AuditEntry,
    Channel,
    Message,
    MessageKind,
    Priority,
    ResponseTemplate,
    Role,
    SlaState,
    Ticket,
    TicketStatus,
    User,
)
from tests.closing import resolve

from .pages import Element, flashes, form_fields, parse


def reply_form(page: Element) -> dict[str, str]:
    return form_fields(page.one("form", id="hd-reply-form"))


# --- Fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def desk(app, make_team, make_user, make_customer, make_ticket, make_category):
    """Team Cuenta with Ana and Luis; Lucía's new high-priority ticket routed to Cuenta."""
    team = make_team("Cuenta")
    ana = make_user(Role.AGENT, teams=[team], name="Ana Agente", email="ana@test.bayit")
    luis = make_user(Role.AGENT, teams=[team], name="Luis Agente", email="luis@test.bayit")
    category = make_category("acceso", team_id=team)
    customer = make_customer(
        name="Lucía Pérez", email="lucia@example.com", plan="Premium",
        subscription_state="activa", country="AR", devices=["Android TV", "iPhone 13"],
        billing_state="al día", member_since=date(2021, 3, 5))
    earlier = make_ticket("Cobro duplicado en marzo", "Me cobraron dos veces.",
                          customer_id=customer)
    ticket = make_ticket("No puedo entrar", "Me pide la contraseña una y otra vez.",
                         customer_id=customer, category_id=category, priority=Priority.HIGH,
                         channel=Channel.EMAIL)
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, ticket).team_id = team
        db.session.get(Ticket, earlier).team_id = team
        db.session.add(AccountEvent(customer_id=customer, kind="payment",
                                    description="Pago rechazado: tarjeta caducada",
                                    occurred_at=rules.utcnow() - timedelta(days=2)))
    return {"team": team, "ana": ana, "luis": luis, "customer": customer, "ticket": ticket,
            "earlier": earlier, "category": category}


def act(app, fn, ticket_id, user_id, *args, **kwargs):
    """Run one workflow the way a view does: load, act, commit once."""
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, ticket_id)
        return fn(ticket, *args, actor=db.session.get(User, user_id), **kwargs)


def snapshot(app, ticket_id) -> dict:
    with app.app_context():
        t = db.session.get(Ticket, ticket_id)
        return {"status": t.status, "assignee": t.assignee_id, "version": t.version,
                "first_response_at": t.first_response_at,
                "messages": [(m.kind, m.body) for m in t.messages]}


def version_of(app, ticket_id) -> int:
    return snapshot(app, ticket_id)["version"]


def url(ticket_id: int, action: str = "") -> str:
    return f"/admin/tickets/{ticket_id}/{action}"


# --- The ticket page ----------------------------------------------------------------------------


def test_ticket_page_shows_header_thread_and_account(app, desk, login_as):
    act(app, workflows.take_ticket, desk["ticket"], desk["ana"])
    act(app, workflows.add_note, desk["ticket"], desk["ana"], "Cliente VIP, revisar pagos")
    with app.app_context():
        ticket = db.session.get(Ticket, desk["ticket"])
        created = ticket.created_at
        category_name = ticket.category.name

    response = login_as(desk["ana"]).get(url(desk["ticket"]))
    assert response.status_code == 200
    page = parse(response)

    header = page.testid("ticket-header")
    assert f"#{desk['ticket']} No puedo entrar" in header.one("h4").text
    assert page.testid("ticket-status").text == "Abierto"
    assert "Alta" in header.text
    facts = {dt.text: dd.text for dt, dd in zip(header.select("dt"), header.select("dd"),
                                                strict=True)}
    assert facts["Categoría"] == category_name
    assert facts["Equipo"] == "Cuenta"
    assert facts["Asignado a"] == "Ana Agente"
    assert facts["Canal"] == "Correo"
    madrid = ZoneInfo("Europe/Madrid")
    assert facts["Creado"] == format_datetime(created, "short", tzinfo=madrid, locale="es")
    countdown = page.testid("sla-countdown").text
    assert countdown.startswith("vence en ") and "hora" in countdown  # high: 4 h to answer

    thread = page.testid("thread").select("li")
    kinds = [li.attrs["data-kind"] for li in thread]
    assert kinds[0] == "customer" and kinds[-1] == "note" and "event" in kinds[1:-1]
    assert "Lucía Pérez" in thread[0].text
    assert "Me pide la contraseña una y otra vez." in thread[0].text
    events = " | ".join(li.text for li in thread if li.attrs["data-kind"] == "event")
    assert "Ana Agente asignó el ticket a Ana Agente" in events
    assert "Ana Agente cambió el estado a Abierto" in events
    note = thread[-1]
    assert "hd-msg-note" in note.classes
    assert note.testid("internal-note").text == "Nota interna"
    assert "Cliente VIP, revisar pagos" in note.text and "Ana Agente" in note.text

    account = page.testid("account")
    facts = {dt.text: dd.text for dt, dd in zip(account.select("dt"), account.select("dd"),
                                                strict=True)}
    assert "Lucía Pérez" in account.text and "lucia@example.com" in account.text
    assert facts == {
        "Plan": "Premium", "Suscripción": "Activa", "País": "Argentina",
        "Dispositivos": "Android TV, iPhone 13", "Facturación": "al día",
        "Cliente desde": format_date(date(2021, 3, 5), "medium", locale="es"),
    }
    history = page.testid("history-tickets")
    assert f"#{desk['earlier']} Cobro duplicado en marzo" in history.text
    assert f"#{desk['ticket']} " not in history.text  # not the ticket being viewed
    assert "Pago rechazado: tarjeta caducada" in page.testid("history-events").text


def test_thread_is_in_time_order(app, desk, login_as):
    act(app, workflows.add_note, desk["ticket"], desk["ana"], "primero")
    act(app, workflows.add_reply, desk["ticket"], desk["ana"], "segundo")
    act(app, workflows.add_note, desk["ticket"], desk["ana"], "tercero")
    page = parse(login_as(desk["ana"]).get(url(desk["ticket"])))
    bodies = [li.one("div", cls="hd-body").text
              for li in page.testid("thread").select("li", cls="hd-msg")]
    assert bodies == ["Me pide la contraseña una y otra vez.", "primero", "segundo", "tercero"]


def test_thread_after_replying_to_an_unassigned_ticket_reads_in_order(app, desk, login_as):
    """Reply to a new ticket: it is assigned (Abierto), then the reply leaves it Pendiente."""
    client = login_as(desk["ana"])
    response = client.post(url(desk["ticket"], "reply"), data={
        "body": "Ya lo miro.", "status": "pending", "version": version_of(app, desk["ticket"])},
        page=url(desk["ticket"]))
    assert response.status_code == 302
    page = parse(client.get(url(desk["ticket"])))
    assert page.testid("ticket-status").text == "Pendiente"
    lines = [li.text.split(" · ")[0] if li.attrs["data-kind"] == "event"
             else li.attrs["data-kind"] for li in page.testid("thread").select("li")]
    expected = ["customer", "Ana Agente asignó el ticket a Ana Agente",
                "Ana Agente cambió el estado a Abierto", "reply",
                "Ana Agente cambió el estado a Pendiente"]
    assert lines == expected


# --- Replying -----------------------------------------------------------------------------------


def test_reply_over_http_waits_for_the_customer(app, desk, login_as):
    client = login_as(desk["ana"])
    fields = reply_form(parse(client.get(url(desk["ticket"]))))
    assert fields["version"] == str(version_of(app, desk["ticket"]))
    response = client.post(url(desk["ticket"], "reply"), data={
        "body": "Hola {{ cliente.nombre }}, ya puedes entrar.", "status": "pending",
        "template_id": "", "version": fields["version"]})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == url(desk["ticket"])

    after = snapshot(app, desk["ticket"])
    assert after["status"] is TicketStatus.PENDING
    assert after["first_response_at"] is not None and after["assignee"] == desk["ana"]
    assert (MessageKind.REPLY, "Hola Lucía Pérez, ya puedes entrar.") in after["messages"]
    page = parse(client.get(url(desk["ticket"])))
    assert page.testid("ticket-status").text == "Pendiente"
    assert "Respuesta enviada al cliente." in flashes(page)


def test_reply_with_a_template_counts_its_use(app, desk, login_as):
    with app.app_context(), workflows.atomic():
        template = ResponseTemplate(name="Acceso", locale="es", category_id=desk["category"],
                                    body="Hola {{ cliente.nombre }}, revisa tu correo.")
        db.session.add(template)
        db.session.flush()
        template_id = template.id
    client = login_as(desk["ana"])
    page = parse(client.get(url(desk["ticket"])))
    assert page.testid(f"template-{template_id}").text == "Acceso"
    response = client.post(url(desk["ticket"], "reply"), data={
        "body": "Hola {{ cliente.nombre }}, revisa tu correo.", "status": "pending",
        "template_id": str(template_id), "version": reply_form(page)["version"]})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(ResponseTemplate, template_id).times_used == 1
        assert db.session.scalar(select(AuditEntry.reason).where(
            AuditEntry.ticket_id == desk["ticket"], AuditEntry.action == "reply")) == \
            f"template:{template_id}"
    assert (MessageKind.REPLY, "Hola Lucía Pérez, revisa tu correo.") in snapshot(
        app, desk["ticket"])["messages"]


def test_reply_naming_a_template_that_no_longer_exists_is_refused(app, desk, login_as):
    """The editor's template id is checked like any select: a deleted (or invented) template
    is refused with a message, nothing sent, the text kept."""
    client = login_as(desk["ana"])
    page = parse(client.get(url(desk["ticket"])))
    before = snapshot(app, desk["ticket"])
    response = client.post(url(desk["ticket"], "reply"), data={
        "body": "Hola, revisa tu correo.", "status": "pending", "template_id": "999999",
        "version": reply_form(page)["version"]})
    assert response.status_code == 400
    assert "La opción elegida ya no existe; recarga la página." in flashes(parse(response))
    assert "Hola, revisa tu correo." in response.get_data(as_text=True)
    assert snapshot(app, desk["ticket"]) == before


def test_priority_change_is_told_in_the_thread(app, desk, login_as):
    client = login_as(desk["ana"])
    act(app, workflows.take_ticket, desk["ticket"], desk["ana"])
    client.get(url(desk["ticket"]))
    response = client.post(url(desk["ticket"], "priority"), data={
        "priority": "urgent", "version": version_of(app, desk["ticket"])})
    assert response.status_code == 302
    page = client.get(url(desk["ticket"])).get_data(as_text=True)
    assert "Ana Agente cambió la prioridad a Urgente" in page


def test_reply_keeping_it_open(app, desk, login_as):
    client = login_as(desk["ana"])
    response = client.post(url(desk["ticket"], "reply"), data={
        "body": "Lo sigo revisando.", "status": "open", "template_id": "",
        "version": version_of(app, desk["ticket"])}, page=url(desk["ticket"]))
    assert response.status_code == 302
    assert snapshot(app, desk["ticket"])["status"] is TicketStatus.OPEN


def test_two_agents_reply_from_the_same_page_version(app, desk, login_as):
    ana, luis = login_as(desk["ana"]), login_as(desk["luis"])
    seen_by_ana = reply_form(parse(ana.get(url(desk["ticket"]))))["version"]
    seen_by_luis = reply_form(parse(luis.get(url(desk["ticket"]))))["version"]
    assert seen_by_ana == seen_by_luis

    first = ana.post(url(desk["ticket"], "reply"), data={
        "body": "Te ayudo ahora mismo.", "status": "pending", "version": seen_by_ana})
    assert first.status_code == 302
    after_ana = snapshot(app, desk["ticket"])

    late = luis.post(url(desk["ticket"], "reply"), data={
        "body": "Yo también lo estaba mirando.", "status": "pending", "version": seen_by_luis})
    assert late.status_code == 409
    page = parse(late)
    message = flashes(page)
    assert "Ana Agente añadió una respuesta" in message
    assert "tu texto sigue en el formulario" in message
    form = reply_form(page)
    assert form["body"].strip() == "Yo también lo estaba mirando."
    assert form["version"] == str(after_ana["version"]) != seen_by_luis
    assert "Te ayudo ahora mismo." in page.testid("thread").text  # the change is on screen
    assert snapshot(app, desk["ticket"]) == after_ana  # nothing of Luis's was saved

    resend = luis.post(url(desk["ticket"], "reply"), data={
        "body": form["body"], "status": form["status"], "version": form["version"]})
    assert resend.status_code == 302
    replies = [body for kind, body in snapshot(app, desk["ticket"])["messages"]
               if kind is MessageKind.REPLY]
    assert replies == ["Te ayudo ahora mismo.", "Yo también lo estaba mirando."]


# --- Bad input changes nothing ------------------------------------------------------------------


@pytest.mark.parametrize(("body", "message", "status"), [
    ("", "Escribe la respuesta.", 422),  # the form fails validation
    ("x" * (workflows.REPLY_MAX + 1), "Revisa el formulario", 422),
    ("Hola {{ cliente.apellido }}", "Marcador desconocido: apellido", 400),  # the domain refuses
])
def test_bad_reply_is_refused_and_keeps_the_text(app, desk, login_as, body, message, status):
    before = snapshot(app, desk["ticket"])
    response = login_as(desk["ana"]).post(url(desk["ticket"], "reply"), data={
        "body": body, "status": "pending", "version": before["version"]}, page=url(desk["ticket"]))
    assert response.status_code == status
    page = parse(response)
    assert message in flashes(page)
    assert reply_form(page)["body"] == body
    assert snapshot(app, desk["ticket"]) == before


def test_blank_reply_of_spaces_is_refused(app, desk, login_as):
    before = snapshot(app, desk["ticket"])
    response = login_as(desk["ana"]).post(url(desk["ticket"], "reply"), data={
        "body": "   \n  ", "status": "pending", "version": before["version"]},
        page=url(desk["ticket"]))
    assert response.status_code == 400
    assert flashes(parse(response))
    assert snapshot(app, desk["ticket"]) == before


def test_reply_to_unknown_ticket_is_404(app, desk, login_as):
    response = login_as(desk["ana"]).post(url(999_999, "reply"), data={
        "body": "Hola", "status": "pending", "version": "1"}, token_from=url(desk["ticket"]))
    assert response.status_code == 404
    assert "no existe" in response.get_data(as_text=True)


def test_reply_to_another_teams_ticket_is_404(app, desk, login_as, make_team, make_user,
                                              make_ticket):
    other = make_team("Facturación")
    olga = make_user(Role.AGENT, teams=[other], name="Olga Otra")
    hidden = make_ticket("Factura", "No me llega la factura.")
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, hidden).team_id = other
    act(app, workflows.take_ticket, hidden, olga)
    before = snapshot(app, hidden)
    client = login_as(desk["ana"])
    assert client.get(url(hidden)).status_code == 404
    for action, data in [("reply", {"body": "Hola", "status": "pending"}),
                         ("note", {"body": "nota"}), ("status", {"status": "resolved"}),
                         ("take", {})]:
        response = client.post(url(hidden, action), data={**data, "version": before["version"]},
                               token_from=url(desk["ticket"]))  # the token of her own ticket
        assert response.status_code == 404, action
        assert "no existe" in response.get_data(as_text=True)
    assert snapshot(app, hidden) == before


def test_disallowed_status_change_is_refused(app, desk, login_as):
    before = snapshot(app, desk["ticket"])
    assert before["status"] is TicketStatus.NEW
    response = login_as(desk["ana"]).post(url(desk["ticket"], "status"), data={
        "status": "pending", "version": before["version"]},
        token_from=url(desk["ticket"]))  # a new ticket's page has no status menu: forged
    assert response.status_code == 400
    assert "Un ticket nuevo no puede pasar a pendiente." in flashes(parse(response))
    assert snapshot(app, desk["ticket"]) == before


def test_unknown_status_value_is_refused(app, desk, login_as):
    before = snapshot(app, desk["ticket"])
    response = login_as(desk["ana"]).post(url(desk["ticket"], "status"), data={
        "status": "archivado", "version": before["version"]}, token_from=url(desk["ticket"]))
    assert response.status_code == 422  # the form failed validation
    assert "Revisa el formulario" in flashes(parse(response))
    assert snapshot(app, desk["ticket"]) == before


def test_taking_an_assigned_ticket_is_refused(app, desk, login_as):
    luis = login_as(desk["luis"])
    luis.get(url(desk["ticket"]))  # his page still offers Tomar when Ana takes it
    act(app, workflows.take_ticket, desk["ticket"], desk["ana"])
    before = snapshot(app, desk["ticket"])
    response = luis.post(url(desk["ticket"], "take"), data={"version": before["version"]})
    assert response.status_code == 400
    assert "Este ticket ya está asignado a Ana Agente." in flashes(parse(response))
    assert snapshot(app, desk["ticket"]) == before


def test_take_over_http(app, desk, login_as):
    response = login_as(desk["luis"]).post(url(desk["ticket"], "take"),
                                           data={"version": version_of(app, desk["ticket"])},
                                           page=url(desk["ticket"]))
    assert response.status_code == 302
    after = snapshot(app, desk["ticket"])
    assert after["assignee"] == desk["luis"] and after["status"] is TicketStatus.OPEN


def test_note_over_http_is_internal(app, desk, login_as):
    client = login_as(desk["ana"])
    response = client.post(url(desk["ticket"], "note"), data={
        "body": "Llamar mañana", "version": version_of(app, desk["ticket"])},
        page=url(desk["ticket"]))
    assert response.status_code == 302
    after = snapshot(app, desk["ticket"])
    assert after["messages"][-1] == (MessageKind.NOTE, "Llamar mañana")
    assert after["status"] is TicketStatus.NEW and after["first_response_at"] is None


# --- The queue ----------------------------------------------------------------------------------


def rows(page: Element) -> dict[int, Element]:
    """The queue's rows by ticket number."""
    found = {}
    for tr in page.one("table", cls="model-list").select("tr"):
        cells = tr.select("td", cls="col-id")
        if cells:
            found[int(cells[0].text.lstrip("#"))] = tr
    return found


def cell(row: Element, column: str) -> str:
    return row.one("td", cls=f"col-{column}").text


def tab_href(page: Element, key: str) -> str:
    return page.testid(f"view-{key}").attrs["href"]


def filter_arg(page: Element, group: str, operation: str) -> str:
    """The URL arg of one of the list's filters, as its own filter menu data declares it."""
    groups = json.loads(page.one("div", id="filter-groups-data").raw_text)
    return next(f["arg"] for f in groups[group] if f["operation"] == operation)


@pytest.fixture
def queue_desk(app, desk, make_team, make_user, make_ticket):
    """Ana's view of a small queue: new, open, pending, resolved; one ticket she cannot see."""
    team, ana = desk["team"], desk["ana"]

    def in_team(subject, team_id=team):
        ticket = make_ticket(subject, "Texto del cliente.")
        with app.app_context(), workflows.atomic():
            db.session.get(Ticket, ticket).team_id = team_id
        return ticket

    ids = {"new": [desk["ticket"], desk["earlier"], make_ticket("Sin equipo aún", "x")]}
    ids["open"] = [in_team("Abierto por Ana")]
    act(app, workflows.take_ticket, ids["open"][0], ana)
    ids["pending"] = [in_team("Esperando al cliente")]
    act(app, workflows.add_reply, ids["pending"][0], ana, "¿Sigue pasando?")
    ids["resolved"] = [in_team("Ya resuelto")]
    act(app, workflows.take_ticket, ids["resolved"][0], ana)
    act(app, resolve, ids["resolved"][0], ana)
    other = make_team("Contenido")
    ids["invisible"] = [in_team("De otro equipo", other)]
    return ids


def test_queue_tabs_show_counts(app, desk, queue_desk, login_as):
    page = parse(login_as(desk["ana"]).get("/admin/tickets/"))
    counts = {key: int(page.testid(f"count-{key}").text)
              for key in ("new", "open", "pending", "resolved", "mine", "unassigned", "team")}
    assert counts == {
        "new": 3, "open": 1, "pending": 1, "resolved": 1,
        "mine": 2,        # open + pending (resolved ones are done)
        "unassigned": 3,  # the new ones, the unrouted one included
        "team": 4,        # Cuenta's unresolved: two new, open, pending
    }
    assert set(rows(page)) == {i for key, ids in queue_desk.items() if key != "invisible"
                               for i in ids}
    assert page.testid("sla-legend")


@pytest.mark.parametrize("key", ["new", "open", "pending", "resolved", "mine"])
def test_each_tab_lists_only_its_tickets(app, desk, queue_desk, login_as, key):
    client = login_as(desk["ana"])
    href = tab_href(parse(client.get("/admin/tickets/")), key)
    page = parse(client.get(href))
    listed = rows(page)
    expected = (queue_desk["open"] + queue_desk["pending"] if key == "mine"
                else queue_desk[key])
    assert set(listed) == set(expected)
    assert "active" in page.testid(f"view-{key}").classes
    if key != "mine":
        label = TicketStatus(key).label
        assert {cell(r, "status") for r in listed.values()} == {label}


def test_filters_combine_and_survive_paging(app, desk, login_as, make_ticket):
    urgent_new = [make_ticket(f"Urgente {n}", "x", priority=Priority.URGENT) for n in range(23)]
    normal_new = [make_ticket(f"Normal {n}", "x") for n in range(3)]
    urgent_open = [make_ticket(f"Urgente abierto {n}", "x", priority=Priority.URGENT)
                   for n in range(2)]
    for ticket in urgent_open:
        with app.app_context(), workflows.atomic():
            db.session.get(Ticket, ticket).team_id = desk["team"]
        act(app, workflows.take_ticket, ticket, desk["ana"])

    client = login_as(desk["ana"])
    page = parse(client.get("/admin/tickets/"))
    new_tab = parse_qs(urlsplit(tab_href(page, "new")).query)  # e.g. {"flt0_0": ["new"]}
    ((status_key, status_value),) = new_tab.items()
    status_arg = status_key.split("_", 1)[1]
    priority_arg = filter_arg(page, "Prioridad", "igual a")
    query = f"flt0_{status_arg}={status_value[0]}&flt1_{priority_arg}=urgent&page_size=20"

    seen, href, pages = [], f"/admin/tickets/?{query}", 0
    while href:
        response = client.get(href)
        assert response.status_code == 200
        page = parse(response)
        listed = rows(page)
        assert all(cell(r, "status") == "Nuevo" and cell(r, "priority") == "Urgente"
                   for r in listed.values())
        seen += list(listed)
        pages += 1
        nxt = [a for a in page.select("a", cls="page-link") if a.text == ">"
               and "disabled" not in a.parent.classes]
        href = nxt[0].attrs["href"] if nxt else None
        if href:
            args = parse_qs(urlsplit(href).query)
            assert args[f"flt0_{status_arg}"] == ["new"]  # the filters ride along
            assert args[f"flt1_{priority_arg}"] == ["urgent"]
            assert args["page"] == [str(pages)]
        assert pages <= 3
    assert pages == 2
    assert sorted(seen) == sorted(urgent_new) and len(seen) == len(set(seen))
    assert not set(seen) & set(normal_new + urgent_open)


def test_sla_highlights_and_legend(app, desk, login_as, make_ticket):
    late = make_ticket("Ya vencido", "x")
    close = make_ticket("Casi vence", "x")
    fine = make_ticket("Con tiempo", "x")
    now = rules.utcnow()
    with app.app_context(), workflows.atomic():
        t = db.session.get(Ticket, late)
        t.first_response_due_at = t.sla_due_at = now - timedelta(hours=1)
        t = db.session.get(Ticket, close)
        t.first_response_due_at = t.sla_due_at = now + timedelta(minutes=30)
        t.sla_state = SlaState.APPROACHING
    page = parse(login_as(desk["ana"]).get("/admin/tickets/"))
    listed = rows(page)

    def badge(ticket_id):
        return listed[ticket_id].one("td", cls="col-sla_due_at").one("span", cls="hd-sla")

    assert "hd-sla-breached" in badge(late).classes and badge(late).text.startswith("hace ")
    assert "hd-sla-approaching" in badge(close).classes
    assert badge(close).text.startswith("en ")
    assert "hd-sla-ok" in badge(fine).classes
    legend = page.testid("sla-legend")
    assert [s.attrs["class"].split()[-2] for s in legend.select("span", cls="hd-sla")] == [
        "hd-sla-ok", "hd-sla-approaching", "hd-sla-breached"]
    assert "Vencido" in legend.text and "Próximo a vencer" in legend.text
    assert list(listed)[:2] == [late, close]  # nearest deadline first

    work = parse(login_as(desk["ana"]).get(url(late)))
    countdown = work.testid("sla-countdown")
    assert countdown.text.startswith("venció hace ")
    assert "hd-sla-breached" in countdown.classes
    assert "hd-sla-breached" in work.testid("ticket-header").classes


@pytest.fixture
def searchable(app, make_customer, make_ticket):
    marta = make_customer(name="Marta Ruiz", email="marta.ruiz@example.com")
    target = make_ticket("Pantalla negra en el televisor", "Al encender se oye un zumbido.",
                         customer_id=marta)
    noise = make_ticket("Otra consulta", "Nada que ver.")
    return target, noise


@pytest.mark.parametrize("term", ["Pantalla", "televisor",
                                  "marta.ruiz@example.com", "Marta", "zumbido", "ZUMBIDO"])
def test_search_finds_the_ticket(app, desk, searchable, login_as, term):
    target, noise = searchable
    term = term.replace("number", str(target))
    response = login_as(desk["ana"]).get("/admin/tickets/", query_string={"search": term})
    assert response.status_code == 200
    assert set(rows(parse(response))) == {target}


def test_search_with_nothing_found_lists_nothing(app, desk, searchable, login_as):
    response = login_as(desk["ana"]).get("/admin/tickets/?search=inexistente_xyz")
    assert rows(parse(response)) == {}


def test_search_by_a_word_in_a_reply(app, desk, searchable, login_as):
    target, _noise = searchable
    act(app, workflows.add_reply, target, desk["ana"], "Prueba a reiniciar el decodificador.")
    response = login_as(desk["ana"]).get("/admin/tickets/?search=decodificador")
    assert set(rows(parse(response))) == {target}


def test_reply_counts_once_in_the_database(app, desk, login_as):
    """A double click (the same form posted twice) is refused the second time."""
    client = login_as(desk["ana"])
    data = {"body": "Una sola vez", "status": "pending",
            "version": version_of(app, desk["ticket"])}
    assert client.post(url(desk["ticket"], "reply"), data=data,
                       page=url(desk["ticket"])).status_code == 302
    assert client.post(url(desk["ticket"], "reply"), data=data).status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message).where(
            Message.body == "Una sola vez")) == 1


def test_version_field_tampering_is_refused(app, desk, login_as):
    before = snapshot(app, desk["ticket"])
    response = login_as(desk["ana"]).post(url(desk["ticket"], "reply"), data={
        "body": "Hola", "status": "pending", "version": ""}, page=url(desk["ticket"]))
    assert response.status_code == 422  # the form failed validation
    assert snapshot(app, desk["ticket"]) == before


def test_status_select_offers_only_allowed_moves(app, desk, login_as):
    page = parse(login_as(desk["ana"]).get(url(desk["ticket"])))
    assert page.select(data_testid="status-select") == []  # a new ticket: nothing but Resolver
    assert page.testid("resolve")
    act(app, workflows.take_ticket, desk["ticket"], desk["ana"])
    page = parse(login_as(desk["ana"]).get(url(desk["ticket"])))
    options = [o.attrs["value"] for o in page.testid("status-select").select("option")]
    assert options == ["pending"]  # Resuelto only through Resolver
    assert page.select(data_testid="take") == []  # already someone's: no Tomar button


def test_queue_filters_do_not_reveal_password_hashes(app, desk, queue_desk, login_as):
    """The queue's filter menu must not let staff probe another user's password hash."""
    client = login_as(desk["luis"])  # Ana's teammate: he sees the tickets Ana holds
    page = parse(client.get("/admin/tickets/"))
    groups = json.loads(page.one("div", id="filter-groups-data").raw_text)
    leaky = [name for name in groups if "password" in name.lower() or "/" in name]
    assert leaky == []  # only the explicit filters: no column of users (or others) to probe


HUGE = "9" * 30  # beyond any database integer
SUPERSCRIPT_TWO = "\u00b2"  # str.isdigit() is True, int() refuses it


@pytest.mark.parametrize(("role", "method", "path", "data", "wanted"), [
    (Role.AGENT, "get", f"/admin/tickets/{HUGE}/", None, {404}),
    (Role.AGENT, "post", f"/admin/tickets/{HUGE}/reply", {"body": "x"}, {404}),
    (Role.AGENT, "get", f"/admin/tickets/details/?id={HUGE}", None, {302, 404}),
    (Role.AGENT, "get", f"/admin/tickets/?search={SUPERSCRIPT_TWO}", None, {200}),
    (Role.AGENT, "post", "/admin/tickets/{id}/reply", {"template_id": SUPERSCRIPT_TWO},
     {302, 400}),
    (Role.AGENT, "post", "/admin/tickets/{id}/reply", {"template_id": HUGE}, {302, 400}),
    (Role.SUPERVISOR, "get", f"/admin/tickets/reassign?ids={SUPERSCRIPT_TWO}", None, {302}),
    (Role.SUPERVISOR, "get", f"/admin/tickets/reassign?ids={HUGE}", None, {302}),
    (Role.SUPERVISOR, "post", "/admin/tickets/reassign?ids={id}",
     {"ids": "{id}", "team": SUPERSCRIPT_TWO, "agent": ""}, {200, 302, 400}),
], ids=["page-huge-id", "reply-huge-id", "details-huge-id", "search-superscript",
        "template-superscript", "template-huge", "reassign-superscript", "reassign-huge",
        "reassign-team-superscript"])
def test_odd_numbers_are_refused_not_crashes(app, desk, make_user, login_as, role, method,
                                             path, data, wanted):
    """Numbers typed or tampered into URLs and hidden fields get a 4xx (or are ignored)."""
    user = desk["ana"] if role is Role.AGENT else make_user(role, teams=[desk["team"]])
    before = snapshot(app, desk["ticket"])
    if data is not None:
        data = {"body": "Hola", "status": "pending", "version": before["version"],
                **{k: v.replace("{id}", str(desk["ticket"])) for k, v in data.items()}}
    client, path = login_as(user), path.replace("{id}", str(desk["ticket"]))
    if method == "get":
        response = client.get(path)
    elif HUGE in path:  # no page has that form: the token of a page she has
        response = client.post(path, data=data, token_from=url(desk["ticket"]))
    else:
        response = client.post(path, data=data, page=url(desk["ticket"]) if "/reply" in path
                               else path)
    assert response.status_code in wanted
    if response.status_code >= 400:
        assert snapshot(app, desk["ticket"]) == before
