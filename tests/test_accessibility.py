"""Accessibility basics over HTTP: every page says its language, the ticket page has unique ids,
every visible control has a label, decorative icons are hidden, and the buttons whose HTML moved
from Python into template macros (Tomar in the queue, ▲▼ in the routing list) still post."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

import pytest
from flask_login import FlaskLoginClient
from sqlalchemy import select

from app import create_app
from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import Availability, Role, RoutingRule, Ticket, User

from .conftest import signed_in_client

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
CONTROLS = {"input", "select", "textarea"}
UNLABELLED_INPUTS = {"hidden", "submit", "button", "reset", "image"}  # named by value/alt


class Outline(HTMLParser):
    """What these checks need from a page: <html>'s attributes, every element with an id, the
    labels (their `for`) and the form controls (with whether a <label> wraps them)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.html_attrs: dict | None = None
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.controls: list[tuple[str, dict, bool]] = []
        self.icons: list[dict] = []
        self.forms: list[dict] = []  # {"attrs": …, "fields": [(tag, attrs)], "buttons": […]}
        self.owned_buttons: list[dict] = []  # <button form="…"> outside their form
        self._open: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "html" and self.html_attrs is None:
            self.html_attrs = attrs
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "label" and attrs.get("for"):
            self.label_for.add(attrs["for"])
        if tag in CONTROLS:
            self.controls.append((tag, attrs, "label" in self._open))
        if tag == "i" and "fa" in attrs.get("class", "").split():
            self.icons.append(attrs)
        if tag == "form":
            self.forms.append({"attrs": attrs, "fields": [], "buttons": []})
        elif tag == "button" and attrs.get("form"):  # owned by the form its `form` names
            self.owned_buttons.append(attrs)
        elif self.forms and "form" in self._open:
            if tag in CONTROLS:
                self.forms[-1]["fields"].append(attrs)
            elif tag == "button":
                self.forms[-1]["buttons"].append(attrs)
        if tag not in VOID:
            self._open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in self._open:
            index = len(self._open) - 1 - self._open[::-1].index(tag)
            del self._open[index:]

    def unlabelled(self) -> list[dict]:
        """Visible controls without a label[for], a wrapping label, aria-label(ledby)."""
        known = set(self.ids)
        missing = []
        for tag, attrs, wrapped in self.controls:
            if tag == "input" and attrs.get("type", "text") in UNLABELLED_INPUTS:
                continue
            by_for = attrs.get("id") and attrs["id"] in self.label_for
            by_aria = attrs.get("aria-label", "").strip() or (
                attrs.get("aria-labelledby") and all(
                    i in known for i in attrs["aria-labelledby"].split()))
            if not (wrapped or by_for or by_aria):
                missing.append(attrs)
        return missing

    def form_with_button(self, testid: str) -> dict:
        """The form that button submits, as the browser sends it: a button outside its form
        (`form="id"`) brings its formaction and its own name=value."""
        for button in self.owned_buttons:
            if button.get("data-testid") == testid:
                (form,) = [f for f in self.forms if f["attrs"].get("id") == button["form"]]
                return {"attrs": {**form["attrs"], "action": button.get("formaction")
                                  or form["attrs"].get("action")},
                        "fields": form["fields"] + [button], "buttons": [button]}
        found = [f for f in self.forms if any(b.get("data-testid") == testid
                                              for b in f["buttons"])]
        assert len(found) == 1, f"expected one form with button {testid}, got {len(found)}"
        return found[0]


def outline(response) -> Outline:
    assert response.status_code == 200, response.status_code
    return Outline(response.get_data(as_text=True))


def post_form(client, form: dict):
    """Submit a form as a browser would: every named field with its value."""
    data = {f["name"]: f.get("value", "") for f in form["fields"] if f.get("name")}
    return client.post(form["attrs"]["action"], data=data)


@pytest.fixture
def desk(app, make_team, make_user, make_category, make_ticket):
    """Team Cuenta: Ana (agent) and Sara (its supervisor, who sees the team's availability);
    an admin; one unassigned ticket of the team; two routing rules."""
    team = make_team("Cuenta")
    ana = make_user(Role.AGENT, teams=[team], name="Ana Agente", availability=Availability.AWAY)
    sup = make_user(Role.SUPERVISOR, teams=[team], name="Sara Supervisora")
    admin = make_user(Role.ADMIN, name="Adán Admin")
    ticket = make_ticket("No puedo entrar", category_id=make_category("acceso", team_id=team))
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, ticket).team_id = team
        db.session.add_all([RoutingRule(name="Primera", position=10, team_id=team),
                            RoutingRule(name="Segunda", position=20, team_id=team)])
    return {"team": team, "ana": ana, "sup": sup, "admin": admin, "ticket": ticket}


