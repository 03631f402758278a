"""CSAT: the survey mail after the delay (the outbox sweep hands it over), not after a reopen
nor to a customer surveyed lately; the public page (GET shows, POST records once), credit as at
resolution time, low scores to the supervisors, the rating on the ticket page; and, on
PostgreSQL, the customer's «No» racing an agent's action on the same ticket."""

# ruff: noqa: F811  (the fixtures imported from test_closure are parameters here)
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from helpdesk import rules, workflows
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.models import (
    MessageKind,
    Notification,
    ResolutionRound,
    SatisfactionRating,
    Ticket,
    TicketStatus,
    User,
)
from tests.pages import parse
from tests.test_closure import (  # noqa: F401  (fixtures)
    desk,
    link_path,
    mails,
    outbox,
    resolve_form,
    resolved,
    snapshot,
)


def sweep(app, minutes: int) -> int:
    """The outbox sweep, `minutes` from now (the cron job runs it every 30 s)."""
    with app.app_context(), workflows.atomic():
        return workflows.sweep_outbox(rules.utcnow() + timedelta(minutes=minutes))


def survey_mail(outbox):
    return next((m for m in mails(outbox) if "survey" in m["Message-ID"]), None)


@pytest.fixture
def surveyed(app, resolved, run_jobs, outbox):
    """An hour after the resolution the sweep sends the survey."""
    assert survey_mail(outbox) is None  # not before the delay
    sweep(app, 61)
    run_jobs()
    mail = survey_mail(outbox)
    assert mail is not None
    return {"mail": mail, "four": link_path(mail, "4 · Bien")}


def test_survey_goes_out_after_the_delay(app, desk, surveyed):
    mail = surveyed["mail"]
    assert mail["To"] == "lucia@example.com"
    assert mail["Subject"].startswith(f"[#{desk['ticket']}] ")
    assert mail["In-Reply-To"] == "<first.1@mail.example.com>"
    assert "/cliente/encuesta/" in mail.get_body(("html",)).get_content()
    with app.app_context():
        assert db.session.scalar(select(ResolutionRound)).survey_sent_at is not None


def test_customer_rates_four_with_a_comment(app, desk, surveyed, client, login_as):
    before = snapshot(app, desk["ticket"])
    page = client.get(surveyed["four"])  # as a mail scanner would, first
    assert page.status_code == 200 and snapshot(app, desk["ticket"]) == before
    assert parse(page).testid("score-4").attrs.get("checked") is not None  # pre-selected
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SatisfactionRating)) == 0
    with app.app_context(), workflows.atomic():  # the agent moves team later: credit stays
        db.session.get(User, desk["ana"]).teams = []
    response = client.post(surveyed["four"], data={"score": "4",
                                                   "comment": "Rápidos y amables <b>gracias</b>"})
    assert response.status_code == 200 and parse(response).testid("public-thanks")
    with app.app_context():
        rating = db.session.scalar(select(SatisfactionRating))
        assert (rating.score, rating.agent_id, rating.team_id, rating.resolution_category_id,
                rating.round_id) == (4, desk["ana"], desk["cuenta"], desk["solved"],
                                     db.session.scalar(select(ResolutionRound.id)))
        assert db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.kind == "low_rating")) == 0
    text = login_as(desk["ana"]).get(f"/admin/tickets/{desk['ticket']}/").get_data(as_text=True)
    panel = parse(text).testid("closure-panel")
    assert panel.one(data_testid="rating-score").text.strip() == "4 de 5"
    assert "&lt;b&gt;gracias&lt;/b&gt;" in text  # escaped
    again = client.post(surveyed["four"], data={"score": "5"}, token_from="/login")
    assert again.status_code == 409  # one answer per round
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SatisfactionRating)) == 1


@pytest.mark.parametrize(("score", "comment"), [("", None), ("9", None), ("0", None),
                                                 ("abc", None), ("3", "x" * 2001)])
def test_bad_answers_change_nothing(app, desk, surveyed, client, score, comment):
    client.get(surveyed["four"])
    data = {"score": score, **({"comment": comment} if comment else {})}
    response = client.post(surveyed["four"], data=data)
    assert response.status_code == 422
    assert parse(response).select(data_testid="survey-error")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SatisfactionRating)) == 0


