"""The ticket page: header, thread, account sidebar, reply editor, notes, status, take."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_babel import format_timedelta, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from .. import phrases, queries, rules, templating, workflows
from ..accounts import country_name, get_directory, state_label
from ..errors import Conflict, DomainError, is_lock_timeout
from ..extensions import db
from ..forms import (
    ConfirmForm,
    NoteForm,
    PriorityForm,
    ReassignForm,
    ReplyForm,
    StatusForm,
    TicketActionForm,
)
from ..models import (
    IntentState,
    JobIntent,
    MessageKind,
    Priority,
    ResponseTemplate,
    Team,
    Ticket,
    TicketStatus,
    User,
)
from .base import apply_to_many, busy_form

PAGE = "helpdesk/tickets/work.html"


def sla_countdown(ticket: Ticket) -> str | None:
    """"vence en 3 horas" / "venció hace 20 minutos", or None without a running deadline."""
    left = rules.due_in(rules.utcnow(), ticket.sla_due_at)
    if left is None:
        return None
    words = format_timedelta(abs(left), granularity="minute", threshold=1.0)
    if left.total_seconds() >= 0:
        return _("vence en %(time)s", time=words)
    return _("venció hace %(time)s", time=words)


def may_take(ticket: Ticket, user: User) -> bool:
    """Whether `user` is offered *Tomar* on this ticket: `rules.may_take`, the rule
    `workflows.take_ticket` applies."""
    return rules.may_take(user.role, (team.id for team in user.teams), team_id=ticket.team_id,
                          assignee_id=ticket.assignee_id, status=ticket.status)


class TicketWorkMixin:
    """Exposed under the ticket view: /admin/tickets/<id>/ and its POST actions."""

    def _ticket_or_404(self, ticket_id: int) -> Ticket:
        ticket = queries.visible_ticket(ticket_id, current_user)
        if ticket is None:
            abort(404, _("El ticket #%(id)s no existe o no tienes acceso a él.", id=ticket_id))
        return ticket

    def _work_page(self, ticket: Ticket, status_code: int = 200, **forms):
        version = ticket.version
        # formdata=None: a form re-rendered after a failed send keeps its text; the others
        # must not read the same POST (a rejected reply landed in the internal-note box).
        reply = forms.get("reply") or ReplyForm(formdata=None, version=version)
        note = forms.get("note") or NoteForm(formdata=None, version=version)
        status = forms.get("status") or StatusForm(formdata=None, version=version)
        status.status.choices = [(s.value, s.label) for s in rules.status_choices(ticket.status)]
        priority = forms.get("priority") or PriorityForm(formdata=None, version=version,
                                                         priority=ticket.priority.value)
        priority.priority.choices = [(p.value, p.label) for p in Priority]
        templates = queries.response_templates_for(ticket, current_user.locale)
        return self.render(
            PAGE, ticket=ticket, reply_form=reply, note_form=note, status_form=status,
            priority_form=priority,
            take_form=TicketActionForm(version=version),
            account=get_directory().summary(ticket.customer_id, exclude_ticket=ticket.id,
                                            viewer=current_user),
            templates=[{"id": t.id, "name": t.name, "body": t.body} for t in templates],
            placeholders=templating.PLACEHOLDERS, describe_event=phrases.event_sentence,
            state_label=state_label, country_name=country_name,
            countdown=sla_countdown(ticket), MessageKind=MessageKind,
            sla_now=rules.sla_state_at(rules.utcnow(), ticket.sla_warn_at, ticket.sla_due_at),
            can_take=may_take(ticket, current_user),
            can_reassign=rules.may_reassign(current_user.role, ticket.status),
            deliveries=queries.reply_deliveries(
                m.id for m in ticket.messages if m.kind is MessageKind.REPLY),
            IntentState=IntentState, retry_form=ConfirmForm(),
        ), status_code

    @expose("/<int:ticket_id>/")
    def work_view(self, ticket_id: int):
        """The ticket page."""
        return self._work_page(self._ticket_or_404(ticket_id))

    def _act(self, ticket_id: int, form, action, success: str, slot: str):
        """Validate, run one workflow in one transaction, redirect; or re-render keeping text."""
        ticket = self._ticket_or_404(ticket_id)
        if not form.validate_on_submit():
            flash(_("Revisa el formulario: %(errors)s", errors=_form_errors(form)), "error")
            return self._work_page(ticket, 422, **{slot: form})
        expected = form.expected_version()
        try:
            with workflows.atomic():
                action(ticket, expected)
        except OperationalError as exc:
            if not is_lock_timeout(exc):
                raise
            busy_form()
            return self._work_page(self._ticket_or_404(ticket_id), 503, **{slot: form})
        except (DomainError, StaleDataError) as exc:
            if isinstance(exc, StaleDataError):
                exc = Conflict(_("Otra persona cambió este ticket en el mismo momento: %(c)s.",
                                 c=queries.describe_changes_since(ticket_id, expected)))
            flash(str(exc), "error")
            db.session.expire_all()
            ticket = self._ticket_or_404(ticket_id)
            if isinstance(exc, Conflict):
                form.version.data = ticket.version  # they have now seen the change
            return self._work_page(ticket, 409 if isinstance(exc, Conflict) else 400,
                                   **{slot: form})
        flash(success, "success")
        return redirect(url_for(".work_view", ticket_id=ticket_id))

    @expose("/<int:ticket_id>/reply", methods=("POST",))
    def reply_view(self, ticket_id: int):
        """Send a public reply."""
        form = ReplyForm()

        def action(ticket, expected):
            template = None
            if form.template_id.data:  # chosen in the editor: it must still exist
                template_id = rules.parse_id(form.template_id.data)
                template = db.session.get(ResponseTemplate, template_id) \
                    if template_id is not None else None
                if template is None:
                    raise DomainError(_("La opción elegida ya no existe; recarga la página."))
            message = workflows.add_reply(ticket, form.body.data, actor=current_user,
                                          status=TicketStatus(form.status.data),
                                          template=template, expected_version=expected)
            workflows.attach_files(message, [(f.filename, f.read()) for f in form.files.data
                                             if f and f.filename])

        return self._act(ticket_id, form, action, _("Respuesta enviada al cliente."), "reply")

    @expose("/<int:ticket_id>/note", methods=("POST",))
    def note_view(self, ticket_id: int):
        """Add an internal note."""
        form = NoteForm()
        return self._act(ticket_id, form, lambda ticket, expected: workflows.add_note(
            ticket, form.body.data, actor=current_user, expected_version=expected),
            _("Nota interna añadida."), "note")

    @expose("/<int:ticket_id>/status", methods=("POST",))
    def status_view(self, ticket_id: int):
        """Change the status along an allowed transition."""
        form = StatusForm()
        form.status.choices = [(s.value, s.label) for s in TicketStatus]
        return self._act(ticket_id, form, lambda ticket, expected: workflows.change_status(
            ticket, TicketStatus(form.status.data), actor=current_user,
            expected_version=expected), _("Estado actualizado."), "status")

    @expose("/<int:ticket_id>/priority", methods=("POST",))
    def priority_view(self, ticket_id: int):
        """Change the priority; the deadlines move with it."""
        form = PriorityForm()
        form.priority.choices = [(p.value, p.label) for p in Priority]
        return self._act(ticket_id, form, lambda ticket, expected: workflows.change_priority(
            ticket, Priority(form.priority.data), actor=current_user,
            expected_version=expected), _("Prioridad actualizada."), "priority")

    @expose("/<int:ticket_id>/take", methods=("POST",))
    def take_view(self, ticket_id: int):
        """Take an unassigned ticket."""
        form = TicketActionForm()
        return self._act(ticket_id, form, lambda ticket, expected: workflows.take_ticket(
            ticket, actor=current_user, expected_version=expected),
            _("Ahora el ticket es tuyo."), "take")

    @expose("/<int:ticket_id>/replies/<int:message_id>/retry", methods=("POST",))
    def retry_delivery_view(self, ticket_id: int, message_id: int):
        """*Reintentar envío*: mail a reply whose delivery failed again (whoever may work the
        ticket may ask)."""
        ticket = self._ticket_or_404(ticket_id)
        if not ConfirmForm().validate_on_submit():
            flash(_("El formulario caducó; recarga la página y vuelve a intentarlo."), "error")
            return self._work_page(ticket, 400)
        intent = db.session.scalar(select(JobIntent).where(
            JobIntent.key == queries.REPLY_KEY.format(message_id)).with_for_update())
        if intent is None or message_id not in {m.id for m in ticket.messages}:
            abort(404, _("Esa respuesta no existe en este ticket."))
        try:
            with workflows.atomic():
                workflows.retry_intent(intent, actor=current_user)
        except DomainError as exc:
            flash(str(exc), "error")
            return self._work_page(self._ticket_or_404(ticket_id), 409)
        flash(_("La respuesta se volverá a enviar en unos instantes."), "success")
        return redirect(url_for(".work_view", ticket_id=ticket_id))

    @expose("/<int:ticket_id>/preview", methods=("POST",))
    def preview_view(self, ticket_id: int):
        """Render the reply text with its placeholders, for the editor's preview (JSON)."""
        ticket = self._ticket_or_404(ticket_id)
        text = request.form.get("body", "")
        try:
            rendered = templating.render(text, templating.placeholder_context(ticket,
                                                                              current_user))
        except templating.TemplateProblem as exc:  # the editor shows it; 422: nothing rendered
            return jsonify(ok=False, error=str(exc)), 422
        return jsonify(ok=True, text=rendered)


