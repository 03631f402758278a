"""Every form each demo role may use, submitted in headless Chromium with valid data.

One test per role (admin, supervisor, agent) walks the panel as that person: the create and edit
form of every configuration view the role may write (the list comes from the views' own
`write_roles`, so a new view without a driver here fails), the ticket's create (the select2
customer picker driven by typing) and edit, the ticket page's take, note, priority, reply,
status and — supervisors and admins — reassign, availability (their own; a team member's for
supervisors and admins), the language switch and logout. Each submission must say it worked on
the page and change the row in the database; any response of 400 or more, a JavaScript error,
a missing success message or a field that did not reach its column fails the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash

from helpdesk import queries, rules
from helpdesk.admin.base import StaffModelView
from helpdesk.extensions import db
from helpdesk.models import (
    Availability,
    BusinessCalendar,
    Category,
    Customer,
    EscalationReason,
    Macro,
    Message,
    MessageKind,
    Notification,
    Priority,
    ResolutionCategory,
    ResponseTemplate,
    Role,
    RoutingRule,
    SlaPolicy,
    Strategy,
    Team,
    Ticket,
    TicketStatus,
    User,
)
from tests.browser import SHOTS, require_chromium
from tests.browser import demo_app as build_demo_app

sync_api = require_chromium()
pytestmark = pytest.mark.e2e

ROLES = {"admin": "admin@demo.bayit", "supervisor": "supervisor@demo.bayit",
         "agent": "agente1@demo.bayit"}
#: The SLA priority whose policy each role creates (the seed has one for every priority; the
#: fixture removes these two so a create with valid data is possible).
FREE_SLA = {"admin": Priority.LOW, "supervisor": Priority.HIGH}
CREATED = "Creado correctamente."
SAVED = "Guardado correctamente."


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    """An app on its own demo database, for the server and for look-ups."""
    app = build_demo_app(tmp_path_factory.mktemp("e2e-forms"), redis_url, seed=23)
    with app.app_context():
        db.session.execute(delete(SlaPolicy).where(SlaPolicy.priority.in_(FREE_SLA.values())))
        for user in db.session.scalars(select(User).where(User.email.in_(ROLES.values()))):
            db.session.add(Notification(user=user, kind="info", message="Aviso de prueba e2e."))
        db.session.commit()
    return app


# --- Driving forms ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """An ajax picker (form_ajax_refs): type `query`, pick the result reading `pick`."""

    query: str
    pick: str


@dataclass(frozen=True)
class Holiday:
    """One new row of the calendar's inline holidays."""

    day: str
    name: str


