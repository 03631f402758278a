"""*Escalar* and *Desescalar*: the pages under a ticket, the ticket page's escalation panel
(banner, history, buttons), and the queue's *Escalados* filters, row action and level badge."""

from __future__ import annotations

from flask import abort, flash, has_app_context, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla import filters
from flask_admin.model.template import BaseListRowAction
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from .. import queries, rules, workflows
from ..errors import Conflict, DomainError, is_lock_timeout
from ..extensions import db
from ..forms import DeescalateForm, EscalateForm
from ..models import EscalationReason, Priority, Role, Team, Ticket, User
from ..queries import escalation as esc_queries
from .base import busy_form

PAGE = "helpdesk/tickets/escalate.html"


def may_escalate(ticket: Ticket, user: User) -> bool:
    """Whether `user` is offered *Escalar* on this ticket: `rules.may_escalate`, the rule
    `workflows.escalate_ticket` applies."""
    return rules.may_escalate(user.role, (team.id for team in user.teams), actor_id=user.id,
                              team_id=ticket.team_id, assignee_id=ticket.assignee_id,
                              status=ticket.status)


def ticket_outside_teams(ticket: Ticket) -> bool:
    """Whether the viewer is refused *Escalar* for who they are (not for the ticket's state)."""
    return rules.escalate_refusal(
        current_user.role, (t.id for t in current_user.teams), actor_id=current_user.id,
        team_id=ticket.team_id, assignee_id=ticket.assignee_id,
        status=ticket.status) == rules.NOT_YOUR_TEAM


def may_deescalate(ticket: Ticket, user: User, escalation) -> bool:
    """Whether *Desescalar* is offered: `rules.deescalate_refusal`, as the workflow asks it."""
    back = escalation.from_team if escalation is not None else None
    return rules.deescalate_refusal(user.role, ticket.status, escalated=back is not None,
                                    from_team_active=bool(back and back.active)) is None


def escalation_panel(ticket: Ticket) -> dict:
    """What the ticket page's escalation include shows the viewer."""
    history = queries.escalation_history(ticket.id)
    current = history[-1] if history and history[-1].deescalated_at is None else None
    return {"banner": queries.banner_escalation(ticket, current_user, current),
            "history": history,
            "can_escalate": may_escalate(ticket, current_user),
            "can_deescalate": may_deescalate(ticket, current_user, current),
            "locale": str(get_locale() or "es")}


def panel_globals() -> dict:
    """Jinja globals for templates/helpdesk/tickets/_escalation.html."""
    return {"escalation_panel": escalation_panel}


class EscalationMixin:
    """Exposed under the ticket view: /admin/tickets/<id>/escalate and …/deescalate."""

    @expose("/<int:ticket_id>/escalate", methods=("GET", "POST"))
    def escalate_view(self, ticket_id: int):
        """Escalate one ticket: reason, target, context, optional higher priority."""
        ticket = self._ticket_or_404(ticket_id)
        if not may_escalate(ticket, current_user) and (
                request.method == "GET" or ticket_outside_teams(ticket)):
            return self._refuse_page(ticket)
        form = EscalateForm(version=ticket.version)
        self._escalate_choices(form, ticket)
        if not form.is_submitted():
            return self._escalate_page(ticket, form, 200)
        if not form.validate():
            flash(_("Revisa el formulario: %(errors)s", errors=_errors(form)), "error")
            return self._escalate_page(ticket, form, 422)

        def action(ticket):
            team, person = _target(form.target.data)
            workflows.escalate_ticket(
                ticket, reason=_pick(EscalationReason, form.reason.data), to_team=team,
                to_user=person, context=form.context.data, actor=current_user,
                priority=_priority(form.priority.data), expected_version=form.expected_version())

        return self._run(ticket_id, form, action, _("Ticket escalado."))

    @expose("/<int:ticket_id>/deescalate", methods=("GET", "POST"))
    def deescalate_view(self, ticket_id: int):
        """Supervisors: send the ticket back to the team it came from, with a note."""
        ticket = self._ticket_or_404(ticket_id)
        form = DeescalateForm(version=ticket.version)
        if not form.is_submitted():
            return self._escalate_page(ticket, form, 200, mode="deescalate")
        if not form.validate():
            flash(_("Revisa el formulario: %(errors)s", errors=_errors(form)), "error")
            return self._escalate_page(ticket, form, 422, mode="deescalate")
        return self._run(ticket_id, form, lambda t: workflows.deescalate_ticket(
            t, note=form.note.data, actor=current_user, expected_version=form.expected_version()),
            _("Ticket devuelto al equipo de origen."), mode="deescalate")

    def _run(self, ticket_id: int, form, action, success: str, mode: str = "escalate"):
        """One workflow in one transaction; then the ticket (or the queue, if it left the
        viewer's sight), or the form again with what is wrong and the text kept."""
        ticket = self._ticket_or_404(ticket_id)
        try:
            with workflows.atomic():
                action(ticket)
        except OperationalError as exc:
            if not is_lock_timeout(exc):
                raise
            busy_form()
            return self._escalate_page(self._ticket_or_404(ticket_id), form, 503, mode=mode)
        except (DomainError, StaleDataError) as exc:
            if isinstance(exc, StaleDataError):
                exc = Conflict(_("Otra persona cambió este ticket en el mismo momento: %(c)s.",
                                 c=queries.describe_changes_since(ticket_id,
                                                                  form.expected_version())))
            flash(str(exc), "error")
            db.session.expire_all()
            ticket = self._ticket_or_404(ticket_id)
            status = 409 if isinstance(exc, Conflict) else \
                403 if isinstance(exc, workflows.EscalationForbidden) else 400
            if status == 409:
                form.version.data = ticket.version  # they have now seen the change
            if mode == "escalate":
                self._escalate_choices(form, ticket)
            return self._escalate_page(ticket, form, status, mode=mode)
        flash(success, "success")
        if queries.visible_ticket(ticket_id, current_user) is None:
            return redirect(url_for(".index_view"))
        return redirect(url_for(".work_view", ticket_id=ticket_id))

    def _escalate_choices(self, form, ticket: Ticket) -> None:
        locale = str(get_locale() or "es")
        form.reason.choices = [("", "—")] + [(str(r.id), r.label(locale))
                                             for r in esc_queries.active_reasons()]
        teams, supervisors = esc_queries.target_options()
        form.target.choices = {  # rendered by hand: a blank option, then the two groups
            _("Equipos"): [(f"team-{t.id}", t.name) for t in teams],
            _("Supervisores"): [(f"user-{u.id}-{t.id}", f"{u.name} · {t.name}")
                                for u, t in supervisors],
        }
        form.priority.choices = [("", _("— sin cambio —"))] + [
            (p.value, p.label) for p in rules.raised_priorities(ticket.priority)]

    def _escalate_page(self, ticket: Ticket, form, status: int, mode: str = "escalate"):
        if status == 200 and mode == "deescalate" and not may_deescalate(
                ticket, current_user, queries.current_escalation(ticket.id)):
            if current_user.role < Role.SUPERVISOR:
                abort(403, _("Solo un supervisor puede desescalar tickets."))
            flash(_("Este ticket no está escalado desde otro equipo."), "error")
            return redirect(url_for(".work_view", ticket_id=ticket.id))
        return self.render(PAGE, ticket=ticket, form=form, mode=mode,
                           current=queries.current_escalation(ticket.id)), status

    def _refuse_page(self, ticket: Ticket):
        if ticket_outside_teams(ticket):
            abort(403, _("Solo puedes escalar tickets de tus equipos o asignados a ti."))
        flash(_("Un ticket resuelto no se puede escalar; reábrelo primero."), "error")
        return redirect(url_for(".work_view", ticket_id=ticket.id))


