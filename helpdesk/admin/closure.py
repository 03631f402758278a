"""*Resolver*: the guided closure page under a ticket and the ticket page's closure panel
(resolution rounds, confirmations, ratings). The queue's bulk *Resolver* is `bulk.py`'s."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from .. import queries, rules, workflows
from ..errors import Conflict, DomainError, is_lock_timeout
from ..extensions import db
from ..forms import ResolveForm
from ..models import ResolutionCategory, ResponseTemplate, Ticket, User
from ..queries import closure as closure_queries
from .base import busy_form

PAGE = "helpdesk/tickets/resolve.html"


def resolve_refusal(ticket: Ticket, user: User) -> str | None:
    """Why `user` is not offered *Resolver* on this ticket: `rules.resolve_refusal`, the rule
    `workflows.resolve_ticket` applies."""
    return rules.resolve_refusal(user.role, (team.id for team in user.teams), actor_id=user.id,
                                 team_id=ticket.team_id, assignee_id=ticket.assignee_id,
                                 status=ticket.status)


def closure_panel(ticket: Ticket) -> dict:
    """What the ticket page's closure include shows: *Resolver* for who may, and each round
    with its confirmation, reopen and rating."""
    return {"can_resolve": resolve_refusal(ticket, current_user) is None,
            "rounds": closure_queries.rounds(ticket.id),
            "ratings": closure_queries.ticket_ratings(ticket.id),
            "low": rules.LOW_SCORE}


def panel_globals() -> dict:
    """Jinja globals for templates/helpdesk/tickets/_closure.html."""
    return {"closure_panel": closure_panel}


def _errors(form) -> str:
    return "; ".join(str(e) for errors in form.errors.values() for e in errors)


def _resolution(value: str | None) -> ResolutionCategory | None:
    row_id = rules.parse_id(value)
    return db.session.get(ResolutionCategory, row_id) if row_id else None


def _template(value: str | None) -> ResponseTemplate | None:
    row_id = rules.parse_id(value)
    return db.session.get(ResponseTemplate, row_id) if row_id else None


class ClosureMixin:
    """Exposed under the ticket view: /admin/tickets/<id>/resolve."""

    @expose("/<int:ticket_id>/resolve", methods=("GET", "POST"))
    def resolve_view(self, ticket_id: int):
        """*Resolver* one ticket: solved, final reply, category, closing notes, confirmation."""
        ticket = self._ticket_or_404(ticket_id)
        refusal = resolve_refusal(ticket, current_user)
        if refusal == rules.NOT_YOUR_TEAM:
            abort(403, _("Solo puedes resolver tickets de tus equipos o asignados a ti."))
        if refusal == rules.RESOLVED and request.method == "GET":
            flash(_("Este ticket ya está resuelto."), "error")
            return redirect(url_for(".work_view", ticket_id=ticket.id))
        form = ResolveForm(version=ticket.version,
                           ask_confirmation=rules.asks_confirmation(ticket.channel.value))
        self._resolve_choices(form, ticket)
        if not form.is_submitted():
            return self._resolve_page(ticket, form, 200)
        if not form.validate():
            flash(_("Revisa el formulario: %(errors)s", errors=_errors(form)), "error")
            return self._resolve_page(ticket, form, 422)
        try:
            with workflows.atomic():
                workflows.resolve_ticket(
                    self._ticket_or_404(ticket_id), actor=current_user,
                    solved=form.solved.data, resolution=_resolution(form.resolution.data),
                    notes=form.notes.data, ask_confirmation=form.ask_confirmation.data,
                    reply=form.reply.data, template=_template(form.template_id.data),
                    expected_version=form.expected_version())
        except OperationalError as exc:
            if not is_lock_timeout(exc):
                raise
            busy_form()
            return self._resolve_page(self._ticket_or_404(ticket_id), form, 503)
        except (DomainError, StaleDataError) as exc:
            return self._resolve_refused(ticket_id, form, exc)
        flash(_("Ticket resuelto."), "success")
        return redirect(url_for(".work_view", ticket_id=ticket_id))

    def _resolve_refused(self, ticket_id: int, form, exc: Exception):
        """The form again, with what is wrong and the text kept: 409 for a stale page (saying
        what changed), 403 for who may not, 400 for the rest."""
        if isinstance(exc, StaleDataError):
            exc = Conflict(_("Otra persona cambió este ticket en el mismo momento: %(c)s.",
                             c=queries.describe_changes_since(ticket_id,
                                                              form.expected_version())))
        flash(str(exc), "error")
        db.session.expire_all()
        ticket = self._ticket_or_404(ticket_id)
        status = 409 if isinstance(exc, Conflict) else \
            403 if isinstance(exc, workflows.ClosureForbidden) else 400
        if status == 409:
            form.version.data = ticket.version  # they have now seen the change
        self._resolve_choices(form, ticket)
        return self._resolve_page(ticket, form, status)

    def _resolve_choices(self, form, ticket: Ticket) -> None:
        form.resolution.choices = [("", "—")] + [
            (str(r.id), r.name)
            for r in closure_queries.resolution_categories_for(ticket.category_id)]

    def _resolve_page(self, ticket: Ticket, form, status: int):
        templates = queries.response_templates_for(ticket, current_user.locale)
        return self.render(PAGE, ticket=ticket, form=form,
                           templates=[{"id": t.id, "name": t.name, "body": t.body}
                                      for t in templates]), status