def test_low_score_tells_the_supervisors(app, desk, surveyed, client, login_as):
    client.get(surveyed["four"])
    assert client.post(surveyed["four"], data={"score": "1",
                                               "comment": "Nadie me ayudó"}).status_code == 200
    with app.app_context():
        notices = db.session.scalars(select(Notification).where(
            Notification.kind == "low_rating")).all()
        assert [n.user_id for n in notices] == [desk["sofia"]]
    page = parse(login_as(desk["sofia"]).get(f"/admin/tickets/{desk['ticket']}/"))
    assert "1 de 5" in page.testid("low-rating").text
    assert page.testid("rating-comment").text.strip() == "Nadie me ayudó"
    assert login_as(desk["sofia"]).get("/admin/").get_data(as_text=True).count(
        'data-testid="low-rating-notice"') == 1


def test_a_reopen_voids_the_survey(app, desk, resolved, client, run_jobs, outbox):
    assert client.post(resolved["no"], page=resolved["no"]).status_code == 200
    sweep(app, 61)
    run_jobs()
    assert survey_mail(outbox) is None
    with app.app_context():
        assert db.session.scalar(select(ResolutionRound)).survey_skipped == "reopened"


def test_a_sent_survey_is_voided_by_a_reopen(app, desk, surveyed, client):
    with app.app_context(), workflows.atomic():
        workflows.add_customer_message(db.session.get(Ticket, desk["ticket"]), "Sigue igual.")
    response = client.get(surveyed["four"])
    assert response.status_code == 410
    assert parse(response).testid("public-refused").attrs["data-reason"] == "superseded"
    assert client.post(surveyed["four"], data={"score": "5"},
                       token_from="/login").status_code == 410
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SatisfactionRating)) == 0


def test_no_second_survey_within_the_quiet_days(app, desk, surveyed, make_ticket, run_jobs,
                                                outbox, login_as):
    second = make_ticket("Otra cosa", "Tampoco va.", customer_id=desk["customer"])
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, second)
        ticket.team_id = desk["cuenta"]
    assert resolve_form(app, login_as(desk["ana"]), desk, ticket=second,
                        ask_confirmation=None).status_code == 302
    before = len(mails(outbox))
    sweep(app, 61)
    run_jobs()
    assert len(mails(outbox)) == before
    with app.app_context():
        rounds = {r.ticket_id: r for r in db.session.scalars(select(ResolutionRound))}
        assert rounds[second].survey_skipped == "recent" and rounds[second].survey_sent_at is None


def test_the_rating_workflow_refuses_bad_scores(app, desk, resolved):
    with app.app_context(), workflows.atomic():
        round_ = db.session.scalar(select(ResolutionRound))
        for score in (0, 6, None):
            with pytest.raises(DomainError):
                workflows.record_rating(round_, score, None)


@pytest.mark.postgres_only
def test_the_customers_no_races_an_agents_reopen(app, desk, resolved, app_config):
    """The «No» link and Ana reopening from the status menu at the same instant, on separate
    connections: exactly one reopen happens; the other is refused (its row lock waited, then
    the version it read was gone, or the link no longer acts). Nothing is half done."""
    from app import create_app
    from helpdesk import links as link_tokens

    with app.app_context():
        round_ = db.session.scalar(select(ResolutionRound))
        target = link_tokens.LinkTarget(round_.ticket_id, round_.id)
        seen = db.session.get(Ticket, desk["ticket"]).version
    outcomes, barrier = [], threading.Barrier(2)
    apps = [create_app(app_config) for _ in range(2)]

    def customer():
        workflows.reject_resolution(workflows.round_for_link(target, for_update=True))

    def agent():
        ticket = db.session.get(Ticket, desk["ticket"])
        workflows.change_status(ticket, TicketStatus.OPEN,
                                actor=db.session.get(User, desk["ana"]), expected_version=seen)

    def run(local, action, name):
        with local.app_context():
            barrier.wait(timeout=30)
            try:
                with workflows.atomic():
                    action()
                outcomes.append((name, "done"))
            except (DomainError, StaleDataError, workflows.LinkRefused) as exc:
                outcomes.append((name, type(exc).__name__))

    threads = [threading.Thread(target=run, args=(apps[0], customer, "customer")),
               threading.Thread(target=run, args=(apps[1], agent, "agent"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 2 and [o for _n, o in outcomes].count("done") == 1, outcomes
    with app.app_context():
        ticket = db.session.get(Ticket, desk["ticket"])
        r = db.session.get(ResolutionRound, target.round_id)
        assert ticket.status is TicketStatus.OPEN and r.reopened_at is not None
        reopens = [m for m in ticket.messages if m.kind is MessageKind.EVENT
                   and m.created_at >= r.resolved_at and m.event.get("event") == "status"
                   and m.event.get("new") == "open"]
        assert len(reopens) == 1
        assert db.session.get(User, desk["ana"]).open_tickets == 1
        winner = dict(outcomes)
        assert r.reopened_by == ("customer_link" if winner["customer"] == "done" else "agent")
