"""The queue's bulk actions (Tomar, Cambiar estado, Cambiar prioridad, Resolver) and the reassign
dialog.

Each runs the domain layer's bulk workflow (`workflows.bulk`) on the selected tickets the person
may see, in one transaction, and answers with what changed and what was refused and why."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, SelectField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, Optional, Regexp

from .. import queries, rules, workflows
from ..extensions import db
from ..forms import BulkResolveForm, Form, ReassignForm
from ..models import Priority, ResolutionCategory, Team, Ticket, TicketStatus, User
from ..queries import closure as closure_queries
from ..queries import links as link_queries
from .base import apply_to_many
from .ticket_work import _form_errors, _pick

VERSIONS = r"^\d{1,9}(,\d{1,9}){0,999}$"


def visible_tickets(ids) -> list[Ticket]:
    """The selected tickets the viewer may see, by id (others are silently not there, as in
    the list: what you may not open, you do not see)."""
    valid = sorted({i for i in (rules.parse_id(i) for i in ids) if i is not None})
    if not valid:
        return []
    return list(db.session.scalars(select(Ticket).where(
        Ticket.id.in_(valid), queries.visible_to(current_user)).order_by(Ticket.id)))


def ids_arg(ids) -> str:
    return ",".join(str(i) for i in ids)


def run_bulk(change):
    """(outcome, None) when the batch went through, else (None, the status to answer):
    `apply_to_many`'s one transaction and its answers to a moved ticket or a busy database."""
    box = []
    status = apply_to_many(lambda: box.append(change()))
    return (box[0] if status is None else None), status


def submit_dialog(form, ids: list[int], kind: str, change):
    """A bulk dialog's submission: the form checked, then `change(expected_versions)` in one
    transaction. (the redirect to the queue, None) when it went through, with its outcome
    flashed; else (None, the status to answer with the dialog again)."""
    expected = form.expected_versions(ids) if form.validate() else None
    if expected is None:
        flash(_("Revisa el formulario: %(errors)s", errors=_form_errors(form)
                or _("recarga la página y vuelve a intentarlo.")), "error")
        return None, 422
    outcome, status = run_bulk(lambda: change(expected))
    if outcome is None:
        return None, status
    flash_outcome(kind, outcome)
    return redirect(url_for(".index_view")), None


def _done(kind: str, n: int) -> str:
    """What "changed" reads as in each action's answer, in the right plural form."""
    if kind == "take":
        return ngettext("%(num)d ticket tomado", "%(num)d tickets tomados", n)
    if kind == "reassign":
        return ngettext("%(num)d ticket reasignado", "%(num)d tickets reasignados", n)
    if kind == "resolve":
        return ngettext("%(num)d ticket resuelto", "%(num)d tickets resueltos", n)
    return ngettext("%(num)d ticket cambiado", "%(num)d tickets cambiados", n)


def flash_outcome(kind: str, outcome: workflows.BulkOutcome) -> None:
    """"3 tickets cambiados; 1 rechazado: #12: Un ticket resuelto no …", in the viewer's
    language with its plural forms; success, warning (some refused) or error (none done)."""
    parts = []
    if outcome.changed or not (outcome.refused or outcome.unchanged):
        parts.append(_done(kind, len(outcome.changed)))
    if outcome.unchanged:
        parts.append(ngettext("%(num)d ya estaba así", "%(num)d ya estaban así",
                              len(outcome.unchanged)))
    if outcome.refused:
        reasons = " ".join(_("%(ticket)s: %(reason)s", ticket=number, reason=reason)
                           for number, reason in outcome.refused)
        parts.append(ngettext("%(num)d rechazado", "%(num)d rechazados",
                              len(outcome.refused)) + " — " + reasons)
    message = "; ".join(parts)
    if not message.endswith("."):
        message += "."
    category = "success" if not outcome.refused else "warning" if outcome.changed else "error"
    flash(message, category)