class Panel:
    """One person's page, failing on any error response or script error it sees."""

    def __init__(self, page, base: str):
        self.page, self.base, self.problems = page, base, []
        page.on("response", self._response)
        page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        page.on("console", self._console)

    def _console(self, message):
        if "Content Security Policy" in message.text:
            self.problems.append(f"CSP: {message.text}")

    def _response(self, response):
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.problems.append(f"{response.status} {response.request.method} {response.url}")

    def check(self):
        """No 4xx/5xx, no script error and no Content-Security-Policy violation so far."""
        problems, self.problems[:] = list(self.problems), []
        assert not problems, problems

    def goto(self, path: str):
        self.page.goto(self.base + path)
        self.check()

    def flashed(self, text: str):
        """The page says it worked (and nothing says it did not)."""
        expect = sync_api.expect
        try:
            expect(self.page.locator(".alert-success")).to_contain_text(text)
        except AssertionError:
            self.check()  # name the 400/500 first, if that is why
            raise
        self.page.wait_for_load_state()  # its scripts too, before anyone clicks on
        errors = self.page.locator(".alert-danger:visible").all_inner_texts()
        assert not errors, errors
        self.check()

    def login(self, email: str):
        self.goto("/login")
        self.page.get_by_label("Correo electrónico").fill(email)
        self.page.get_by_label("Contraseña").fill("demo")
        self.page.get_by_test_id("login-submit").click()
        sync_api.expect(self.page).to_have_url(f"{self.base}/admin/")
        self.check()

    # Flask-Admin forms: fill by field name, whatever widget renders the field.

    def fill(self, values: dict):
        form = self.page.locator("form.admin-form")
        for name, value in values.items():
            field = form.locator(f"[name='{name}']")
            if isinstance(value, Holiday):
                self._add_holiday(form, value)
            elif isinstance(value, Lookup):
                self._select2(field, [value.pick], query=value.query)
            elif isinstance(value, bool):
                field.set_checked(value)
            elif field.get_attribute("data-role") == "select2":
                self._select2(field, [value] if isinstance(value, str) else value)
            elif field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(label=value)
            else:
                field.fill(value)
                field.press("Tab")  # closes a date picker, as a user moving on would

    def _select2(self, field, picks, query=None):
        """Pick options in a select2 widget as a user does: open it, type, click the result.
        A multiple select keeps what it had and adds `picks`."""
        container = field.locator(
            "xpath=preceding-sibling::div[contains(@class, 'select2-container')][1]")
        multiple = "select2-container-multi" in (container.get_attribute("class") or "")
        for pick in picks:
            if multiple:
                search = container.locator("input.select2-input")
                search.click()
            else:
                container.locator("a.select2-choice").click()
                search = self.page.locator(".select2-drop-active:visible input.select2-input")
            search.press_sequentially(query or pick[:4])
            result = self.page.locator(".select2-drop-active:visible .select2-result-selectable",
                                       has_text=re.compile(rf"^\s*{re.escape(pick)}\s*$"))
            result.click()

    def _add_holiday(self, form, holiday: Holiday):
        rows = form.locator("input[name^='holidays-'][name$='-day']")
        index = rows.count()
        self.page.get_by_role("button", name=re.compile("Festivo")).click()
        new = form.locator(f"input[name^='holidays-'][name$='-day'] >> nth={index}")
        new.fill(holiday.day)
        new.press("Tab")
        form.locator(f"input[name^='holidays-'][name$='-name'] >> nth={index}").fill(
            holiday.name)

    def bulk_action(self, ids, action: str):
        """Tick these rows of a Flask-Admin list and run one action "Con seleccionados"."""
        # The menu opens by script: a click before the page's scripts ran (a slow machine,
        # right after a tab link) opens nothing, as it would for a person.
        self.page.wait_for_load_state("load")
        for row_id in ids:
            self.page.locator(f"input[name=rowid][value='{row_id}']").check()
        self.page.get_by_role("button", name="Con seleccionados").click()
        self.page.get_by_role("link", name=action, exact=True).click()

    def save(self, flash: str, *, continue_editing: bool = False):
        """Guardar (back to the list) or Guardar y continuar editando (on to the edit form)."""
        name = "Guardar y continuar editando" if continue_editing else "Guardar"
        self.page.get_by_role("button", name=name, exact=True).click()
        self.flashed(flash)


# --- What each configuration view's forms get, and where it lands ------------------------------


@dataclass(frozen=True)
class ConfigForm:
    """A configuration view's create and edit: the values typed (by field name) and the
    columns they must reach (attribute path → value; lists of rows compare by name)."""

    model: type
    key: str
    create: dict
    expect_create: dict
    edit: dict
    expect_edit: dict


