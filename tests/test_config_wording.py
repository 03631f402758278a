"""Configuration pages read as finished Spanish and English: "Guardar" (Flask-Admin's stale
catalogue said "Salvar"), account codes in words, weekdays in the viewer's language, plural
forms that agree with the number."""

from __future__ import annotations

from sqlalchemy import select

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import BusinessCalendar, Role, RoutingRule
from tests.pages import flashes, parse


def test_forms_say_guardar_never_salvar(app, login_as, make_user):
    client = login_as(make_user(Role.SUPERVISOR))
    page = client.get("/admin/sla/new/").get_data(as_text=True)
    assert 'value="Guardar"' in page and "Salvar" not in page
    assert "Guardar y añadir otro" in page
    client.post("/locale/en", data={"next": "/admin/"}, page="/admin/")
    assert 'value="Save"' in client.get("/admin/sla/new/").get_data(as_text=True)


def test_the_customer_list_shows_account_codes_in_words(app, login_as, make_user,
                                                        make_customer):
    make_customer(name="Ana Sol", country="AR", subscription_state="en_prueba",
                  billing_state="pago_pendiente", locale="en")
    client = login_as(make_user(Role.SUPERVISOR))
    page = client.get("/admin/customers/").get_data(as_text=True)
    assert "Pago pendiente" in page and "En periodo de prueba" in page and "Argentina" in page
    assert "pago_pendiente" not in page and "en_prueba" not in page
    form = parse(client.get("/admin/customers/new/"))
    billing = {o.attrs.get("value"): o.text.strip()
               for o in form.one("select", name="billing_state").select("option")}
    assert billing["al_dia"] == "Al día" and billing["tarjeta_rechazada"] == "Tarjeta rechazada"


def test_weekdays_follow_the_viewers_language(app, login_as, make_user):
    with app.app_context(), workflows.atomic():
        db.session.add(BusinessCalendar(name="Madrid", timezone="Europe/Madrid",
                                        hours={"0": [["09:00", "18:00"]]}))
    client = login_as(make_user(Role.SUPERVISOR))
    assert "lun 09:00-18:00" in client.get("/admin/calendars/").get_data(as_text=True)
    client.post("/locale/en", data={"next": "/admin/"}, page="/admin/")
    page = client.get("/admin/calendars/").get_data(as_text=True)
    assert "mon 09:00-18:00" in page and "lun 09:00" not in page
    with app.app_context():
        calendar_id = db.session.scalar(select(BusinessCalendar.id))
    edit = client.get(f"/admin/calendars/edit/?id={calendar_id}").get_data(as_text=True)
    assert "mon 09:00-18:00" in edit
    response = client.post(f"/admin/calendars/edit/?id={calendar_id}", data={
        "name": "Madrid", "timezone": "Europe/Madrid", "hours_text": "mon-tue 09:00-18:00"})
    assert response.status_code == 302
    with app.app_context():
        assert set(db.session.get(BusinessCalendar, calendar_id).hours) == {"0", "1"}


def test_one_rule_updated_is_singular(app, login_as, make_user, make_team):
    team = make_team()
    with app.app_context(), workflows.atomic():
        rule = RoutingRule(name="Premium", position=10, plan="Premium", team_id=team)
        db.session.add(rule)
        db.session.flush()
        rule_id = rule.id
    client = login_as(make_user(Role.SUPERVISOR))
    response = client.post("/admin/routing/action/", data={"action": "disable",
                                                           "rowid": [str(rule_id)]},
                           page="/admin/routing/", follow_redirects=True)
    assert "1 regla actualizada." in flashes(parse(response))
