"""Merging duplicate tickets through the real form (CSRF on): threads in time order with their
authors, the merged ticket closed with a link, audit rows, who may merge, the cross-customer
confirmation, stale pages, search documents, the customer's notice and mail answering a merged
ticket; linking related tickets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from helpdesk import rules, workflows
from helpdesk.extensions import db
from helpdesk.models import (
    AuditEntry,
    InboundMail,
    LinkKind,
    Message,
    MessageKind,
    Priority,
    Role,
    Ticket,
    TicketLink,
    TicketParticipant,
    TicketStatus,
    User,
)
from helpdesk.queries import search
from tests.pages import flashes, parse
from tests.test_inbound_mail import outbox_mails, pipe_receiver, simple


@pytest.fixture
def outbox(app, tmp_path, monkeypatch):
    """This test's own `.eml` directory (the suite's instance is shared)."""
    monkeypatch.setitem(app.config, "HELPDESK_INSTANCE", str(tmp_path))
    return tmp_path / "outbox"


@pytest.fixture
def desk(app, make_team, make_user, make_customer, make_ticket):
    """Cuenta (Ana, Luis), Facturación (Olga), a supervisor; Lucía's two tickets about the same
    problem in Cuenta (the first older), written to by Ana and Luis at interleaved times."""
    cuenta, facturacion = make_team("Cuenta"), make_team("Facturación")
    people = {"ana": make_user(Role.AGENT, teams=[cuenta], name="Ana Agente"),
              "luis": make_user(Role.AGENT, teams=[cuenta], name="Luis Agente"),
              "olga": make_user(Role.AGENT, teams=[facturacion], name="Olga Otra"),
              "sofia": make_user(Role.SUPERVISOR, name="Sofía Supervisora")}
    lucia = make_customer(name="Lucía Pérez", email="lucia@example.com")
    first = make_ticket("No puedo entrar", "Me pide la contraseña.", customer_id=lucia)
    second = make_ticket("Sigo sin poder entrar", "Otra vez la contraseña, zanahoria.",
                         customer_id=lucia)
    base = rules.utcnow() - timedelta(hours=5)
    with app.app_context(), workflows.atomic():
        ana, luis = db.session.get(User, people["ana"]), db.session.get(User, people["luis"])
        one, two = db.session.get(Ticket, first), db.session.get(Ticket, second)
        for ticket, at in ((one, base), (two, base + timedelta(hours=1))):
            ticket.team_id, ticket.created_at = cuenta, at
            ticket.messages[0].created_at = at
        workflows.add_note(one, "Nota de Ana en el primero", actor=ana,
                           now=base + timedelta(minutes=30))
        workflows.add_note(two, "Nota de Luis en el segundo", actor=luis,
                           now=base + timedelta(hours=2))
        workflows.change_priority(two, Priority.HIGH, actor=luis)
        workflows.add_note(one, "Nota de Ana después", actor=ana,
                           now=base + timedelta(hours=3))
    return {**people, "cuenta": cuenta, "facturacion": facturacion, "lucia": lucia,
            "first": first, "second": second}


def merge_page(client, ticket_id: int, numbers: str):
    return client.get(f"/admin/tickets/{ticket_id}/merge", query_string={"tickets": numbers})


def post_merge(client, ticket_id: int, numbers: str, survivor: int, **extra):
    """Review the tickets, then submit the page's own form (its versions, CSRF token)."""
    page = parse(merge_page(client, ticket_id, numbers))
    form = page.testid("merge-form")
    data = {e.attrs["name"]: e.attrs.get("value", "") for e in form.select("input")
            if e.attrs.get("type") in ("hidden",) and e.attrs.get("name")}
    data.update({"survivor": str(survivor), **{k: "y" for k, v in extra.items() if v}})
    return client.post(f"/admin/tickets/{ticket_id}/merge", data=data)


def thread(app, ticket_id: int) -> list[tuple[str, str | None, str]]:
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        return [(m.kind.value, m.author.name if m.author else None, m.body)
                for m in ticket.messages]