def config_forms(role: str) -> dict[str, ConfigForm]:
    """Per endpoint, with names unique to the role so the three tests never collide."""
    tag = f"e2e {role}"
    slug = f"e2e-{role}"
    forms = {
        "templates": ConfigForm(
            ResponseTemplate, "name",
            {"name": f"Plantilla {tag}", "category": "Acceso a la cuenta", "locale": "English",
             "body": "Hello {{ cliente.nombre }}, ticket {{ ticket.numero }}.", "active": True},
            {"name": f"Plantilla {tag}", "category.name": "Acceso a la cuenta",
             "locale": "en", "body": "Hello {{ cliente.nombre }}, ticket {{ ticket.numero }}.",
             "active": True},
            {"body": "Hi {{ cliente.nombre }}.", "active": False},
            {"body": "Hi {{ cliente.nombre }}.", "active": False, "locale": "en",
             "category.name": "Acceso a la cuenta"}),
        "macros": ConfigForm(
            Macro, "name",
            {"name": f"Macro {tag}", "status": "Pendiente", "priority": "Alta",
             "category": "Acceso a la cuenta", "active": True},
            {"name": f"Macro {tag}", "status": TicketStatus.PENDING, "priority": Priority.HIGH,
             "category.name": "Acceso a la cuenta", "active": True},
            {"priority": "Urgente", "active": False},
            {"priority": Priority.URGENT, "active": False, "status": TicketStatus.PENDING,
             "category.name": "Acceso a la cuenta"}),
        "customers": ConfigForm(
            Customer, "email",
            {"name": f"Cliente {tag}", "email": f"{slug}@example.com", "phone": "+34 600 000 000",
             "locale": "English", "country": "AR", "plan": "Premium",
             "subscription_state": "Activa", "billing_state": "Al día",
             "member_since": "2023-04-05"},
            {"name": f"Cliente {tag}", "email": f"{slug}@example.com",
             "phone": "+34 600 000 000", "locale": "en", "country": "AR", "plan": "Premium",
             "subscription_state": "activa", "billing_state": "al_dia",
             "member_since": date(2023, 4, 5)},
            {"plan": "Básico", "country": "MX"},
            {"plan": "Básico", "country": "MX", "phone": "+34 600 000 000",
             "member_since": date(2023, 4, 5), "locale": "en"}),
        "categories": ConfigForm(
            Category, "code",
            {"code": slug, "name": f"Categoría {tag}", "description": "Para las pruebas.",
             "default_team": "Técnico", "active": True},
            {"code": slug, "name": f"Categoría {tag}", "description": "Para las pruebas.",
             "default_team.name": "Técnico", "active": True},
            {"name": f"Categoría {tag} bis", "default_team": "Facturación"},
            {"name": f"Categoría {tag} bis", "default_team.name": "Facturación",
             "description": "Para las pruebas.", "active": True}),
        "escalation_reasons": ConfigForm(
            EscalationReason, "name",
            {"name": f"Motivo {tag}", "description": "Cliente VIP.", "active": True},
            {"name": f"Motivo {tag}", "description": "Cliente VIP.", "active": True},
            {"description": "Cliente VIP con contrato.", "active": False},
            {"description": "Cliente VIP con contrato.", "active": False}),
        "resolution_categories": ConfigForm(
            ResolutionCategory, "name",
            {"name": f"Resolución {tag}", "description": "Resuelto en la prueba.",
             "active": True},
            {"name": f"Resolución {tag}", "description": "Resuelto en la prueba.",
             "active": True},
            {"description": "Resuelto de nuevo.", "active": False},
            {"description": "Resuelto de nuevo.", "active": False}),
        "routing": ConfigForm(
            RoutingRule, "name",
            {"name": f"Regla {tag}", "position": "900", "enabled": True,
             "category": "Dispositivos y apps", "priority": "Alta", "channel": "Chat",
             "plan": "Premium", "country": "España", "language": "Español",
             "keywords": "smart tv, chromecast", "team": "Técnico",
             "priority_override": "Urgente", "strategy": "Menor carga"},
            {"name": f"Regla {tag}", "position": 900, "enabled": True,
             "category.name": "Dispositivos y apps", "priority": Priority.HIGH,
             "channel": "chat", "plan": "Premium", "country": "ES", "language": "es",
             "keywords": "smart tv, chromecast", "team.name": "Técnico",
             "priority_override": Priority.URGENT, "strategy": Strategy.LEAST_LOADED},
            {"keywords": "smart tv, chromecast, roku", "team": "Contenido", "enabled": False},
            {"keywords": "smart tv, chromecast, roku", "team.name": "Contenido",
             "enabled": False, "position": 900, "category.name": "Dispositivos y apps",
             "priority_override": Priority.URGENT}),
        "calendars": ConfigForm(
            BusinessCalendar, "name",
            {"name": f"Horario {tag}", "timezone": "America/Mexico_City",
             "hours_text": "lun-vie 09:00-18:00",
             "holidays": Holiday("2031-12-25", "Navidad e2e")},
            {"name": f"Horario {tag}", "timezone": "America/Mexico_City",
             "hours": rules.parse_hours("lun-vie 09:00-18:00"), "holidays": ["Navidad e2e"]},
            {"timezone": "America/Argentina/Buenos_Aires",
             "hours_text": "lun-vie 08:00-16:00\nsáb 10:00-13:00",
             "holidays": Holiday("2031-01-01", "Año nuevo e2e")},
            {"timezone": "America/Argentina/Buenos_Aires",
             "hours": rules.parse_hours("lun-vie 08:00-16:00\nsáb 10:00-13:00"),
             "holidays": ["Año nuevo e2e", "Navidad e2e"]}),
        "teams": ConfigForm(
            Team, "name",
            {"name": f"Equipo {tag}", "description": "Equipo de prueba.",
             "email": f"{slug}@bayit.example", "strategy": "Menor carga", "active": True,
             "members": ["Javier Moreno", "Laura Jiménez"], "supervisors": ["Sergio Supervisor"]},
            {"name": f"Equipo {tag}", "description": "Equipo de prueba.",
             "email": f"{slug}@bayit.example", "strategy": Strategy.LEAST_LOADED, "active": True,
             "members": ["Javier Moreno", "Laura Jiménez"], "supervisors": ["Sergio Supervisor"]},
            {"description": "Equipo de prueba, ampliado.", "members": ["Hugo Martín"]},
            {"description": "Equipo de prueba, ampliado.",
             "members": ["Hugo Martín", "Javier Moreno", "Laura Jiménez"],
             "supervisors": ["Sergio Supervisor"], "email": f"{slug}@bayit.example"}),
        "agents": ConfigForm(
            User, "email",
            {"name": f"Agente {tag}", "email": f"agente-{slug}@bayit.example",
             "password": "una-clave-larga-1", "role": "Agente", "active": True,
             "teams": ["Cuenta"], "skills": ["Facturación y pagos"],
             "availability": "Ausente", "capacity": "7", "locale": "English",
             "timezone": "America/Mexico_City"},
            {"name": f"Agente {tag}", "email": f"agente-{slug}@bayit.example",
             "role": Role.AGENT, "active": True, "teams": ["Cuenta"],
             "skills": ["Facturación y pagos"], "availability": Availability.AWAY,
             "capacity": 7, "locale": "en", "timezone": "America/Mexico_City"},
            {"capacity": "9", "teams": ["Técnico"]},
            {"capacity": 9, "teams": ["Cuenta", "Técnico"], "skills": ["Facturación y pagos"],
             "availability": Availability.AWAY, "locale": "en"}),
    }
    if role in FREE_SLA:
        label = {Priority.LOW: "Baja", Priority.HIGH: "Alta"}[FREE_SLA[role]]
        forms["sla"] = ConfigForm(
            SlaPolicy, "priority",
            {"priority": label, "first_response_minutes": "300", "resolution_minutes": "3000",
             "calendar": "Horario de oficina Madrid"},
            {"priority": FREE_SLA[role], "first_response_minutes": 300,
             "resolution_minutes": 3000, "calendar.name": "Horario de oficina Madrid"},
            {"first_response_minutes": "360"},
            {"first_response_minutes": 360, "resolution_minutes": 3000,
             "calendar.name": "Horario de oficina Madrid"})
    return forms


