"""Tickets that belong together, under the ticket view: *Fusionar* (its page), the ticket
page's linked tickets (link, remove), and macros (the list the picker loads, apply)."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Regexp

from .. import phrases, queries, rules, workflows
from ..errors import Conflict, DomainError, is_lock_timeout
from ..extensions import db
from ..forms import ConfirmForm, Form, TicketActionForm
from ..models import LinkKind, Macro, Ticket, TicketLink, TicketStatus
from ..queries import links as link_queries
from .base import busy_form

PAGE = "helpdesk/tickets/merge.html"
#: At most this many tickets merged at once.
MERGE_MAX = 20


class MergeForm(Form):
    """*Fusionar*: the duplicates, which ticket stays, whether to tell the customers."""

    tickets = StringField(_l("Números de los tickets duplicados"), validators=[
        InputRequired(message=_l("Escribe el número de al menos un ticket.")), Length(max=300)])
    survivor = StringField()  # radio buttons on the page, one per ticket
    notify = BooleanField(_l("Avisar por correo a los clientes de los tickets fusionados"))
    confirm_other_customers = BooleanField(_l("Fusionar tickets de clientes distintos"))
    versions = HiddenField(validators=[Regexp(r"^(\d{1,10}:\d{1,9})?(,\d{1,10}:\d{1,9})*$")])

    def expected_versions(self) -> dict[int, int]:
        """{ticket id: version shown} from `versions`."""
        pairs = [p.split(":") for p in (self.versions.data or "").split(",") if p]
        return {int(t): int(v) for t, v in pairs}


class LinkForm(Form):
    """Link another ticket to this one."""

    other = StringField(_l("Nº de ticket"), validators=[
        InputRequired(message=_l("Escribe el número del ticket.")), Length(max=12)])
    kind = SelectField(_l("Relación"), choices=[(LinkKind.RELATED.value, _l("Relacionado")),
                                                 (LinkKind.DUPLICATE.value, _l("Este es duplicado "
                                                                               "de"))])


class MacroForm(TicketActionForm):
    """A macro to apply (the picker's options are loaded by static/ticket.js)."""

    macro = SelectField(_l("Macro"), choices=[], validate_choice=False,
                        validators=[InputRequired(message=_l("Elige una macro."))])


def parse_numbers(text: str | None) -> list[int] | None:
    """"#12, 15 18" → [12, 15, 18]; None when a part is not a ticket number."""
    parts = [p for p in (text or "").replace(",", " ").replace(";", " ").split() if p]
    ids = [rules.parse_id(p) for p in parts]
    return None if None in ids else list(dict.fromkeys(ids))


def links_panel(ticket: Ticket) -> dict:
    """What the ticket page's links include shows: the linked tickets the viewer may open (one
    statement), where a merged ticket went, *Fusionar* for who may, and the forms."""
    links = link_queries.linked_tickets(ticket.id, current_user)
    merged_into = next((link for link in links
                        if link.kind is LinkKind.MERGED and link.outgoing), None)
    can_merge = rules.may_merge(
        current_user.role, (team.id for team in current_user.teams), actor_id=current_user.id,
        team_id=ticket.team_id, assignee_id=ticket.assignee_id, status=ticket.status,
        merged=merged_into is not None)
    merged_into_id = (link_queries.merged_into([ticket.id]).get(ticket.id)
                      if ticket.status is TicketStatus.RESOLVED else None)
    return {"links": links, "merged_into": merged_into, "merged_into_id": merged_into_id,
            "can_merge": can_merge,
            "link_form": LinkForm(formdata=None), "remove_form": ConfirmForm(formdata=None),
            "macro_form": MacroForm(formdata=None, version=ticket.version),
            "LinkKind": LinkKind, "resolved": ticket.status is TicketStatus.RESOLVED}


def panel_globals() -> dict:
    """Jinja globals for templates/helpdesk/tickets/_links.html."""
    return {"links_panel": links_panel, "status_text": phrases.status_text}


class MergeMixin:
    """Exposed under the ticket view: /admin/tickets/<id>/merge, /link, /macro…"""

    @expose("/<int:ticket_id>/merge", methods=("GET", "POST"))
    def merge_view(self, ticket_id: int):
        """*Fusionar*: name the duplicates, review them, pick the ticket that stays, merge."""
        ticket = self._ticket_or_404(ticket_id)
        form = MergeForm(request.form if request.method == "POST" else request.args)
        candidates, status = self._merge_candidates(ticket, form)
        if request.method == "POST" and status == 200:
            response, status = self._merge(ticket, form, candidates)
            if response is not None:
                return response
            db.session.expire_all()
            candidates, _status = self._merge_candidates(self._ticket_or_404(ticket_id), form)
        if candidates and (request.method == "GET" or status == 409 or not form.versions.data):
            form.versions.data = ",".join(f"{t.id}:{t.version}" for t in candidates)
        if not form.survivor.data:
            form.survivor.data = str(ticket.id)
        others = {t.customer_id for t in candidates} - {ticket.customer_id}
        return self.render(PAGE, ticket=ticket, form=form, candidates=candidates,
                           other_customers=bool(others),
                           merged=link_queries.merged_into(t.id for t in candidates)), status

    def _merge_candidates(self, ticket: Ticket, form: MergeForm) -> tuple[list[Ticket], int]:
        """This ticket and the ones named, as the viewer may open them; 200, or 422 (said)."""
        if not form.tickets.data:
            return [], 200
        ids = parse_numbers(form.tickets.data)
        if ids is None or len(ids) > MERGE_MAX:
            flash(_("Escribe números de ticket separados por comas (como mucho %(n)d).",
                    n=MERGE_MAX), "error")
            return [], 422
        found = [queries.visible_ticket(i, current_user) for i in ids if i != ticket.id]
        missing = [f"#{i}" for i, t in zip([i for i in ids if i != ticket.id], found,
                                           strict=True) if t is None]
        if missing:
            flash(_("Estos tickets no existen o no tienes acceso a ellos: %(ids)s.",
                    ids=", ".join(missing)), "error")
            return [], 422
        return sorted([ticket, *found], key=lambda t: t.created_at), 200

    def _merge(self, ticket: Ticket, form: MergeForm, candidates: list[Ticket]):
        """Apply a submitted merge: (redirect, 302), or (None, the status to answer with)."""
        if not form.validate() or not candidates:
            flash(_("Revisa el formulario: %(errors)s", errors="; ".join(
                str(e) for errors in form.errors.values() for e in errors)
                or _("elige los tickets que fusionar.")), "error")
            return None, 422
        survivor_id = rules.parse_id(form.survivor.data)
        survivor = next((t for t in candidates if t.id == survivor_id), None)
        if survivor is None:
            flash(_("Elige cuál de estos tickets queda."), "error")
            return None, 422
        merged = [t for t in candidates if t is not survivor]
        if set(form.expected_versions()) != {t.id for t in candidates}:
            flash(_("El formulario caducó; recarga la página y vuelve a intentarlo."), "error")
            return None, 422
        try:
            with workflows.atomic():
                workflows.merge_tickets(
                    survivor, merged, actor=current_user, notify_customer=form.notify.data,
                    other_customers_confirmed=form.confirm_other_customers.data,
                    expected_versions=form.expected_versions())
        except OperationalError as exc:
            if not is_lock_timeout(exc):
                raise
            busy_form()
            return None, 503
        except (DomainError, StaleDataError) as exc:
            if isinstance(exc, StaleDataError):
                exc = Conflict(_("Otra persona cambió uno de estos tickets en el mismo "
                                 "momento; revísalos y vuelve a intentarlo."))
            flash(str(exc), "error")
            if isinstance(exc, workflows.MergeForbidden):
                return None, 403
            return None, 409 if isinstance(exc, Conflict) else 400
        flash(_("%(n)d tickets fusionados en %(ticket)s.", n=len(merged),
                ticket=survivor.number) if len(merged) != 1 else
              _("Ticket fusionado en %(ticket)s.", ticket=survivor.number), "success")
        return redirect(url_for(".work_view", ticket_id=survivor.id)), 302

    @expose("/<int:ticket_id>/link", methods=("POST",))
    def link_view(self, ticket_id: int):
        """Link another ticket to this one (both must be open to the viewer)."""
        ticket = self._ticket_or_404(ticket_id)
        form = LinkForm()
        other_id = rules.parse_id(form.other.data) if form.validate_on_submit() else None
        if other_id is None:
            flash(_("Escribe el número de un ticket para vincularlo."), "error")
            return self._work_page(ticket, 422)
        other = queries.visible_ticket(other_id, current_user)
        if other is None:
            flash(_("El ticket #%(id)s no existe o no tienes acceso a él.", id=other_id),
                  "error")
            return self._work_page(ticket, 422)
        return self._change(ticket, lambda: workflows.link_tickets(
            ticket, other, LinkKind(form.kind.data), actor=current_user),
            _("Tickets vinculados."))

    @expose("/<int:ticket_id>/links/<int:link_id>/remove", methods=("POST",))
    def unlink_view(self, ticket_id: int, link_id: int):
        """Remove a link of this ticket."""
        ticket = self._ticket_or_404(ticket_id)
        if not ConfirmForm().validate_on_submit():
            flash(_("El formulario caducó; recarga la página y vuelve a intentarlo."), "error")
            return self._work_page(ticket, 400)
        link = db.session.get(TicketLink, link_id)
        if link is None or ticket_id not in (link.ticket_id, link.other_id):
            abort(404, _("Ese vínculo no existe en este ticket."))
        return self._change(ticket, lambda: workflows.unlink_tickets(link, actor=current_user),
                            _("Vínculo quitado."))

    def _change(self, ticket: Ticket, change, success: str):
        try:
            with workflows.atomic():
                change()
        except DomainError as exc:
            flash(str(exc), "error")
            return self._work_page(self._ticket_or_404(ticket.id), 400)
        flash(success, "success")
        return redirect(url_for(".work_view", ticket_id=ticket.id))

    @expose("/<int:ticket_id>/macros")
    def macros_view(self, ticket_id: int):
        """The active macros (JSON) for the ticket page's picker, loaded after the page."""
        self._ticket_or_404(ticket_id)
        return jsonify(macros=[{"id": m.id, "name": m.name} for m in link_queries.active_macros()])

    @expose("/<int:ticket_id>/macro", methods=("POST",))
    def macro_view(self, ticket_id: int):
        """Apply a macro: template reply, status, priority, category in one step."""
        form = MacroForm()

        def action(ticket, expected):
            macro_id = rules.parse_id(form.macro.data)
            workflows.apply_macro(ticket, db.session.get(Macro, macro_id) if macro_id else None,
                                  actor=current_user, expected_version=expected)

        return self._act(ticket_id, form, action, _("Macro aplicada."), "macro")