def _form_errors(form) -> str:
    return "; ".join(str(e) for errors in form.errors.values() for e in errors)


class ReassignMixin:
    """Supervisors reassign tickets: in bulk from the queue, or one from its page."""

    @expose("/reassign", methods=("GET", "POST"))
    def reassign_view(self):
        """Choose a team and/or an agent for the selected tickets, then apply; a ticket moved
        since the page was shown is reported (409) and nothing is applied."""
        if not rules.may_reassign(current_user.role):
            abort(403)
        form = ReassignForm(ids=request.args.get("ids", ""))
        form.team.choices = [("", _("— sin cambio —"))] + [
            (str(t.id), t.name) for t in db.session.scalars(select(Team).order_by(Team.name))]
        form.agent.choices = [("", _("— a la cola del equipo —"))] + [
            (str(u.id), f"{u.name} ({', '.join(t.name for t in u.teams)})")
            for u in db.session.scalars(select(User).where(User.active.is_(True))
                                        .order_by(User.name))]
        ids = [i for i in map(rules.parse_id, (form.ids.data or "").split(",")) if i]
        tickets = queries.tickets_by_ids(ids)
        if not tickets:
            flash(_("No hay tickets seleccionados."), "error")
            return redirect(url_for(".index_view"))
        ids = [ticket.id for ticket in tickets]
        status = 200
        if form.is_submitted():
            response, status = self._reassign(form, ids, len(tickets))
            if response is not None:
                return response
            db.session.expire_all()
            tickets = queries.tickets_by_ids(ids)
        if status != 422 or not form.version.data:  # the versions of the tickets shown now
            form.version.data = ",".join(str(ticket.version) for ticket in tickets)
        return self.render("helpdesk/tickets/reassign.html", form=form,
                           tickets=tickets), status

    def _reassign(self, form, ids: list[int], count: int):
        """Apply a submitted reassignment: (redirect, 302), or (None, the error status)."""
        expected = form.expected_versions(ids) if form.validate() else None
        if expected is None:
            flash(_("Revisa el formulario: %(errors)s", errors=_form_errors(form)
                    or _("recarga la página y vuelve a intentarlo.")), "error")
            return None, 422
        refused = apply_to_many(lambda: workflows.reassign_tickets(
            ids, team=_pick(Team, form.team.data), agent=_pick(User, form.agent.data),
            actor=current_user, expected_versions=expected))
        if refused is not None:
            return None, refused
        flash(ngettext("%(num)d ticket reasignado.", "%(num)d tickets reasignados.",
                       count), "success")
        if len(ids) == 1:
            return redirect(url_for(".work_view", ticket_id=ids[0])), 302
        return redirect(url_for(".index_view")), 302


def _pick(model, value: str):
    """The row behind a select's value ('' → None); an unknown id is a DomainError."""
    if not value:
        return None
    row_id = rules.parse_id(value)
    row = db.session.get(model, row_id) if row_id else None
    if row is None:
        raise DomainError(_("La opción elegida ya no existe."))
    return row