# --- Reading what landed --------------------------------------------------------------------


def _read(row, path: str):
    value = row
    for part in path.split("."):
        value = None if value is None else getattr(value, part)
    if isinstance(value, list):
        return sorted(item.name for item in value)
    return value


def stored(app, model, key: str, key_value, paths) -> tuple[int, dict]:
    """The row whose `key` is `key_value`: its id and the values at `paths`."""
    with app.app_context():
        row = db.session.scalar(select(model).where(getattr(model, key) == key_value))
        assert row is not None, f"no {model.__name__} with {key} = {key_value!r} was saved"
        return row.id, {path: _read(row, path) for path in paths}


def _sorted(expected: dict) -> dict:
    return {k: sorted(v) if isinstance(v, list) else v for k, v in expected.items()}


def writable_endpoints(app, role: Role) -> set[str]:
    """The Flask-Admin model views whose create/edit this role may submit."""
    return {view.endpoint for view in app.extensions["admin"][0]._views
            if isinstance(view, StaffModelView) and role in view.write_roles}


def submit_config_forms(panel: Panel, app, role: str, forms: dict[str, ConfigForm]):
    """Create a row in each of these configuration views, then edit it; both must land."""
    for endpoint, spec in forms.items():
        panel.goto(f"/admin/{endpoint}/new/")
        panel.fill(spec.create)
        if endpoint == "teams":
            panel.page.screenshot(path=str(SHOTS / f"forms-{role}-team-create.png"),
                                  full_page=True)
        panel.save(CREATED, continue_editing=True)
        key_value = spec.expect_create[spec.key]
        row_id, got = stored(app, spec.model, spec.key, key_value, spec.expect_create)
        assert got == _sorted(spec.expect_create), f"{endpoint} create"
        if endpoint == "agents":
            with app.app_context():
                user = db.session.get(User, row_id)
                assert check_password_hash(user.password_hash, spec.create["password"])

        sync_api.expect(panel.page).to_have_url(re.compile(
            rf"/admin/{endpoint}/edit/\?id={row_id}(&|$)"))
        panel.fill(spec.edit)
        panel.save(SAVED)
        key_value = spec.expect_edit.get(spec.key, key_value)
        edited_id, got = stored(app, spec.model, spec.key, key_value, spec.expect_edit)
        assert (edited_id, got) == (row_id, _sorted(spec.expect_edit)), f"{endpoint} edit"
        if endpoint == "agents":  # a blank password on edit keeps the old one
            with app.app_context():
                user = db.session.get(User, row_id)
                assert check_password_hash(user.password_hash, spec.create["password"])


