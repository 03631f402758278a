"""The queue's bulk *Resolver*, ticket by ticket: what the guided closure asks (solved,
resolution category, closing notes, the customers' confirmation), each ticket through
`resolve_ticket` with its round, audit and event; a ticket the category does not fit stays as it
was and says why; the answer counts resolved, already resolved and refused, in both languages."""

from __future__ import annotations

import html

from sqlalchemy import select

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import Channel, ResolutionRound, Ticket, TicketStatus, User
from tests.test_closure import NOTES, outbox  # noqa: F401  (outbox is a fixture)
from tests.test_closure import desk as desk_fixture

desk = desk_fixture  # Cuenta, Sofía supervising it; Lucía's e-mail ticket; three categories


def three(app, desk, make_ticket):
    """Lucía's e-mail ticket (no category), a billing phone ticket, and a resolved one."""
    billing = make_ticket("Cobro doble", "Me cobraron dos veces.", channel=Channel.PHONE,
                          category_id=desk["billing"])
    done = make_ticket("Ya resuelto", "Gracias.")
    with app.app_context(), workflows.atomic():
        for ticket_id in (billing, done):
            db.session.get(Ticket, ticket_id).team_id = desk["cuenta"]
        db.session.get(Ticket, done).status = TicketStatus.RESOLVED
    return [desk["ticket"], billing, done]


def open_dialog(client, ids):
    response = client.post("/admin/tickets/action/", page="/admin/tickets/",
                           data={"action": "resolve", "rowid": [str(i) for i in ids]})
    assert response.status_code == 302
    return response.headers["Location"]


def submit(client, url, **fields):
    """Submit the dialog's own form: its hidden fields (ids, versions, token) and `fields`."""
    from tests.pages import parse

    form = parse(client.get(url)).testid("resolve-bulk-form")
    data = {e.attrs["name"]: e.attrs.get("value", "") for e in form.select("input")
            if e.attrs.get("type") == "hidden"}
    return client.post(url, data={**data, **fields})


def test_each_ticket_is_resolved_or_refused_on_its_own(app, desk, login_as, make_ticket):
    email_ticket, billing, done = ids = three(app, desk, make_ticket)
    sofia = login_as(desk["sofia"])
    url = open_dialog(sofia, ids)
    page = html.unescape(sofia.get(url).get_data(as_text=True))
    assert "Reembolso emitido (solo Categoría " in page  # says it fits only billing
    assert "Retirada" not in page

    response = submit(sofia, url, solved="y", resolution=str(desk["refund"]), notes=NOTES,
                      ask="no")
    text = html.unescape(sofia.get(response.headers["Location"]).get_data(as_text=True))
    assert response.status_code == 302
    assert ("1 ticket resuelto; 1 ya estaba así; 1 rechazado — "
            f"#{email_ticket}: Elige una categoría de resolución activa") in text
    with app.app_context():
        rows = {t.id: t for t in db.session.scalars(select(Ticket).where(Ticket.id.in_(ids)))}
        assert rows[billing].status is TicketStatus.RESOLVED
        assert rows[billing].closing_notes == NOTES
        assert rows[email_ticket].status is not TicketStatus.RESOLVED  # refused: unchanged
        rounds = db.session.scalars(select(ResolutionRound)).all()
        assert [(r.ticket_id, r.confirmation_requested) for r in rounds] == [(billing, False)]
        assert rounds[0].resolved_by_id == desk["sofia"]


def test_the_dialog_asks_what_the_guided_closure_asks(app, desk, login_as, make_ticket):
    ids = three(app, desk, make_ticket)
    sofia = login_as(desk["sofia"])
    url = open_dialog(sofia, ids)
    for fields, problem in (({"resolution": str(desk["solved"]), "notes": NOTES},
                             "Confirma que el problema está completamente resuelto"),
                            ({"solved": "y", "resolution": "", "notes": NOTES},
                             "Elige una categoría de resolución"),
                            ({"solved": "y", "resolution": str(desk["solved"]), "notes": ""},
                             "Escribe las notas de cierre")):
        response = submit(sofia, url, ask="channel", **fields)
        assert response.status_code == 422
        assert problem in html.unescape(response.get_data(as_text=True))
    response = submit(sofia, url, solved="y", resolution=str(desk["solved"]), notes=NOTES,
                      ask="maybe")
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(ResolutionRound)) is None

    response = submit(sofia, url, solved="y", resolution=str(desk["solved"]), notes=NOTES,
                      ask="yes")
    assert response.status_code == 302
    with app.app_context():
        asked = {r.ticket_id: r.confirmation_requested
                 for r in db.session.scalars(select(ResolutionRound))}
    assert asked == {ids[0]: True, ids[1]: True}  # the phone ticket too: asked for all


def test_answers_in_english_with_english_plurals(app, desk, login_as, make_ticket):
    ids = three(app, desk, make_ticket)
    with app.app_context(), workflows.atomic():
        db.session.get(User, desk["sofia"]).locale = "en"
    sofia = login_as(desk["sofia"])
    url = open_dialog(sofia, ids)
    response = submit(sofia, url, solved="y", resolution=str(desk["solved"]), notes=NOTES,
                      ask="channel")
    text = html.unescape(sofia.get(response.headers["Location"]).get_data(as_text=True))
    assert "2 tickets resolved; 1 was already so." in text


def test_agents_may_not(app, desk, login_as, make_ticket):
    ids = three(app, desk, make_ticket)
    ana = login_as(desk["ana"])
    assert ana.get(f"/admin/tickets/resolve?ids={ids[0]}").status_code == 403