def test_the_duplicates_thread_moves_in_time_order_with_its_authors(app, desk, login_as):
    client = login_as(desk["ana"])
    first, second = desk["first"], desk["second"]
    with app.app_context():
        before = {m.body: m.created_at for t in (first, second)
                  for m in db.session.get(Ticket, t).messages if m.kind is not MessageKind.EVENT}
    response = post_merge(client, first, f"#{second}", survivor=first)
    assert response.status_code == 302, flashes(parse(response))
    assert response.headers["Location"].endswith(f"/admin/tickets/{first}/")

    bodies = [body for kind, _a, body in thread(app, first) if kind != "event"]
    assert bodies == ["Me pide la contraseña.", "Nota de Ana en el primero",
                      "Otra vez la contraseña, zanahoria.", "Nota de Luis en el segundo",
                      "Nota de Ana después"]
    with app.app_context():
        survivor = db.session.get(Ticket, first)
        moved = {m.body: m for m in survivor.messages}
        assert moved["Nota de Luis en el segundo"].author.name == "Luis Agente"
        assert moved["Otra vez la contraseña, zanahoria."].kind is MessageKind.CUSTOMER
        for body, at in before.items():
            assert moved[body].created_at == at  # timestamps kept
        priority_event = next(m for m in survivor.messages
                              if (m.event or {}).get("event") == "priority")
        assert priority_event.event["merged_from"] == f"#{second}"

        merged = db.session.get(Ticket, second)
        assert merged.status is TicketStatus.RESOLVED and merged.resolved_at is not None
        assert merged.closing_notes == f"Fusionado en #{first}"
        assert [m.event["event"] for m in merged.messages] == ["status", "merged_into"]
        link = db.session.scalar(select(TicketLink))
        assert (link.ticket_id, link.other_id, link.kind) == (second, first, LinkKind.MERGED)
        audits = {(a.ticket_id, a.field, a.new_value) for a in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "merge"))}
        assert audits == {(second, "merged_into", f"#{first}"),
                          (first, "merged_from", f"#{second}")}
        assert db.session.scalar(select(AuditEntry.actor_id).where(
            AuditEntry.action == "status", AuditEntry.ticket_id == second,
            AuditEntry.reason == "merge")) == desk["ana"]
        # The search documents follow the messages: a word of the duplicate finds the survivor.
        found = set(db.session.scalars(search.matches("zanahoria").ids))
        assert found == {first}

    page = parse(client.get(f"/admin/tickets/{first}/"))
    assert f"(en #{second})" in page.testid("thread").text
    assert "Fusionado aquí" in page.testid("links").text
    page = parse(client.get(f"/admin/tickets/{second}/"))
    assert f"#{first}" in page.testid("merged-into").text
    assert f"Fusionado en #{first}" in page.testid("closing-notes").text
    assert page.testid("ticket-status").text == f"Fusionado en #{first}"


def test_the_newer_ticket_may_survive(app, desk, login_as):
    client = login_as(desk["sofia"])
    response = post_merge(client, desk["first"], str(desk["second"]), survivor=desk["second"])
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Ticket, desk["first"]).status is TicketStatus.RESOLVED
        bodies = [m.body for m in db.session.get(Ticket, desk["second"]).messages
                  if m.kind is not MessageKind.EVENT]
    assert bodies[0] == "Me pide la contraseña." and len(bodies) == 5


def _unchanged(app, desk) -> None:
    with app.app_context():
        tickets = [db.session.get(Ticket, desk[k]) for k in ("first", "second")]
        assert [t.status for t in tickets] == [TicketStatus.NEW, TicketStatus.NEW]
        assert db.session.scalar(select(TicketLink)) is None
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "merge")) is None
        assert len([m for m in tickets[1].messages if m.kind is not MessageKind.EVENT]) == 2


def test_who_may_merge_is_who_may_edit_both(app, desk, login_as, make_ticket):
    # Olga (Facturación) cannot open Cuenta's tickets: they are not even offered.
    olga = login_as(desk["olga"])
    response = merge_page(olga, desk["first"], str(desk["second"]))
    assert response.status_code == 404
    # Ana sees an unrouted ticket but may not edit it: refused, nothing changed.
    unrouted = make_ticket("Otra cosa", "Sin equipo", customer_id=desk["lucia"])
    ana = login_as(desk["ana"])
    response = post_merge(ana, desk["first"], str(unrouted), survivor=desk["first"])
    assert response.status_code == 403
    assert f"#{unrouted}" in flashes(parse(response))
    _unchanged(app, desk)
    # The rule the page's button asks is the same one.
    page = parse(ana.get(f"/admin/tickets/{unrouted}/"))
    assert page.select("a", **{"data-testid": "merge"}) == []
    assert parse(ana.get(f"/admin/tickets/{desk['first']}/")).select(
        "a", **{"data-testid": "merge"})