def routing_list_forms(panel: Panel, app, role: str, default_team: str):
    """The routing list's own forms: bulk enable, ▲ reorder, the default team, and Probar."""
    expect, page = sync_api.expect, panel.page
    with app.app_context():
        rule = db.session.scalar(select(RoutingRule).where(RoutingRule.name == f"Regla e2e {role}"))
        rule_id, before = rule.id, [r.id for r in queries.routing_rules_ordered()]
    panel.goto("/admin/routing/")
    panel.bulk_action([rule_id], "Activar")  # the edit above disabled it
    panel.flashed("1 regla actualizada.")
    with app.app_context():
        assert db.session.get(RoutingRule, rule_id).enabled is True

    page.get_by_test_id(f"move-{rule_id}--1").click()
    expect(page).to_have_url(f"{panel.base}/admin/routing/")
    panel.check()
    index = before.index(rule_id)
    moved = before[:index - 1] + [rule_id, before[index - 1]] + before[index + 1:]
    with app.app_context():
        assert [r.id for r in queries.routing_rules_ordered()] == moved
    rows = page.locator("table.model-list tbody input[name=rowid]")
    assert [int(v) for v in rows.evaluate_all("els => els.map(e => e.value)")] == moved

    form = page.get_by_test_id("default-team")
    form.get_by_label(re.compile("Equipo por defecto")).select_option(label=default_team)
    form.get_by_role("button", name="Guardar").click()
    panel.flashed("Equipo por defecto guardado.")
    with app.app_context():
        team_id = db.session.scalar(select(Team.id).where(Team.name == default_team))
        assert queries.get_setting("routing.default_team_id") == team_id

    page.get_by_test_id("routing-test").click()
    probe = page.get_by_test_id("routing-test-form")
    probe.get_by_label("Categoría").select_option(label="Dispositivos y apps")
    probe.get_by_label("Prioridad").select_option(label="Alta")
    probe.get_by_label("Canal").select_option(label="Chat")
    # The rule form's pickers: a plan customers have, a country by its name.
    panel._select2(probe.locator("[name='plan']"), ["Premium"])
    panel._select2(probe.locator("[name='country']"), ["España"], query="Espa")
    probe.get_by_label("Asunto y mensaje").fill("La app de mi smart tv no abre")
    page.get_by_test_id("routing-test-submit").click()
    result = page.get_by_test_id("routing-result")
    expect(result).to_contain_text("Contenido")  # the e2e rules send such tickets there
    expect(result.locator("[data-testid$='-match']")).to_contain_text("Regla e2e")
    panel.check()


# --- Tickets ------------------------------------------------------------------------------------


def a_customer(app) -> tuple[int, str, str]:
    """A seeded customer with a name no other customer has: (id, name, e-mail)."""
    with app.app_context():
        for customer in db.session.scalars(select(Customer).order_by(Customer.id).limit(20)):
            same = db.session.scalars(select(Customer.id).where(
                Customer.name == customer.name)).all()
            if len(same) == 1:
                return customer.id, customer.name, customer.email
    pytest.fail("no seeded customer with a unique name")


