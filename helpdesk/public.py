"""The customers' pages, reached from the links in their mail: confirm a resolution, say the
problem goes on (reopen), answer the survey. No staff login, nobody logged in.

Scanner-safe: a GET only shows the question (mail scanners pre-click links); only a POST with
its CSRF token records. Every page is in the ticket's language, shows only the ticket's number
and subject, is never cached (`Cache-Control: no-store`, the app's CSP), sends no referrer, and
is rate-limited per client address. A tampered, expired, reused, cross-ticket or superseded link
gets a friendly page and changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import force_locale
from sqlalchemy.exc import OperationalError

from . import links, rules, throttle, workflows
from .errors import DomainError, is_lock_timeout
from .extensions import db
from .forms import ConfirmForm, SurveyForm
from .models import Ticket

bp = Blueprint("public", __name__, url_prefix="/cliente")

#: (status, page) of each reason a link does not act.
REFUSED = {links.TAMPERED: 404, links.EXPIRED: 410, rules.LINK_USED: 409,
           rules.LINK_SUPERSEDED: 410, rules.LINK_CLOSED: 409, "limited": 429, "busy": 503}


@bp.before_request
def _throttle():
    if not throttle.public_allowed():
        return _refused(None, "limited")
    return None


@bp.after_request
def _headers(response):
    """Stricter than the panel's: no referrer at all (the token is in the URL), no indexing.
    (security.py adds the CSP and `Cache-Control: no-store` to every dynamic response.)"""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Cache-Control"] = "no-store"
    return response


def _language(ticket: Ticket | None) -> str:
    if ticket is not None and ticket.language in ("es", "en"):
        return ticket.language
    return request.accept_languages.best_match(["es", "en"]) or "es"


def _refused(ticket: Ticket | None, reason: str):
    with force_locale(_language(ticket)):
        return render_template("public/refused.html", reason=reason,
                               ticket=ticket), REFUSED.get(reason, 400)


def _page(name: str, ticket: Ticket, status: int = 200, **context):
    with force_locale(_language(ticket)):
        return render_template(f"public/{name}.html", ticket=ticket, **context), status


def _round(kind: str, token: str, *, for_update: bool = False):
    return workflows.round_for_link(links.read_token(kind, token), for_update=for_update)


@bp.route("/confirmar/<token>", methods=("GET", "POST"))
def confirm(token: str):
    """«Sí, está resuelto»: the question on GET, recorded on POST."""
    return _answer(links.CONFIRM, token)


@bp.route("/reabrir/<token>", methods=("GET", "POST"))
def reopen(token: str):
    """«No, sigo con el problema»: the question on GET; on POST the ticket reopens (or, past
    the reopen window, a follow-up ticket opens)."""
    return _answer(links.REOPEN, token)


def _answer(kind: str, token: str):
    try:
        round_ = _round(kind, token)
    except links.LinkInvalid as exc:
        return _refused(None, exc.reason)
    ticket = round_.ticket
    if (refusal := workflows.link_refusal(round_)) is not None:
        return _refused(ticket, refusal)
    with force_locale(_language(ticket)):
        form = ConfirmForm()
        if request.method == "GET" or not form.validate_on_submit():
            return _page("answer", ticket, kind=kind, form=form)
    try:
        with workflows.atomic():
            round_ = _round(kind, token, for_update=True)
            if kind == links.CONFIRM:
                workflows.confirm_resolution(round_)
                result = round_.ticket
            else:
                result = workflows.reject_resolution(round_)
            outcome = {"kind": kind, "follow_up": result.id != round_.ticket_id,
                       "number": result.number}
    except workflows.LinkRefused as exc:
        db.session.expire_all()
        return _refused(db.session.get(Ticket, ticket.id), exc.reason)
    except OperationalError as exc:
        if not is_lock_timeout(exc):
            raise
        return _refused(ticket, "busy")
    return _page("thanks", db.session.get(Ticket, ticket.id), **outcome)


@bp.route("/encuesta/<token>", methods=("GET", "POST"))
def survey(token: str):
    """The survey: GET shows the 1–5 scale (the score clicked in the mail pre-selected),
    POST records the answer once."""
    try:
        round_ = _round(links.SURVEY, token)
    except links.LinkInvalid as exc:
        return _refused(None, exc.reason)
    ticket = round_.ticket
    if (refusal := workflows.survey_refusal(round_)) is not None:
        return _refused(ticket, refusal)
    with force_locale(_language(ticket)):
        clicked = rules.parse_id(request.args.get("score"))
        form = SurveyForm(score=str(clicked) if clicked in rules.SCORES else None)
        labels = workflows.score_labels()
        form.score.choices = [(str(n), f"{n} · {label}") for n, label in labels.items()]
        if request.method == "GET":
            return _page("survey", ticket, form=form, error=None)
        if not form.validate():
            return _page("survey", ticket, 422, form=form, error=None)
        score = rules.parse_id(form.score.data)
        try:  # in the customer's language: a refusal's message is shown to them
            with workflows.atomic():
                workflows.record_rating(_round(links.SURVEY, token, for_update=True), score,
                                        form.comment.data)
            error = None
        except DomainError as exc:
            error = str(exc)
        except workflows.LinkRefused as exc:
            error = exc
    if isinstance(error, workflows.LinkRefused):
        return _refused(ticket, error.reason)
    if error is not None:
        db.session.expire_all()
        return _page("survey", db.session.get(Ticket, ticket.id), 422, form=form, error=error)
    return _page("thanks", db.session.get(Ticket, ticket.id), kind=links.SURVEY,
                 follow_up=False, number=ticket.number)