def test_refusals_change_nothing(app, desk, login_as):
    client = login_as(desk["ana"])
    assert merge_page(client, desk["first"], "abc").status_code == 422
    assert merge_page(client, desk["first"], "999999").status_code == 422
    response = post_merge(client, desk["first"], str(desk["second"]), survivor=123)
    assert response.status_code == 422
    client.get(f"/admin/tickets/{desk['first']}/merge", query_string={"tickets": desk["second"]})
    response = client.post(f"/admin/tickets/{desk['first']}/merge", data={  # no versions
        "tickets": str(desk["second"]), "survivor": str(desk["first"])})
    assert response.status_code == 422
    _unchanged(app, desk)
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, desk["first"])
        with pytest.raises(workflows.DomainError, match="consigo mismo"):
            workflows.merge_tickets(ticket, [ticket], actor=db.session.get(User, desk["ana"]),
                                    notify_customer=False)
    _unchanged(app, desk)


def test_a_merged_ticket_merges_no_more(app, desk, login_as, make_ticket):
    third = make_ticket("Tercero", "Igual", customer_id=desk["lucia"])
    with app.app_context():
        db.session.get(Ticket, third).team_id = desk["cuenta"]
        db.session.commit()
    client = login_as(desk["sofia"])
    assert post_merge(client, desk["first"], str(desk["second"]),
                      survivor=desk["first"]).status_code == 302
    response = post_merge(client, third, str(desk["second"]), survivor=third)
    assert response.status_code == 400
    assert "resuelto" in flashes(parse(response)) or "fusionado" in flashes(parse(response))
    assert parse(client.get(f"/admin/tickets/{desk['second']}/")).select(
        "a", **{"data-testid": "merge"}) == []


def test_merging_across_customers_needs_confirmation(app, desk, login_as, make_customer,
                                                     make_ticket):
    pedro = make_customer(name="Pedro Gómez", email="pedro@example.com")
    his = make_ticket("La misma avería", "Tampoco puedo entrar", customer_id=pedro)
    with app.app_context():
        db.session.get(Ticket, his).team_id = desk["cuenta"]
        db.session.commit()
    client = login_as(desk["sofia"])
    page = parse(merge_page(client, desk["first"], str(his)))
    assert page.testid("merge-other-customers")
    response = post_merge(client, desk["first"], str(his), survivor=desk["first"])
    assert response.status_code == 400
    assert "otro cliente" in flashes(parse(response))
    with app.app_context():
        assert db.session.get(Ticket, his).status is TicketStatus.NEW
    response = post_merge(client, desk["first"], str(his), survivor=desk["first"],
                          confirm_other_customers=True)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Ticket, his).status is TicketStatus.RESOLVED
        emails = set(db.session.scalars(select(TicketParticipant.email).where(
            TicketParticipant.ticket_id == desk["first"])))
    assert emails == {"pedro@example.com"}  # his answers may thread into the survivor


def test_a_stale_page_is_refused(app, desk, login_as):
    client = login_as(desk["ana"])
    page = parse(merge_page(client, desk["first"], str(desk["second"])))
    data = {e.attrs["name"]: e.attrs.get("value", "") for e in page.testid("merge-form")
            .select("input") if e.attrs.get("type") == "hidden"}
    with app.app_context(), workflows.atomic():
        workflows.add_note(db.session.get(Ticket, desk["second"]), "Mientras tanto",
                           actor=db.session.get(User, desk["luis"]))
    response = client.post(f"/admin/tickets/{desk['first']}/merge",
                           data={**data, "survivor": str(desk["first"])})
    assert response.status_code == 409
    assert "Luis Agente" in flashes(parse(response))
    with app.app_context():
        assert db.session.get(Ticket, desk["second"]).status is TicketStatus.NEW
    # The page shown with the refusal carries the new versions: submitting again merges.
    assert post_merge(client, desk["first"], str(desk["second"]),
                      survivor=desk["first"]).status_code == 302