def create_and_edit_ticket(panel: Panel, app, role: str) -> int:
    """The ticket form: the customer picked by typing in the select2 search, then an edit."""
    customer_id, name, email = a_customer(app)
    subject = f"La app se cierra al abrir un episodio ({role})"
    body = "Desde ayer la app se cierra en cuanto le doy a reproducir."
    panel.goto("/admin/tickets/new/")
    panel.fill({"customer": Lookup(email.split("@")[0], f"{name} <{email}>"),
                "subject": subject, "body": body, "category": "Dispositivos y apps",
                "priority": "Alta", "channel": "App"})
    panel.page.screenshot(path=str(SHOTS / f"forms-{role}-ticket-create.png"), full_page=True)
    panel.save(CREATED)
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.subject == subject))
        assert ticket is not None, "the ticket was not saved"
        assert (ticket.customer_id, ticket.category.name, ticket.priority, ticket.channel.value,
                ticket.status) == (customer_id, "Dispositivos y apps", Priority.HIGH, "app",
                                   TicketStatus.NEW)
        assert [(m.kind, m.body) for m in ticket.messages] == [(MessageKind.CUSTOMER, body)]
        ticket_id = ticket.id

    panel.goto(f"/admin/tickets/edit/?id={ticket_id}")
    panel.fill({"subject": f"{subject} — Android TV", "category": "Problemas de reproducción"})
    panel.save(SAVED)
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        assert (ticket.subject, ticket.category.name, ticket.priority, ticket.customer_id) == (
            f"{subject} — Android TV", "Problemas de reproducción", Priority.HIGH, customer_id)
    return ticket_id


def unassigned_team_ticket(app, email: str) -> int:
    """A new, unassigned ticket of one of this agent's teams (one they may take)."""
    with app.app_context():
        agent = db.session.scalar(select(User).where(User.email == email))
        ticket_id = db.session.scalar(
            select(Ticket.id).where(Ticket.assignee_id.is_(None),
                                    Ticket.status == TicketStatus.NEW,
                                    Ticket.team_id.in_([t.id for t in agent.teams]))
            .order_by(Ticket.id))
    assert ticket_id is not None, "the demo seed has no unassigned ticket of agente1's teams"
    return ticket_id


def ticket_row(app, ticket_id: int) -> Ticket:
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        db.session.expunge(ticket)
        return ticket


def last_message(app, ticket_id: int, kind: MessageKind) -> str:
    with app.app_context():
        return db.session.scalar(select(Message.body).where(
            Message.ticket_id == ticket_id, Message.kind == kind).order_by(Message.id.desc()))


def work_ticket(panel: Panel, app, role: str, ticket_id: int, me: int):
    """Take, note, priority, reply and status on the ticket page; each lands."""
    page = panel.page
    panel.goto(f"/admin/tickets/{ticket_id}/")
    page.get_by_test_id("take").click()
    panel.flashed("Ahora el ticket es tuyo.")
    assert ticket_row(app, ticket_id).assignee_id == me

    note = f"Nota de prueba ({role}): revisar versión de la app."
    page.get_by_test_id("note-body").fill(note)
    page.get_by_test_id("add-note").click()
    panel.flashed("Nota interna añadida.")
    assert last_message(app, ticket_id, MessageKind.NOTE) == note

    page.get_by_test_id("priority-select").select_option(label="Urgente")
    page.get_by_test_id("change-priority").click()
    panel.flashed("Prioridad actualizada.")
    assert ticket_row(app, ticket_id).priority is Priority.URGENT

    page.get_by_test_id("reply-body").fill("Hola, {{ ticket.numero }} ya está en revisión.")
    page.get_by_test_id("reply-status").select_option(value="pending")
    page.get_by_test_id("send-reply").click()
    panel.flashed("Respuesta enviada al cliente.")
    assert last_message(app, ticket_id, MessageKind.REPLY) == \
        f"Hola, #{ticket_id} ya está en revisión."
    assert ticket_row(app, ticket_id).status is TicketStatus.PENDING

    page.get_by_test_id("status-select").select_option(label="Abierto")
    page.get_by_test_id("change-status").click()
    panel.flashed("Estado actualizado.")
    assert ticket_row(app, ticket_id).status is TicketStatus.OPEN
    page.screenshot(path=str(SHOTS / f"forms-{role}-ticket-worked.png"), full_page=True)


