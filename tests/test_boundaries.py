"""Team boundaries and customer data (issue 11): what an agent sees of other teams, who edits
customers, whose availability a supervisor sets, reassignment's version, same-site redirects."""

from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from helpdesk import rules, workflows
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.models import (
    AuditEntry,
    Availability,
    Customer,
    Role,
    Team,
    Ticket,
    TicketStatus,
    User,
)
from helpdesk.redirects import is_same_site

from .pages import parse


def supervise(app, user_id: int, *team_ids: int) -> None:
    """Make the user a supervisor of these teams."""
    with app.app_context(), workflows.atomic():
        db.session.get(User, user_id).supervised_teams = [
            db.session.get(Team, t) for t in team_ids]


# --- 5. Same-site redirects ----------------------------------------------------------------------

EXTERNAL = ["https://evil.example/", "//evil.example/", "/\t/evil.example/", "/\n/evil.example",
            "/\\evil.example", "\\\\evil.example", "javascript:alert(1)", " //evil.example",
            "http:/evil.example", "evil.example", ""]


@pytest.mark.parametrize("target", EXTERNAL)
def test_external_targets_are_not_same_site(target):
    assert not is_same_site(target)


@pytest.mark.parametrize("target", ["/admin/", "/admin/tickets/?view=open", "/admin/tickets/1/"])
def test_paths_are_same_site(target):
    assert is_same_site(target)


