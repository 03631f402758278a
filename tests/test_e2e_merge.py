"""In headless Chromium, as an admin would: merge a duplicate through *Fusionar* (review, pick
the ticket that stays, tell the customer), link and unlink a related ticket, apply a macro from
the reply toolbar, and preview a response template in its admin form."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from helpdesk import workflows
from helpdesk.admin import queue
from helpdesk.extensions import db
from helpdesk.models import (
    Customer,
    JobIntent,
    LinkKind,
    Macro,
    Priority,
    Ticket,
    TicketLink,
    TicketStatus,
)
from tests.browser import SHOTS, require_chromium
from tests.browser import demo_app as build_demo_app

sync_api = require_chromium()
pytestmark = pytest.mark.e2e

DUPLICATE = "Escribo otra vez: sigue sin cargar el episodio 3."


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    return build_demo_app(tmp_path_factory.mktemp("e2e-merge"), redis_url, seed=17)


def open_tickets(app) -> tuple[int, int, int]:
    """An open ticket, a duplicate of it written now by its customer, and another ticket."""
    with app.app_context(), workflows.atomic():
        first, other = db.session.scalars(select(Ticket).where(
            Ticket.status == TicketStatus.OPEN).order_by(Ticket.id).limit(2)).all()
        duplicate = workflows.create_ticket(db.session.get(Customer, first.customer_id),
                                            "Sigue sin cargar", DUPLICATE, actor=None)
        duplicate.team_id = first.team_id
        macro = Macro(name="Subir a alta (e2e)", priority=Priority.HIGH)
        db.session.add(macro)
        return first.id, duplicate.id, other.id


def watch(page) -> list[str]:
    """Every response ≥ 400 and every script error of the page, as they happen."""
    problems: list[str] = []
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 else None)
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" else None)
    return problems


def test_admin_merges_links_and_applies_a_macro(demo_app, live_server, browser):
    expect = sync_api.expect
    first, duplicate, other = open_tickets(demo_app)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    problems = watch(page)
    page.goto(f"{live_server}/login")
    page.fill("#email", "admin@demo.bayit")
    page.fill("#password", "demo")
    page.click("[data-testid=login-submit]")
    expect(page).to_have_url(f"{live_server}/admin/")

    # Fusionar: name the duplicate, review, keep the first, tell the customer.
    page.goto(f"{live_server}/admin/tickets/{first}/")
    page.wait_for_load_state()
    page.get_by_test_id("merge").click()
    expect(page).to_have_url(f"{live_server}/admin/tickets/{first}/merge")
    page.get_by_test_id("merge-tickets").fill(f"#{duplicate}")
    page.get_by_test_id("merge-review").click()
    expect(page.get_by_test_id(f"merge-candidate-{duplicate}")).to_be_visible()
    expect(page.get_by_test_id(f"survivor-{first}")).to_be_checked()
    page.get_by_test_id("merge-notify").check()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "merge-form.png"), full_page=True)
    page.get_by_test_id("merge-submit").click()
    expect(page).to_have_url(f"{live_server}/admin/tickets/{first}/")
    expect(page.locator(".alert-success")).to_contain_text(f"Ticket fusionado en #{first}.")
    expect(page.get_by_test_id("thread")).to_contain_text(DUPLICATE)
    expect(page.get_by_test_id("linked-tickets")).to_contain_text(f"#{duplicate}")
    with demo_app.app_context():
        assert db.session.get(Ticket, duplicate).status is TicketStatus.RESOLVED
        assert db.session.scalar(select(JobIntent).where(
            JobIntent.key == workflows.MERGE_MAIL_KEY.format(duplicate))) is not None

    # Link another ticket as related, then remove the link.
    page.get_by_test_id("link-kind").select_option("related")
    page.get_by_test_id("link-other").fill(str(other))
    page.get_by_test_id("link-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("Tickets vinculados.")
    expect(page.get_by_test_id(f"link-{other}")).to_contain_text("Relacionado")
    expect(page.get_by_test_id("thread")).to_contain_text(f"vinculó este ticket con #{other}")
    with demo_app.app_context():
        link = db.session.scalar(select(TicketLink).where(TicketLink.other_id == other))
        assert (link.ticket_id, link.kind) == (first, LinkKind.RELATED)
    page.wait_for_load_state()
    page.get_by_test_id(f"unlink-{other}").click()
    expect(page.locator(".alert-success")).to_contain_text("Vínculo quitado.")
    expect(page.get_by_test_id(f"link-{other}")).to_have_count(0)
    expect(page.get_by_test_id("thread")).to_contain_text(f"quitó el vínculo con #{other}")

    # A macro from the reply toolbar (its options arrive after the page).
    page.wait_for_load_state()
    picker = page.get_by_test_id("macro-select")
    expect(picker).to_be_enabled()
    picker.select_option(label="Subir a alta (e2e)")
    page.get_by_test_id("macro-apply").click()
    expect(page.locator(".alert-success")).to_contain_text("Macro aplicada.")
    with demo_app.app_context():
        assert db.session.get(Ticket, first).priority is Priority.HIGH
        assert db.session.scalar(select(Macro.times_used).where(
            Macro.name == "Subir a alta (e2e)")) == 1
    page.screenshot(path=str(SHOTS / "merged-ticket.png"), full_page=True)

    # The merged ticket says where it went.
    page.goto(f"{live_server}/admin/tickets/{duplicate}/")
    expect(page.get_by_test_id("merged-into")).to_contain_text(f"#{first}")
    expect(page.get_by_test_id("ticket-status")).to_have_text(f"Fusionado en #{first}")
    # …and so does the queue, where *Fusionado* is a filter.
    view = next(v for v in demo_app.extensions["admin"][0]._views
                if getattr(v, "endpoint", None) == "tickets")
    page.goto(f"{live_server}/admin/tickets/?"
              + urlencode(queue.filter_args(view, [(queue.MERGED, "1")])))
    expect(page.get_by_test_id(f"merged-{duplicate}")).to_have_text(f"Fusionado en #{first}")
    expect(page.locator("input[name=rowid]")).to_have_count(1)

    # Plantillas: the form's preview against a sample ticket.
    page.goto(f"{live_server}/admin/templates/new/")
    page.wait_for_load_state()
    page.locator("#body").fill("Hola {{ cliente.nombre }}, ticket {{ ticket.numero }}.")
    page.get_by_test_id("preview-ticket").fill(str(first))
    page.get_by_test_id("template-preview-button").click()
    expect(page.get_by_test_id("template-preview-text")).to_contain_text(f"ticket #{first}.")
    page.locator("#body").fill("Hola {{ cliente.apellido }}")
    page.get_by_test_id("template-preview-button").click()
    expect(page.get_by_test_id("template-preview-error")).to_contain_text("Marcador desconocido")
    page.screenshot(path=str(SHOTS / "template-preview.png"), full_page=True)
    page.close()
    # The refused preview answers 422 on purpose; nothing else may fail.
    assert [p for p in problems if "/admin/templates/preview/" not in p
            and "422" not in p] == [], problems