def test_no_csrf_token_no_merge(app, desk, login_as):
    client = login_as(desk["ana"])
    response = client.post(f"/admin/tickets/{desk['first']}/merge", csrf=False,
                           data={"tickets": str(desk["second"]), "survivor": desk["first"]})
    assert response.status_code in (400, 422)
    _unchanged(app, desk)


def test_the_customer_is_told_and_their_mail_lands_on_the_survivor(
        app, make_user, run_jobs, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "HELPDESK_INSTANCE", str(outbox.parent))
    receive = pipe_receiver(app)
    make_user(Role.AGENT)
    sofia = make_user(Role.SUPERVISOR)
    receive(simple(sender="Juan García <juan.garcia@gmail.example>", subject="No carga",
                   message_id="<first@gmail.example>"))
    receive(simple(sender="Juan García <juan.garcia@gmail.example>", subject="Sigue sin cargar",
                   message_id="<second@gmail.example>", body="Otra vez."))
    run_jobs()
    with app.app_context(), workflows.atomic():
        first, second = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
        ids = first.id, second.id
        workflows.merge_tickets(first, [second], actor=db.session.get(User, sofia),
                                notify_customer=True)
    run_jobs()
    notice = [m for m in outbox_mails(app) if "continúa en" in m["Subject"]]
    assert len(notice) == 1
    assert notice[0]["To"] == "juan.garcia@gmail.example"
    assert notice[0]["Subject"].startswith(f"[#{ids[0]}]")
    assert f"#{ids[1]}" in notice[0].get_body(("plain",)).get_content()

    # Answering the duplicate's first message (its Message-ID moved with it), and writing with
    # the duplicate's token: both land on the survivor, which stays the only open ticket.
    receive(simple(sender="juan.garcia@gmail.example", subject="Re: Sigue sin cargar",
                   message_id="<answer-1@gmail.example>", In_Reply_To="<second@gmail.example>",
                   body="Respuesta al duplicado."))
    receive(simple(sender="juan.garcia@gmail.example", subject=f"Re: [#{ids[1]}] hola",
                   message_id="<answer-2@gmail.example>", body="Con el número viejo."))
    run_jobs()
    with app.app_context():
        assert db.session.scalar(select(Ticket.id).order_by(Ticket.id.desc())) == ids[1]
        survivor = db.session.get(Ticket, ids[0])
        customer = [m.body for m in survivor.messages if m.kind is MessageKind.CUSTOMER]
        assert customer[-2:] == ["Respuesta al duplicado.", "Con el número viejo."]
        assert db.session.get(Ticket, ids[1]).status is TicketStatus.RESOLVED
        rows = db.session.scalars(select(InboundMail).order_by(InboundMail.id)).all()
        assert {r.ticket_id for r in rows} == {ids[0]}


# --- Links ----------------------------------------------------------------------------------