@pytest.fixture(scope="module")
def csrf_app(app_config):
    """The same app with CSRF enforced, as in production: each form renders its token."""
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    app.test_client_class = FlaskLoginClient
    return app


def csrf_client(csrf_app, user_id):
    return signed_in_client(csrf_app, user_id)


def staff_urls(app, desk) -> list[str]:
    """Every GET page of the panel without URL arguments, plus a ticket's and a rule's pages."""
    urls = sorted({rule.rule for rule in app.url_map.iter_rules()
                   if rule.rule.startswith("/admin") and "GET" in rule.methods
                   and not rule.arguments and "static" not in rule.endpoint
                   and not rule.rule.endswith(("/ajax/lookup/", "/details/", "/edit/"))})
    ticket = desk["ticket"]
    with app.app_context():
        rule = db.session.scalar(select(RoutingRule.id).limit(1))
    return urls + [f"/admin/tickets/{ticket}/", f"/admin/tickets/details/?id={ticket}",
                   f"/admin/tickets/edit/?id={ticket}", f"/admin/tickets/reassign?ids={ticket}",
                   f"/admin/tickets/{ticket}/escalate",
                   f"/admin/routing/details/?id={rule}", f"/admin/routing/edit/?id={rule}"]


# --- lang on every page -------------------------------------------------------------------------


def test_every_staff_page_and_the_login_page_say_their_language(app, desk, login_as):
    client = login_as(desk["admin"])
    checked = 0
    for url in staff_urls(app, desk):
        response = client.get(url)
        assert response.status_code in (200, 302), url
        if response.status_code == 302:
            continue  # breached_view and reassign without ids redirect to the queue
        page = Outline(response.get_data(as_text=True))
        assert page.html_attrs is not None and page.html_attrs.get("lang") == "es", url
        checked += 1
    assert checked > 20  # lists, create forms, home, reports, the ticket page…

    anonymous = app.test_client()
    assert Outline(anonymous.get("/login").get_data(as_text=True)).html_attrs["lang"] == "es"
    with app.app_context():
        db.session.get(User, desk["ana"]).locale = "en"
        db.session.commit()
    english = login_as(desk["ana"])
    assert outline(english.get("/admin/")).html_attrs["lang"] == "en"
    assert outline(english.get("/admin/tickets/")).html_attrs["lang"] == "en"
    missing = english.get("/admin/tickets/999999/")  # our error page
    assert missing.status_code == 404
    assert Outline(missing.get_data(as_text=True)).html_attrs["lang"] == "en"


# --- ids and labels -----------------------------------------------------------------------------


def test_ticket_page_ids_are_unique_and_labels_point_at_them(desk, login_as):
    page = outline(login_as(desk["ana"]).get(f"/admin/tickets/{desk['ticket']}/"))
    duplicates = [i for i, n in Counter(page.ids).items() if n > 1]
    assert duplicates == []
    assert page.label_for <= set(page.ids)  # every label's `for` names an element
    # The action forms each keep their own version field, under its usual name (five on a new
    # ticket: reply, note, priority, take and the macro picker; its status menu is empty,
    # Resuelto being *Resolver*'s page).
    versions = [f for form in page.forms for f in form["fields"] if f.get("name") == "version"]
    assert len(versions) == 5 and len({f["id"] for f in versions}) == 5


def test_ticket_page_ids_stay_unique_with_csrf_tokens(csrf_app, desk):
    """Four forms, four CSRF tokens: each with its own id."""
    page = outline(csrf_client(csrf_app, desk["ana"]).get(f"/admin/tickets/{desk['ticket']}/"))
    tokens = [f for form in page.forms for f in form["fields"] if f.get("name") == "csrf_token"]
    assert len(tokens) >= 4
    assert [i for i, n in Counter(page.ids).items() if n > 1] == []


