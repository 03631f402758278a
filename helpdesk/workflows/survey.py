"""Customer satisfaction (CSAT): the survey mail an hour after each resolution (not after a
reopen, not to a customer surveyed lately), and the customer's 1–5 answer, one per round,
credited as the round was; a low score tells the team's supervisors."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from .. import links, mail, queries, rules
from ..errors import DomainError
from ..extensions import db
from ..models import Notification, ResolutionRound, SatisfactionRating, TicketStatus
from ..queries import closure as closure_queries
from .base import add_event, audit
from .closure import LinkRefused
from .outbox import intent_handler


def score_labels() -> dict[int, str]:
    """The survey's scale in the current language."""
    return {1: _("Muy mal"), 2: _("Mal"), 3: _("Regular"), 4: _("Bien"), 5: _("Excelente")}


def survey_refusal(round_: ResolutionRound) -> str | None:
    """Why the round's survey no longer records (`rules.survey_refusal`)."""
    return rules.survey_refusal(rated=round_.rating is not None,
                                voided=round_.reopened_at is not None)


def record_rating(round_: ResolutionRound, score: int | None, comment: str | None, *,
                  now: datetime | None = None) -> SatisfactionRating:
    """The customer's answer: 1–5 and an optional comment, once per round, credited to the
    round's agent, team and resolution category; 1–2 notifies the team's supervisors."""
    now = now or rules.utcnow()
    refusal = survey_refusal(round_)
    if refusal is not None:
        raise LinkRefused(refusal)
    if score not in rules.SCORES:
        raise DomainError(_("Elige una puntuación del 1 al 5."))
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > rules.SURVEY_COMMENT_MAX:
        raise DomainError(_("El comentario admite como máximo %(limit)d caracteres.",
                            limit=rules.SURVEY_COMMENT_MAX))
    ticket = round_.ticket
    rating = SatisfactionRating(ticket_id=ticket.id, round=round_, agent_id=round_.agent_id,
                                team_id=round_.team_id,
                                resolution_category_id=round_.resolution_category_id,
                                score=score, comment=comment, created_at=now)
    db.session.add(rating)
    audit(ticket, None, "rating", field="satisfaction", new=score, reason="survey")
    add_event(ticket, None, now, "rating", score=str(score))
    if score <= rules.LOW_SCORE and round_.team_id is not None:
        bosses = queries.supervisors_by_team([round_.team_id]).get(round_.team_id, [])
        for user_id in sorted(set(bosses)):
            db.session.add(Notification(
                user_id=user_id, ticket_id=ticket.id, team_id=round_.team_id, created_at=now,
                kind=closure_queries.LOW_RATING_NOTICE,
                message=f"{closure_queries.LOW_RATING_NOTICE}:{score}"))
    db.session.flush()
    return rating


@intent_handler("mail_survey")
def mail_survey(round_id: int):
    """Outbox handler, due HELPDESK_SURVEY_DELAY_MINUTES after the resolution: the survey link
    in the ticket's language — unless the ticket was reopened meanwhile or the customer was
    surveyed in the last HELPDESK_SURVEY_QUIET_DAYS (the round says why it was skipped)."""
    round_ = db.session.get(ResolutionRound, round_id)
    if round_ is None or round_.rating is not None:
        return None
    ticket, now = round_.ticket, rules.utcnow()
    if round_.reopened_at is not None or ticket.status is not TicketStatus.RESOLVED:
        round_.survey_skipped = "reopened"
        return None
    if round_.survey_sent_at is None:
        quiet = timedelta(days=current_app.config["HELPDESK_SURVEY_QUIET_DAYS"])
        if closure_queries.surveyed_since(ticket.customer_id, now - quiet, besides=round_.id):
            round_.survey_skipped = "recent"
            return None
        round_.survey_sent_at = now  # kept by this commit, before the sending
    with force_locale(ticket.language or "es"):
        headline = _("¿Qué tal te atendimos? %(subject)s", subject=ticket.subject)
        paragraphs = [
            _("Hola, %(name)s:", name=ticket.customer.name),
            _("Tu ticket %(ticket)s «%(subject)s» está resuelto. ¿Cómo valorarías la atención "
              "recibida, del 1 (muy mal) al 5 (excelente)? Es un momento.",
              ticket=ticket.number, subject=ticket.subject)]
        buttons = [(f"{n} · {label}", links.url(links.SURVEY, ticket.id, round_.id, score=n))
                   for n, label in score_labels().items()]
    return partial(mail.deliver, mail.build_customer_notice(
        ticket, headline, paragraphs, buttons, idstring=f"survey{round_.id}"))
