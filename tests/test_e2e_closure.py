"""In headless Chromium, as people would: an agent resolves a ticket through *Resolver*; an hour
later the customer opens the survey link from the captured e-mail, picks 4, writes a comment and
submits; the rating shows on the ticket page."""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import select

from helpdesk import rules, workflows
from helpdesk.extensions import QUEUES, db, get_queue
from helpdesk.models import ResolutionRound, SatisfactionRating, Ticket, TicketStatus, User
from tests.browser import SHOTS, require_chromium
from tests.browser import demo_app as build_demo_app

AGENT = "agente1@demo.bayit"
NOTES = "Reinstalada la app y cerrada la sesión en los demás dispositivos; ya reproduce."
COMMENT = "Me lo solucionaron en el día, gracias."

sync_api = require_chromium()
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    """An app on its own demo database; it signs links with the served panel's key (the
    worker here builds the mail, the server checks the link) and keeps its own outbox."""
    app = build_demo_app(tmp_path_factory.mktemp("e2e-closure"), redis_url, seed=21)
    app.config["SECRET_KEY"] = "e2e"  # tests.browser.serve runs the panel with this key
    app.config["HELPDESK_INSTANCE"] = str(tmp_path_factory.mktemp("e2e-closure-instance"))
    return app


def agents_open_ticket(app) -> int:
    """An open ticket of agente1 whose customer was not surveyed in the last week."""
    with app.app_context():
        agent = db.session.scalar(select(User).where(User.email == AGENT))
        since = rules.utcnow() - timedelta(days=app.config["HELPDESK_SURVEY_QUIET_DAYS"])
        for ticket in db.session.scalars(select(Ticket).where(
                Ticket.assignee_id == agent.id, Ticket.status == TicketStatus.OPEN)
                .order_by(Ticket.id)):
            recent = db.session.scalar(select(ResolutionRound.id).join(
                Ticket, Ticket.id == ResolutionRound.ticket_id).where(
                Ticket.customer_id == ticket.customer_id,
                ResolutionRound.survey_sent_at >= since).limit(1))
            if recent is None:
                return ticket.id
    pytest.fail("the demo seed has no open ticket of agente1 to resolve")


def login(browser, base: str, email_address: str):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{base}/login")
    page.fill("#email", email_address)
    page.fill("#password", "demo")
    page.click("[data-testid=login-submit]")
    sync_api.expect(page).to_have_url(f"{base}/admin/")
    page.wait_for_load_state()
    return page


def an_hour_later(app, redis) -> None:
    """The outbox sweep an hour on (the survey is due), then a real worker drains the queues."""
    with app.app_context():
        with workflows.atomic():
            workflows.sweep_outbox(rules.utcnow() + timedelta(minutes=61))
        SimpleWorker([get_queue(n) for n in QUEUES], connection=redis,
                     serializer=JSONSerializer).work(burst=True)


def survey_link(app, round_id: int, score: int) -> str:
    """The path of the survey mail's link for `score`, read from the captured .eml."""
    outbox = app.config["HELPDESK_INSTANCE"] + "/outbox"
    path = next(p for p in Path(outbox).glob("*.eml")
                if f"survey{round_id}@" in p.name)
    mail = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    text = mail.get_body(("plain",)).get_content()
    url = next(line for line in text.splitlines() if "/cliente/encuesta/" in line
               and line.endswith(f"score={score}"))
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_agent_resolves_and_the_customer_rates_it(demo_app, live_server, browser, redis):
    expect = sync_api.expect
    ticket_id = agents_open_ticket(demo_app)

    page = login(browser, live_server, AGENT)
    page.goto(f"{live_server}/admin/tickets/{ticket_id}/")
    page.wait_for_load_state()
    page.get_by_test_id("resolve").click()
    expect(page).to_have_url(f"{live_server}/admin/tickets/{ticket_id}/resolve")
    page.get_by_test_id("resolve-solved").check()
    page.get_by_test_id("resolve-category").select_option(index=1)
    page.get_by_test_id("resolve-notes").fill(NOTES)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "resolve-form.png"), full_page=True)
    page.get_by_test_id("resolve-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("Ticket resuelto.")
    expect(page.get_by_test_id("ticket-status")).to_have_text("Resuelto")
    with demo_app.app_context():
        round_ = db.session.scalar(select(ResolutionRound).where(
            ResolutionRound.ticket_id == ticket_id))
        assert round_ is not None and round_.closing_notes == NOTES
        round_id = round_.id

    an_hour_later(demo_app, redis)
    customer = browser.new_page(viewport={"width": 480, "height": 900})
    customer.goto(f"{live_server}{survey_link(demo_app, round_id, 4)}")
    expect(customer.get_by_test_id("score-4")).to_be_checked()  # the score clicked in the mail
    customer.get_by_test_id("survey-comment").fill(COMMENT)
    customer.screenshot(path=str(SHOTS / "survey.png"), full_page=True)
    customer.get_by_test_id("survey-submit").click()
    expect(customer.get_by_test_id("public-thanks")).to_be_visible()
    customer.close()
    with demo_app.app_context():
        rating = db.session.scalar(select(SatisfactionRating).where(
            SatisfactionRating.round_id == round_id))
        assert (rating.score, rating.comment) == (4, COMMENT)

    page.reload()
    rating_row = page.get_by_test_id("closure-panel").get_by_test_id("rating")
    expect(rating_row.get_by_test_id("rating-score")).to_have_text("4 de 5")
    expect(rating_row.get_by_test_id("rating-comment")).to_have_text(COMMENT)
    page.screenshot(path=str(SHOTS / "rating-on-ticket.png"), full_page=True)
    page.close()