def _errors(form) -> str:
    return "; ".join(str(e) for errors in form.errors.values() for e in errors)


def _pick(model, value: str | None):
    """The row behind a select's value; an unknown id is a DomainError saying so."""
    row_id = rules.parse_id(value)
    row = db.session.get(model, row_id) if row_id else None
    if row is None:
        raise DomainError(_("La opción elegida ya no existe; recarga la página."))
    return row


def _target(value: str | None) -> tuple[Team | None, User | None]:
    """`team-<id>` → (team, None); `user-<id>-<team id>` → (team, person); else refused."""
    parts = (value or "").split("-")
    if len(parts) == 2 and parts[0] == "team":
        return _pick(Team, parts[1]), None
    if len(parts) == 3 and parts[0] == "user":
        return _pick(Team, parts[2]), _pick(User, parts[1])
    raise DomainError(_("Elige a qué equipo o supervisor escalar el ticket."))


def _priority(value: str | None) -> Priority | None:
    if not value:
        return None
    try:
        return Priority(value)
    except ValueError:
        raise DomainError(_("La opción elegida ya no existe; recarga la página.")) from None


# --- The queue --------------------------------------------------------------------------------


class FilterEscalated(filters.BaseSQLAFilter):
    """Escalated (yes / no): raised at least one level and not sent all the way back."""

    def apply(self, query, value, alias=None):
        if value == "1":
            return query.filter(Ticket.escalation_level > 0)
        return query.filter(Ticket.escalation_level == 0)

    def operation(self):
        return _l("es")


class FilterEscalationReason(filters.BaseSQLAFilter):
    """Escalated at least once for this reason."""

    def apply(self, query, value, alias=None):
        return query.filter(esc_queries.escalated_with_reason(rules.parse_id(value) or 0))

    def operation(self):
        return _l("es")


def _reason_options():
    if not has_app_context():  # Flask-Admin also asks once while the view is built
        return []
    return [(str(reason_id), name) for reason_id, name in esc_queries.all_reasons()]


ESCALATED = FilterEscalated(Ticket.escalation_level, _l("Escalado"),
                            options=lambda: [("1", _("sí")), ("0", _("no"))])
ESCALATION_REASON = FilterEscalationReason(Ticket.id, _l("Motivo de escalamiento"),
                                           options=_reason_options)


class EscalateRowAction(BaseListRowAction):
    """*Escalar* among a queue row's actions, only where the viewer may escalate the ticket."""

    template_name = None  # helpdesk/model_list.html asks every row action for one

    def __init__(self):
        super().__init__(title=_l("Escalar"))

    def render(self, context, row_id, row):
        if not may_escalate(row, current_user):
            return ""
        return Markup('<a class="icon" href="{}" title="{}" data-testid="escalate-row-{}">'
                      '<span class="fa fa-level-up" aria-hidden="true"></span>'
                      '<span class="sr-only">{}</span></a>').format(
            url_for(".escalate_view", ticket_id=row.id), self.title, row.id,
            _("Escalar %(ticket)s", ticket=row.number))


def level_badge(formatter):
    """Wrap a column formatter: escalated rows get a badge with their level after it."""

    def cell(view, context, model, name):
        text = formatter(view, context, model, name)
        if not model.escalation_level:
            return text
        return Markup('{} <span class="badge badge-danger hd-escalated" title="{}" '
                      'data-testid="escalation-level">{}</span>').format(
            text, _("Escalado, nivel %(n)d", n=model.escalation_level),
            _("N%(n)d", n=model.escalation_level))

    return cell