class BulkChangeForm(Form):
    """A status or a priority for the selected tickets, with the versions the person saw."""

    ids = HiddenField()
    version = HiddenField(validators=[InputRequired(), Regexp(VERSIONS)])
    value = SelectField(choices=[], validators=[InputRequired()])

    def expected_versions(self, ids: list[int]) -> dict[int, int] | None:
        """{ticket id: version seen}, or None unless there is one version per id."""
        versions = [int(v) for v in (self.version.data or "").split(",") if v]
        return dict(zip(ids, versions, strict=True)) if len(versions) == len(ids) else None


#: kind → (its title, the field's label, the choices, the bulk workflow).
BULK_CHANGES = {
    "status": (_l("Cambiar estado"), _l("Nuevo estado"),
               lambda: [(s.value, s.label) for s in TicketStatus
                        if s is not TicketStatus.RESOLVED and s is not TicketStatus.NEW],
               lambda ids, value, **kw: workflows.change_statuses(ids, TicketStatus(value), **kw)),
    "priority": (_l("Cambiar prioridad"), _l("Prioridad"),
                 lambda: [(p.value, p.label) for p in Priority],
                 lambda ids, value, **kw: workflows.change_priorities(ids, Priority(value),
                                                                      **kw)),
}


class ReassignDialogForm(ReassignForm):
    """The reassign dialog: ReassignForm plus the reason to go past an agent's capacity."""

    over_capacity = TextAreaField(_l("Motivo para superar la capacidad"), validators=[
        Optional(), Length(max=rules.OVER_CAPACITY_REASON_MAX)])


#: The bulk dialog's "ask the customers to confirm": each channel's default, all, none.
ASK_CHOICES = (("channel", _l("Según el canal de cada ticket (correo y web: sí)")),
               ("yes", _l("Pedirla a todos")), ("no", _l("No pedirla")))


class BulkResolveDialogForm(BulkResolveForm):
    """The bulk *Resolver* asks what the guided closure asks of one ticket (`ResolveForm`),
    except the final reply, which is written to one customer: solved, category, closing notes,
    whether to ask the customers to confirm."""

    solved = BooleanField(_l("El problema de cada ticket está completamente resuelto"),
                          validators=[InputRequired(message=_l(
                              "Confirma que el problema está completamente resuelto."))])
    ask = SelectField(_l("Pedir confirmación a los clientes"), choices=ASK_CHOICES,
                      default="channel", validators=[AnyOf([c for c, _label in ASK_CHOICES])])

    def ask_confirmation(self) -> bool | None:
        """True, False, or None: as each ticket's channel says."""
        return {"yes": True, "no": False}.get(self.ask.data)


def resolution_choices(tickets: list[Ticket]) -> list[tuple[str, str]]:
    """The active resolution categories that fit at least one selected ticket; one that fits
    only a category says which ("Reembolsado (solo Facturación)"), since the others refuse it."""
    rows, seen = [], set()
    for category_id in sorted({t.category_id for t in tickets}, key=lambda c: c or 0):
        for r in closure_queries.resolution_categories_for(category_id):
            if r.id not in seen:
                seen.add(r.id)
                rows.append(r)
    return [("", "—")] + [
        (str(r.id), r.name if r.category is None else
         _("%(name)s (solo %(category)s)", name=r.name, category=r.category.name))
        for r in sorted(rows, key=lambda r: r.name)]


def agent_loads() -> list[dict]:
    """Every active staff member the dialog offers: name, teams, availability, open tickets
    against capacity, and whether one more ticket would go past it (`rules.has_capacity`)."""
    people = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name))
    return [{"user": u, "teams": ", ".join(t.name for t in u.teams),
             "full": not rules.has_capacity(u.open_tickets, u.capacity)} for u in people]