@pytest.mark.parametrize("who, url", [
    ("ana", "/admin/tickets/{ticket}/"),
    ("sup", "/admin/tickets/{ticket}/"),
    ("ana", "/admin/tickets/"),
    ("sup", "/admin/tickets/"),
    ("sup", "/admin/tickets/?search=entrar"),
    ("ana", "/admin/"),
    ("sup", "/admin/"),  # with the team's availability roster
    ("sup", "/admin/routing/"),
    ("sup", "/admin/routing/test"),
    ("admin", "/admin/customers/"),  # every list: Flask-Admin's search box and checkboxes
    ("sup", "/admin/tickets/reassign?ids={ticket}"),
    ("ana", "/admin/tickets/{ticket}/escalate"),
    ("ana", "/admin/tickets/{ticket}/resolve"),
])
def test_every_visible_control_has_a_label(desk, login_as, who, url):
    page = outline(login_as(desk[who]).get(url.format(ticket=desk["ticket"])))
    assert page.controls  # the page has a form to check
    assert page.unlabelled() == []


def test_login_page_controls_have_labels(app):
    page = outline(app.test_client().get("/login"))
    assert page.unlabelled() == []
    assert {"email", "password"} <= page.label_for


@pytest.mark.parametrize("url", ["/admin/tickets/{ticket}/", "/admin/", "/admin/tickets/",
                                 "/admin/routing/"])
def test_decorative_icons_are_hidden_from_screen_readers(desk, login_as, url):
    page = outline(login_as(desk["sup"]).get(url.format(ticket=desk["ticket"])))
    assert page.icons  # the navigation bar has some
    assert [i for i in page.icons if i.get("aria-hidden") != "true"] == []


# --- the buttons that moved from Python to macros -----------------------------------------------


def test_tomar_in_the_queue_renders_and_posts(app, csrf_app, desk):
    client = csrf_client(csrf_app, desk["ana"])  # the token inside the macro's form must work
    page = outline(client.get("/admin/tickets/"))
    form = page.form_with_button(f"take-{desk['ticket']}")
    names = {f["name"]: f.get("value") for f in form["fields"]}
    assert form["attrs"]["method"] == "post"
    assert names["csrf_token"] and names["version"]
    assert form["attrs"]["action"] == f"/admin/tickets/{desk['ticket']}/take"
    assert post_form(client, form).status_code == 302
    with app.app_context():
        assert db.session.get(Ticket, desk["ticket"]).assignee_id == desk["ana"]
    page = outline(client.get("/admin/tickets/"))
    assert not [b for b in page.owned_buttons if b.get("data-testid", "").startswith("take-")]


def test_tomar_is_not_offered_outside_the_agents_teams(desk, login_as, make_user, make_team):
    outsider = make_user(Role.AGENT, teams=[make_team("Otro")])
    page = outline(login_as(outsider).get("/admin/tickets/?flt0_0=new"))
    assert not [b for b in page.owned_buttons if b.get("data-testid", "").startswith("take-")]


def test_routing_arrows_render_and_post(app, csrf_app, desk):
    client = csrf_client(csrf_app, desk["sup"])
    with app.app_context():
        second = db.session.scalar(select(RoutingRule.id).where(RoutingRule.name == "Segunda"))
    page = outline(client.get("/admin/routing/"))
    for direction in (-1, 1):
        form = page.form_with_button(f"move-{second}-{direction}")
        assert [f["name"] for f in form["fields"]] == ["csrf_token"]
        assert form["fields"][0]["value"]
        button = form["buttons"][0]
        assert button["aria-label"].endswith("«Segunda»") and button["title"]
    assert post_form(client, page.form_with_button(f"move-{second}--1")).status_code == 302
    with app.app_context():
        names = db.session.scalars(select(RoutingRule.name).order_by(RoutingRule.position))
        assert list(names) == ["Segunda", "Primera"]


def test_details_pages_render_the_cell_macros(app, desk, login_as):
    """Flask-Admin's details page runs the same column formatters as the list."""
    client = login_as(desk["sup"])
    page = outline(client.get(f"/admin/tickets/details/?id={desk['ticket']}"))
    page.form_with_button(f"take-{desk['ticket']}")
    with app.app_context():
        first = db.session.scalar(select(RoutingRule.id).where(RoutingRule.name == "Primera"))
    page = outline(client.get(f"/admin/routing/details/?id={first}"))
    page.form_with_button(f"move-{first}-1")