@pytest.mark.parametrize("target", EXTERNAL)
def test_availability_never_follows_an_external_next(app, make_user, login_as, target):
    client = login_as(make_user(Role.AGENT))
    response = client.post("/admin/availability", page="/admin/",
                           data={"availability": "away", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_availability_follows_a_same_site_next(make_user, login_as):
    response = login_as(make_user(Role.AGENT)).post(
        "/admin/availability", page="/admin/",
        data={"availability": "away", "next": "/admin/tickets/"})
    assert response.headers["Location"] == "/admin/tickets/"


@pytest.mark.parametrize("target", ["/\t/evil.example/", "javascript:alert(1)"])
def test_locale_switch_never_follows_an_external_next(client, target):
    response = client.post("/locale/en", token_from="/login", data={"next": target})
    assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize("target", ["//evil.example/", "/\t/evil.example/",
                                    "javascript:alert(1)", "https://evil.example/"])
def test_admin_forms_never_return_to_an_external_url(app, make_user, make_customer, login_as,
                                                     target):
    """Flask-Admin's own `url=` (where a saved form returns) refuses the same forms."""
    customer = make_customer(email="lucia@example.com", name="Lucía")
    client = login_as(make_user(Role.ADMIN))
    response = client.post(f"/admin/customers/edit/?id={customer}&url={quote(target)}",
                           data=edit_form(customer, "lucia@example.com"))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/customers/")


# --- 3. Availability: a supervisor's own teams ---------------------------------------------------


@pytest.fixture
def teams(app, make_team, make_user):
    cuenta, factura = make_team("Cuenta"), make_team("Facturación")
    people = {
        "sup": make_user(Role.SUPERVISOR, teams=[cuenta], name="Sergio"),
        "ana": make_user(Role.AGENT, teams=[cuenta], name="Ana", availability=Availability.AWAY),
        "fede": make_user(Role.AGENT, teams=[factura], name="Fede",
                          availability=Availability.AWAY),
        "admin": make_user(Role.ADMIN, name="Adela", availability=Availability.AWAY),
    }
    supervise(app, people["sup"], cuenta)
    return {"cuenta": cuenta, "factura": factura, **people}


def availability(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).availability


def test_rule_supervisors_set_only_their_teams_members():
    may = rules.may_set_availability
    assert may(Role.AGENT, is_self=True)
    assert not may(Role.AGENT, is_self=False, supervised_team_ids=[1], member_team_ids=[1])
    assert may(Role.SUPERVISOR, is_self=False, supervised_team_ids=[1, 2], member_team_ids=[2])
    assert not may(Role.SUPERVISOR, is_self=False, supervised_team_ids=[1], member_team_ids=[2])
    assert not may(Role.SUPERVISOR, is_self=False, supervised_team_ids=[1], member_team_ids=[])
    assert may(Role.ADMIN, is_self=False)


@pytest.mark.parametrize("who", ["fede", "admin"])
def test_supervisor_cannot_set_availability_outside_their_teams(app, teams, login_as, who):
    sup = login_as(teams["sup"])
    response = sup.post("/admin/availability", page="/admin/", data={
        "user_id": str(teams[who]), "availability": "available"})
    assert response.status_code == 403
    assert availability(app, teams[who]) is Availability.AWAY
    with app.app_context(), pytest.raises(DomainError):
        workflows.set_availability(db.session.get(User, teams[who]), Availability.AVAILABLE,
                                   actor=db.session.get(User, teams["sup"]))


def test_supervisor_sets_their_members_and_the_roster_lists_only_them(app, teams, login_as):
    sup = login_as(teams["sup"])
    page = sup.get("/admin/").get_data(as_text=True)
    assert "Ana" in page and "Fede" not in page and "Adela" not in page
    sup.post("/admin/availability", data={"user_id": str(teams["ana"]),
                                          "availability": "available"})
    assert availability(app, teams["ana"]) is Availability.AVAILABLE


def test_a_member_who_supervises_nothing_gets_no_roster(app, teams, make_user, login_as):
    member = make_user(Role.SUPERVISOR, teams=[teams["cuenta"]])
    page = login_as(member).get("/admin/").get_data(as_text=True)
    assert 'data-testid="roster"' not in page


def test_admin_sets_anyones_availability(app, teams, login_as):
    login_as(teams["admin"]).post("/admin/availability", page="/admin/", data={
        "user_id": str(teams["fede"]), "availability": "available"})
    assert availability(app, teams["fede"]) is Availability.AVAILABLE


# --- 1. Tickets anteriores: only what the viewer may open --------------------------------------


def on_team(app, ticket_id: int, team_id: int) -> None:
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, ticket_id).team_id = team_id


def test_past_tickets_of_other_teams_are_counted_not_listed(app, teams, make_ticket,
                                                            make_customer, login_as):
    customer = make_customer()
    billing = [make_ticket(f"Factura {n}", customer_id=customer) for n in range(2)]
    older = make_ticket("Contraseña olvidada", customer_id=customer)
    current = make_ticket("No puedo entrar", customer_id=customer)
    for ticket_id in billing:
        on_team(app, ticket_id, teams["factura"])
    for ticket_id in (older, current):
        on_team(app, ticket_id, teams["cuenta"])
    client = login_as(teams["ana"])
    page = client.get(f"/admin/tickets/{current}/").get_data(as_text=True)
    history = section(page, "history-tickets")
    assert f"#{older} Contraseña olvidada" in history
    assert "Factura" not in history and all(f"/admin/tickets/{i}/" not in history
                                            for i in billing)
    assert "2 tickets de otros equipos" in history
    assert client.get(f"/admin/tickets/{billing[0]}/").status_code == 404
    # a supervisor (who may open every ticket) sees them all
    page = login_as(teams["sup"]).get(f"/admin/tickets/{current}/").get_data(as_text=True)
    assert "Factura 0" in section(page, "history-tickets")
    assert "de otros equipos" not in page


def test_only_other_teams_past_tickets_say_so_instead_of_first_ticket(app, teams, make_ticket,
                                                                       make_customer, login_as):
    customer = make_customer()
    on_team(app, make_ticket("Factura", customer_id=customer), teams["factura"])
    current = make_ticket("No puedo entrar", customer_id=customer)
    on_team(app, current, teams["cuenta"])
    history = section(login_as(teams["ana"]).get(f"/admin/tickets/{current}/").get_data(
        as_text=True), "history-tickets")
    assert "1 ticket de otros equipos" in history and "Es su primer ticket." not in history


def section(page: str, testid: str) -> str:
    """The text of the element with this data-testid, and the links in it."""
    element = parse(page).testid(testid)
    return " ".join([element.text, *(a.attrs.get("href", "") for a in element.select("a"))])


# --- 4. Reassignment carries the version the supervisor saw ------------------------------------


@pytest.fixture
def assigned(app, teams, make_user, make_ticket):
    """Two tickets of Cuenta held by Ana, and Carla, another agent of Cuenta."""
    carla = make_user(Role.AGENT, teams=[teams["cuenta"]], name="Carla")
    tickets = [make_ticket(f"Ticket {n}") for n in range(2)]
    with app.app_context(), workflows.atomic():
        for ticket_id in tickets:
            ticket = db.session.get(Ticket, ticket_id)
            ticket.team_id = teams["cuenta"]
            workflows.assign_ticket(ticket, db.session.get(User, teams["ana"]), actor=None,
                                    reason="test")
    return {"carla": carla, "tickets": tickets}


def assignee(app, ticket_id):
    with app.app_context():
        return db.session.get(Ticket, ticket_id).assignee_id


def move_behind_their_back(app, ticket_id, agent_id, actor_id):
    with app.app_context(), workflows.atomic():
        workflows.reassign_ticket(db.session.get(Ticket, ticket_id), team=None,
                                  agent=db.session.get(User, agent_id),
                                  actor=db.session.get(User, actor_id))


def test_a_stale_reassign_form_is_refused_with_what_changed(app, teams, assigned, login_as):
    ticket = assigned["tickets"][0]
    sup = login_as(teams["sup"])
    page = sup.get(f"/admin/tickets/reassign?ids={ticket}")
    form = parse(page).testid("reassign-form")
    version = form.one("input", name="version").attrs["value"]
    move_behind_their_back(app, ticket, assigned["carla"], teams["admin"])
    response = sup.post(f"/admin/tickets/reassign?ids={ticket}", data={
        "ids": str(ticket), "version": version, "team": "", "agent": str(teams["sup"])})
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "otra persona cambió este ticket" in text and "Adela" in text
    assert assignee(app, ticket) == assigned["carla"]  # the newer assignment stands


def test_a_reassign_form_without_versions_is_refused(app, teams, assigned, login_as):
    ticket = assigned["tickets"][0]
    response = login_as(teams["sup"]).post(f"/admin/tickets/reassign?ids={ticket}", data={
        "ids": str(ticket), "team": "", "agent": str(assigned["carla"])})
    assert response.status_code == 422
    assert assignee(app, ticket) == teams["ana"]


def test_bulk_reassign_checks_each_tickets_version(app, teams, assigned, login_as):
    ids = assigned["tickets"]
    sup = login_as(teams["sup"])
    path = f"/admin/tickets/reassign?ids={ids[0]},{ids[1]}"
    form = parse(sup.get(path)).testid("reassign-form")
    version = form.one("input", name="version").attrs["value"]
    assert len(version.split(",")) == 2
    move_behind_their_back(app, ids[1], assigned["carla"], teams["admin"])
    response = sup.post(path, data={"ids": f"{ids[0]},{ids[1]}", "version": version,
                                    "team": "", "agent": str(teams["sup"])})
    assert response.status_code == 409
    assert f"#{ids[1]}" in response.get_data(as_text=True)
    assert [assignee(app, i) for i in ids] == [teams["ana"], assigned["carla"]]  # all or none
    # the page now shows the current versions: sending it again applies
    form = parse(response).testid("reassign-form")
    response = sup.post(path, data={"ids": f"{ids[0]},{ids[1]}", "team": "",
                                    "version": form.one("input", name="version").attrs["value"],
                                    "agent": str(teams["sup"])})
    assert response.status_code == 302
    assert [assignee(app, i) for i in ids] == [teams["sup"], teams["sup"]]


def test_the_ticket_page_offers_reassign_with_a_version(app, teams, assigned, login_as):
    ticket = assigned["tickets"][0]
    sup = login_as(teams["sup"])
    sup.get(f"/admin/tickets/{ticket}/")
    form = parse(sup.get(f"/admin/tickets/reassign?ids={ticket}")).testid("reassign-form")
    with app.app_context():
        assert form.one("input", name="version").attrs["value"] == str(
            db.session.get(Ticket, ticket).version)


# --- 2. Customer records: supervisors edit, the e-mail through its workflow ---------------------


def customer_email(app, customer_id):
    with app.app_context():
        return db.session.get(Customer, customer_id).email


def sent_mail(app) -> list:
    """Every message the file backend wrote (instance/outbox/*.eml), parsed."""
    outbox = Path(app.config["HELPDESK_INSTANCE"]) / "outbox"
    return [message_from_bytes(p.read_bytes(), policy=default_policy)
            for p in sorted(outbox.glob("*.eml"))] if outbox.exists() else []


@pytest.fixture
def outbox(app):
    """An empty mail outbox for the test."""
    for old in Path(app.config["HELPDESK_INSTANCE"]).glob("outbox/*.eml"):
        old.unlink()
    return lambda: sent_mail(app)


def edit_form(customer_id: int, email: str) -> dict:
    return {"name": "Lucía", "email": email, "phone": "", "locale": "es", "country": "ES",
            "plan": "", "subscription_state": "", "billing_state": "", "member_since": ""}


def test_agents_read_customers_but_cannot_edit_them(app, teams, make_customer, login_as):
    customer = make_customer(email="lucia@example.com", name="Lucía")
    agent = login_as(teams["ana"])
    listing = agent.get("/admin/customers/")
    assert listing.status_code == 200 and "lucia@example.com" in listing.get_data(as_text=True)
    assert "/admin/customers/edit/" not in listing.get_data(as_text=True)
    assert agent.get(f"/admin/customers/edit/?id={customer}").status_code == 403
    response = agent.post(f"/admin/customers/edit/?id={customer}", token_from="/admin/",
                          data=edit_form(customer, "thief@evil.example"))
    assert response.status_code == 403
    assert customer_email(app, customer) == "lucia@example.com"
    with app.app_context(), pytest.raises(DomainError):
        workflows.change_customer_email(db.session.get(Customer, customer), "x@evil.example",
                                        actor=db.session.get(User, teams["ana"]))


def test_a_supervisor_changes_an_email_audited_and_the_old_address_told(
        app, teams, make_customer, login_as, run_jobs, outbox):
    customer = make_customer(email="lucia@example.com", name="Lucía")
    response = login_as(teams["sup"]).post(f"/admin/customers/edit/?id={customer}",
                                           data=edit_form(customer, "lucia@nuevo.example"))
    assert response.status_code == 302
    assert customer_email(app, customer) == "lucia@nuevo.example"
    with app.app_context():
        rows = db.session.execute(select(AuditEntry.actor_id, AuditEntry.old_value,
                                         AuditEntry.new_value).where(
            AuditEntry.entity == "customers", AuditEntry.field == "email")).all()
    assert rows == [(teams["sup"], "lucia@example.com", "lucia@nuevo.example")]
    run_jobs()
    [notice] = outbox()
    assert notice["To"] == "lucia@example.com"
    assert "lucia@nuevo.example" in notice.get_content()


def test_a_reply_queued_before_the_change_goes_to_the_address_it_was_written_to(
        app, teams, make_customer, make_ticket, run_jobs, outbox):
    customer = make_customer(email="lucia@example.com", name="Lucía")
    ticket = make_ticket(customer_id=customer)
    on_team(app, ticket, teams["cuenta"])
    with app.app_context(), workflows.atomic():
        workflows.add_reply(db.session.get(Ticket, ticket), "Hola, ya está resuelto.",
                            actor=db.session.get(User, teams["sup"]),
                            status=TicketStatus.PENDING)
    with app.app_context(), workflows.atomic():  # before any worker sent the reply
        workflows.change_customer_email(db.session.get(Customer, customer),
                                        "lucia@nuevo.example",
                                        actor=db.session.get(User, teams["sup"]))
    run_jobs()
    reply = [m for m in outbox() if "resuelto" in m.get_body(("plain",)).get_content()]
    assert [m["To"] for m in reply] == ["lucia@example.com"]