class BulkMixin:
    """The queue's bulk actions and the reassign dialog, exposed under the ticket view."""

    @action("take", _l("Tomar"))
    def action_take(self, ids):
        """Bulk: take the selected unassigned tickets (each one `take_ticket` accepts)."""
        tickets = visible_tickets(ids)
        outcome, _status = run_bulk(lambda: workflows.take_tickets(
            [t.id for t in tickets], actor=current_user))
        if outcome is not None:
            flash_outcome("take", outcome)

    @action("status", _l("Cambiar estado"))
    def action_status(self, ids):
        """Bulk: choose a status for the selected tickets."""
        return redirect(url_for(".bulk_view", kind="status", ids=ids_arg(ids)))

    @action("priority", _l("Cambiar prioridad"))
    def action_priority(self, ids):
        """Bulk: choose a priority for the selected tickets."""
        return redirect(url_for(".bulk_view", kind="priority", ids=ids_arg(ids)))

    @expose("/bulk/<kind>", methods=("GET", "POST"))
    def bulk_view(self, kind: str):
        """A status or a priority for the selected tickets; each refused one says why."""
        if kind not in BULK_CHANGES:
            abort(404)
        title, label, choices, change = BULK_CHANGES[kind]
        form = BulkChangeForm(ids=request.args.get("ids", ""))
        form.value.label.text = str(label)
        form.value.choices = choices()
        tickets = visible_tickets((form.ids.data or "").split(","))
        if not tickets:
            flash(_("No hay tickets seleccionados."), "error")
            return redirect(url_for(".index_view"))
        ids, status = [t.id for t in tickets], 200
        if form.is_submitted():
            response, status = submit_dialog(form, ids, kind, lambda expected: change(
                ids, form.value.data, actor=current_user, expected_versions=expected))
            if response is not None:
                return response
            db.session.expire_all()
            tickets = visible_tickets(ids)
        if status != 422 or not form.version.data:
            form.version.data = ids_arg(t.version for t in tickets)
        return self.render("helpdesk/tickets/bulk.html", form=form, tickets=tickets,
                           title=title, kind=kind,
                           merged=link_queries.merged_into(ids)), status

    @expose("/resolve", methods=("GET", "POST"))
    def resolve_bulk_view(self):
        """Supervisors: *Resolver* the selected tickets with one category and closing notes,
        each through the guided closure; each refused ticket says why and stays as it was; a
        ticket changed since the page was shown is reported (409) and nothing is applied."""
        if not rules.may_bulk_resolve(current_user.role):
            abort(403)
        form = BulkResolveDialogForm(ids=request.args.get("ids", ""))
        tickets = visible_tickets((form.ids.data or "").split(","))
        if not tickets:
            flash(_("No hay tickets seleccionados."), "error")
            return redirect(url_for(".index_view"))
        form.resolution.choices = resolution_choices(tickets)
        ids, status = [t.id for t in tickets], 200
        if form.is_submitted():
            row_id = rules.parse_id(form.resolution.data)
            response, status = submit_dialog(form, ids, "resolve", lambda expected: (
                workflows.resolve_tickets(
                    ids, actor=current_user, solved=form.solved.data,
                    resolution=db.session.get(ResolutionCategory, row_id) if row_id else None,
                    notes=form.notes.data, ask_confirmation=form.ask_confirmation(),
                    expected_versions=expected)))
            if response is not None:
                return response
            db.session.expire_all()
            tickets = visible_tickets(ids)
        if status not in (400, 422) or not form.version.data:
            form.version.data = ids_arg(t.version for t in tickets)
        return self.render("helpdesk/tickets/resolve_bulk.html", form=form, tickets=tickets,
                           merged=link_queries.merged_into(ids)), status

    @expose("/reassign", methods=("GET", "POST"))
    def reassign_view(self):
        """The reassign dialog: a team and/or an agent for the selected tickets, each agent
        shown with availability and open tickets against capacity. A supervisor may go past an
        agent's capacity with a reason (`rules.capacity_refusal`); a ticket moved since the
        page was shown is reported (409) and nothing is applied."""
        if not rules.may_reassign(current_user.role):
            abort(403)
        form = ReassignDialogForm(ids=request.args.get("ids", ""))
        loads = agent_loads()
        form.team.choices = [("", _("— sin cambio —"))] + [
            (str(t.id), t.name) for t in db.session.scalars(select(Team).order_by(Team.name))]
        form.agent.choices = [("", _("— a la cola del equipo —"))] + [
            (str(row["user"].id), _agent_label(row)) for row in loads]
        tickets = visible_tickets((form.ids.data or "").split(","))
        if not tickets:
            flash(_("No hay tickets seleccionados."), "error")
            return redirect(url_for(".index_view"))
        ids, status = [ticket.id for ticket in tickets], 200
        if form.is_submitted():
            response, status = self._reassign(form, tickets)
            if response is not None:
                return response
            db.session.expire_all()
            tickets = visible_tickets(ids)
        if status != 422 or not form.version.data:  # the versions of the tickets shown now
            form.version.data = ids_arg(ticket.version for ticket in tickets)
        return self.render("helpdesk/tickets/reassign.html", form=form, tickets=tickets,
                           loads=loads,
                           may_exceed=rules.may_exceed_capacity(current_user.role)), status

    def _reassign(self, form, tickets: list[Ticket]):
        """Apply a submitted reassignment: (redirect, 302), or (None, the error status)."""
        ids = [ticket.id for ticket in tickets]
        expected = form.expected_versions(ids) if form.validate() else None
        if expected is None:
            flash(_("Revisa el formulario: %(errors)s", errors=_form_errors(form)
                    or _("recarga la página y vuelve a intentarlo.")), "error")
            return None, 422
        reason = (form.over_capacity.data or "").strip() or None
        try:
            team, agent = _pick(Team, form.team.data), _pick(User, form.agent.data)
        except workflows.DomainError as exc:  # an unknown id: a tampered form
            flash(str(exc), "error")
            return None, 400
        if agent is not None and _needs_reason(agent, tickets, reason):
            return None, 422
        outcome, refused = run_bulk(lambda: workflows.reassign_tickets(
            ids, team=team, agent=agent, actor=current_user, expected_versions=expected,
            over_capacity=reason))
        if outcome is None:
            return None, refused
        flash_outcome("reassign", outcome)
        if len(ids) == 1 and outcome.changed:
            return redirect(url_for(".work_view", ticket_id=ids[0])), 302
        return redirect(url_for(".index_view")), 302