BULK_REASSIGN = "[data-model-action=reassign]"  # the queue's bulk action


def take_from_queue(panel: Panel, app, me: int, team_ids) -> int:
    """The queue's *Sin asignar* tab and its Tomar button: the ticket opens, now mine."""
    with app.app_context():
        ticket_id = db.session.scalar(
            select(Ticket.id).where(Ticket.assignee_id.is_(None),
                                    Ticket.status == TicketStatus.NEW,
                                    Ticket.team_id.in_(team_ids)).order_by(Ticket.id))
    assert ticket_id is not None, "the demo seed has no unassigned ticket left to take"
    panel.goto("/admin/tickets/")
    panel.page.get_by_test_id("view-unassigned").click()
    panel.page.get_by_test_id(f"take-{ticket_id}").click()
    sync_api.expect(panel.page).to_have_url(f"{panel.base}/admin/tickets/{ticket_id}/")
    panel.flashed("Ahora el ticket es tuyo.")
    assert ticket_row(app, ticket_id).assignee_id == me
    return ticket_id


def bulk_reassign(panel: Panel, app, ticket_id: int, team: str, agent: str):
    """Supervisors: tick the ticket in *Mis tickets*, Con seleccionados → Reasignar, apply."""
    page = panel.page
    panel.goto("/admin/tickets/")
    page.get_by_test_id("view-mine").click()
    sync_api.expect(page.locator(BULK_REASSIGN)).to_have_count(1)
    panel.bulk_action([ticket_id], "Reasignar")
    sync_api.expect(page.get_by_test_id("reassign-tickets")).to_contain_text(f"#{ticket_id}")
    _reassign_form(panel, app, ticket_id, team, agent)


def reassign_ticket(panel: Panel, app, ticket_id: int, team: str, agent: str):
    """Supervisors: the ticket page's Reasignar form, to a team and one of its agents."""
    panel.page.get_by_test_id("reassign").click()
    panel.check()
    _reassign_form(panel, app, ticket_id, team, agent)


def _reassign_form(panel: Panel, app, ticket_id: int, team: str, agent: str):
    page = panel.page
    page.get_by_label("Equipo", exact=True).select_option(label=team)
    agents = page.get_by_label("Agente", exact=True)
    option = agents.locator("option", has_text=re.compile(rf"^{re.escape(agent)} \("))
    agents.select_option(label=option.inner_text())  # "Name (Team, Team)"
    page.get_by_test_id("reassign-submit").click()
    sync_api.expect(page).to_have_url(re.compile(rf"/admin/tickets/{ticket_id}/$"))
    panel.flashed("1 ticket reasignado.")
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        assert (ticket.team.name, ticket.assignee.name) == (team, agent)


# --- Home page, language, logout ----------------------------------------------------------------


def availability_of(app, name: str) -> Availability:
    with app.app_context():
        return db.session.scalar(select(User.availability).where(User.name == name))


def set_availability(panel: Panel, app, me: str, member: str | None):
    """Your own availability; a team member's from the roster (supervisors, admins)."""
    page = panel.page
    panel.goto("/admin/")
    mine = page.get_by_test_id("my-availability")
    mine.get_by_label("Mi disponibilidad").select_option(label="Ausente")
    mine.get_by_role("button", name="Guardar").click()
    panel.flashed(f"{me}: Ausente")
    assert availability_of(app, me) is Availability.AWAY
    if member is None:
        sync_api.expect(page.get_by_test_id("roster")).to_have_count(0)
        return
    row = page.get_by_test_id("roster").get_by_role("row").filter(has_text=member)
    row.get_by_label("Disponibilidad").select_option(label="Desconectado")
    row.get_by_role("button", name="Guardar").click()
    panel.flashed(f"{member}: Desconectado")
    assert availability_of(app, member) is Availability.OFFLINE