def test_linked_tickets_show_on_both_pages_and_can_be_removed(app, desk, login_as):
    client = login_as(desk["ana"])
    first, second = desk["first"], desk["second"]
    client.get(f"/admin/tickets/{first}/")
    response = client.post(f"/admin/tickets/{first}/link",
                           data={"other": f"#{second}", "kind": "duplicate"})
    assert response.status_code == 302
    page = parse(client.get(f"/admin/tickets/{first}/"))
    assert f"Duplicado de: #{second}" in " ".join(page.testid("linked-tickets").text.split())
    other_page = parse(client.get(f"/admin/tickets/{second}/"))
    assert f"Tiene un duplicado: #{first}" in " ".join(
        other_page.testid("linked-tickets").text.split())
    # Both threads tell it, each from its own side.
    assert (f"Ana Agente marcó este ticket como duplicado de #{second} «Sigo sin poder entrar»"
            in " ".join(page.testid("thread").text.split()))
    assert (f"Ana Agente marcó #{first} «No puedo entrar» como duplicado de este ticket"
            in " ".join(other_page.testid("thread").text.split()))

    for other, message in ((second, "ya están vinculados"), (first, "consigo mismo")):
        client.get(f"/admin/tickets/{first}/")
        response = client.post(f"/admin/tickets/{first}/link",
                               data={"other": str(other), "kind": "related"})
        assert response.status_code == 400 and message in flashes(parse(response))
    with app.app_context():
        link = db.session.scalar(select(TicketLink))
        link_id = link.id
        assert db.session.scalar(select(TicketLink).where(TicketLink.id != link_id)) is None
        assert {(a.ticket_id, a.action) for a in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "link"))} == {
            (first, "link"), (second, "link")}

    client.get(f"/admin/tickets/{second}/")
    response = client.post(f"/admin/tickets/{second}/links/{link_id}/remove")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(TicketLink)) is None
        assert len(db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "unlink")).all()) == 2
        events = {(m.ticket_id, m.event["event"], m.event["kind"], m.event["other"])
                  for m in db.session.scalars(select(Message).where(
                      Message.kind == MessageKind.EVENT)) if m.event["event"] in ("link", "unlink")}
        assert events == {(first, "link", "duplicate", f"#{second}"),
                          (second, "link", "duplicate", f"#{first}"),
                          (first, "unlink", "duplicate", f"#{second}"),
                          (second, "unlink", "duplicate", f"#{first}")}
    page = parse(client.get(f"/admin/tickets/{first}/"))
    assert "Ana Agente quitó la marca de duplicado entre este ticket y" in page.testid(
        "thread").text


def test_a_ticket_one_may_not_open_is_neither_linked_nor_listed(app, desk, login_as,
                                                               make_ticket, make_customer):
    theirs = make_ticket("De facturación", "Cobro doble", customer_id=make_customer())
    with app.app_context():
        db.session.get(Ticket, theirs).team_id = desk["facturacion"]
        db.session.commit()
    ana = login_as(desk["ana"])
    ana.get(f"/admin/tickets/{desk['first']}/")
    response = ana.post(f"/admin/tickets/{desk['first']}/link",
                        data={"other": str(theirs), "kind": "related"})
    assert response.status_code == 422
    with app.app_context(), workflows.atomic():  # a supervisor links them
        workflows.link_tickets(db.session.get(Ticket, desk["first"]),
                               db.session.get(Ticket, theirs), LinkKind.RELATED,
                               actor=db.session.get(User, desk["sofia"]))
    page = parse(ana.get(f"/admin/tickets/{desk['first']}/"))
    assert f"#{theirs}" not in page.testid("linked-tickets").text
    sofia = parse(login_as(desk["sofia"]).get(f"/admin/tickets/{desk['first']}/"))
    assert f"#{theirs}" in sofia.testid("linked-tickets").text


# --- The sidebar's other tickets and a resolved ticket's resolution ---------------------------


def test_other_tickets_of_the_customer_are_labelled_earlier_and_later(app, desk, login_as):
    client = login_as(desk["ana"])
    page = parse(client.get(f"/admin/tickets/{desk['first']}/"))
    row = page.testid(f"history-{desk['second']}")
    assert row.attrs["data-when"] == "later" and "Posterior" in row.text
    page = parse(client.get(f"/admin/tickets/{desk['second']}/"))
    row = page.testid(f"history-{desk['first']}")
    assert row.attrs["data-when"] == "earlier" and "Anterior" in row.text
    assert "Otros tickets del cliente" in page.text


def test_a_resolved_ticket_shows_its_resolution(app, desk, login_as):
    from helpdesk.models import ResolutionCategory

    with app.app_context(), workflows.atomic():
        category = ResolutionCategory(name="Contraseña restablecida")
        db.session.add(category)
        ticket = db.session.get(Ticket, desk["first"])
        ticket.resolution_category, ticket.closing_notes = category, "Enviado enlace nuevo."
        workflows.set_status(ticket, TicketStatus.RESOLVED, None, "test", rules.utcnow())
    page = parse(login_as(desk["ana"]).get(f"/admin/tickets/{desk['first']}/"))
    details = page.testid("resolution-details").text
    assert "Contraseña restablecida" in details and "Enviado enlace nuevo." in details
    other = parse(login_as(desk["ana"]).get(f"/admin/tickets/{desk['second']}/"))
    assert "Contraseña restablecida" in other.testid(f"history-{desk['first']}").text