def _agent_label(row) -> str:
    """"Ana López (Cuenta) — Disponible · 3/5", "· al límite" when one more goes past it."""
    user = row["user"]
    label = _("%(name)s (%(teams)s) — %(availability)s · %(open)d/%(capacity)d",
              name=user.name, teams=row["teams"] or "—", availability=user.availability.label,
              open=user.open_tickets, capacity=user.capacity)
    return label + (" · " + _("al límite") if row["full"] else "")


def _needs_reason(agent: User, tickets: list[Ticket], reason: str | None) -> bool:
    """Whether the batch would take `agent` past capacity without the reason it needs (said
    in a flash before anything is applied); the workflow checks each ticket again."""
    arriving = sum(1 for t in tickets if t.assignee_id != agent.id
                   and t.status is not TicketStatus.RESOLVED)
    if not arriving:
        return False
    refusal = rules.capacity_refusal(current_user.role,
                                     open_tickets=agent.open_tickets + arriving - 1,
                                     capacity=agent.capacity, reason=reason)
    if refusal is None:
        return False
    flash(_("%(name)s tendría %(open)d tickets abiertos y su capacidad es %(capacity)d. Para "
            "asignárselos igualmente, escribe el motivo.", name=agent.name,
            open=agent.open_tickets + arriving, capacity=agent.capacity), "error")
    return True