def read_notices(panel: Panel, app, me: int):
    """Marcar como leídos: the notices and the bell's count go, and they are read."""
    expect, page = sync_api.expect, panel.page
    panel.goto("/admin/")
    expect(page.get_by_test_id("notice-list")).to_contain_text("Aviso de prueba e2e.")
    expect(page.get_by_test_id("notices-count")).to_have_text("1")
    page.get_by_test_id("notices-read").click()
    expect(page).to_have_url(f"{panel.base}/admin/")
    expect(page.get_by_test_id("notice-list")).to_have_count(0)
    expect(page.get_by_test_id("notices-count")).to_have_count(0)
    panel.check()
    with app.app_context():
        read_at = db.session.scalars(select(Notification.read_at).where(
            Notification.user_id == me)).all()
    assert read_at and None not in read_at


def locale_of(app, email: str) -> str:
    with app.app_context():
        return db.session.scalar(select(User.locale).where(User.email == email))


def switch_language(panel: Panel, app, email: str):
    """English and back: the menu follows and the choice is remembered on the user."""
    expect, page = sync_api.expect, panel.page
    page.get_by_test_id("locale-en").click()
    expect(page.get_by_role("link", name="Support", exact=True)).to_be_visible()
    panel.check()
    assert locale_of(app, email) == "en"
    page.get_by_test_id("locale-es").click()
    expect(page.get_by_role("link", name="Soporte", exact=True)).to_be_visible()
    panel.check()
    assert locale_of(app, email) == "es"


def log_out(panel: Panel):
    """Logout says so, and the panel asks for a login again."""
    expect, page = sync_api.expect, panel.page
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(f"{panel.base}/login")
    expect(page.get_by_role("alert")).to_contain_text("Has cerrado la sesión.")
    panel.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/login\?next="))


# --- The tests ----------------------------------------------------------------------------------

#: role → (its Role, a roster member whose availability it sets, reassign target team/agent,
#: the routing default team it chooses)
PLAN = {
    "admin": (Role.ADMIN, "Carmen Ruiz", ("Facturación", "María José Ortega"), "Contenido"),
    "supervisor": (Role.SUPERVISOR, "Javier Moreno", ("Cuenta", "Javier Moreno"), "Técnico"),
    "agent": (Role.AGENT, None, None, None),
}


@pytest.mark.parametrize("role", list(ROLES))
def test_role_submits_every_form(demo_app, live_server, browser, role):
    email = ROLES[role]
    role_enum, member, reassign, default_team = PLAN[role]
    writable = writable_endpoints(demo_app, role_enum) - {"tickets"}
    drivers = config_forms(role)
    assert writable <= set(drivers), \
        f"views {role} may write with no form driver here: {writable - set(drivers)}"
    with demo_app.app_context():
        me = db.session.scalar(select(User).where(User.email == email))
        me_id, me_name = me.id, me.name
        queue_teams = [team.id for team in me.teams] or list(
            db.session.scalars(select(Team.id)))
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    panel = Panel(page, live_server)
    try:
        panel.login(email)
        submit_config_forms(panel, demo_app, role,
                            {e: f for e, f in drivers.items() if e in writable})
        if "routing" in writable:
            routing_list_forms(panel, demo_app, role, default_team)
        ticket_id = create_and_edit_ticket(panel, demo_app, role)
        if role_enum is Role.AGENT:  # an agent takes only their teams' tickets
            panel.goto(f"/admin/tickets/{ticket_id}/")  # not routed yet: no team
            sync_api.expect(page.get_by_test_id("ticket-status")).to_have_text("Nuevo")
            sync_api.expect(page.get_by_test_id("take")).to_have_count(0)
            ticket_id = unassigned_team_ticket(demo_app, email)
        work_ticket(panel, demo_app, role, ticket_id, me_id)
        if reassign:
            reassign_ticket(panel, demo_app, ticket_id, *reassign)
        else:
            sync_api.expect(page.get_by_test_id("reassign")).to_have_count(0)
        taken = take_from_queue(panel, demo_app, me_id, queue_teams)
        if reassign:
            bulk_reassign(panel, demo_app, taken, "Contenido", "Pablo Navarro")
        else:
            panel.goto("/admin/tickets/")  # no bulk Reasignar either
            sync_api.expect(page.locator(BULK_REASSIGN)).to_have_count(0)
        read_notices(panel, demo_app, me_id)
        set_availability(panel, demo_app, me_name, member)
        page.screenshot(path=str(SHOTS / f"forms-{role}-home.png"), full_page=True)
        switch_language(panel, demo_app, email)
        log_out(panel)
    finally:
        page.close()
