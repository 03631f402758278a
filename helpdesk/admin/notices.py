"""Notices: the bell's list (JSON, read when the bell is opened or its count went stale),
opening one (read, then its ticket), *Preferencias de avisos* (per kind: panel, e-mail, both or
none, under the user's menu) and the note box's @ autocomplete (staff who may see the ticket)."""

from __future__ import annotations

from flask import Flask, abort, flash, jsonify, redirect, request, url_for
from flask_admin import Admin, expose
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectField

from .. import notice_rules, presence, queries, workflows
from ..extensions import db
from ..forms import Form
from ..models import Notification
from ..queries import notices as notice_queries
from .base import ALL_STAFF, StaffPage

#: How many unread notices the bell lists (the home page lists more).
BELL_ITEMS = 10
CHOICES = (("panel", _l("Solo en el panel")), ("email", _l("Solo por correo")),
           ("both", _l("En el panel y por correo")), ("none", _l("Ninguno")))
KIND_LABELS = {
    notice_rules.ASSIGNED: _l("Un ticket se te asigna (enrutamiento, supervisor, reasignación "
                              "en bloque)"),
    notice_rules.CUSTOMER_REPLY: _l("El cliente responde en un ticket tuyo"),
    notice_rules.MENTION: _l("Alguien te menciona en una nota interna (@)"),
    notice_rules.ESCALATION: _l("Un ticket se escala a ti o vuelve a tu equipo"),
}


class PreferencesForm(Form):
    """One choice per kind of notice."""

    assigned = SelectField(choices=CHOICES)
    customer_reply = SelectField(choices=CHOICES)
    mention = SelectField(choices=CHOICES)
    escalation = SelectField(choices=CHOICES)


def notice_text(n: Notification) -> str:
    """What a notice says, in the viewer's language."""
    detail = n.message.split(":", 1)[-1]
    texts = {
        "sla_breach": lambda: _("El ticket #%(id)s superó su plazo SLA.", id=n.ticket_id),
        "escalation": lambda: _("El ticket #%(id)s se escaló a ti.", id=n.ticket_id),
        "deescalation": lambda: _("El ticket #%(id)s volvió a tu equipo.", id=n.ticket_id),
        "reopened": lambda: _("El cliente reabrió el ticket #%(id)s.", id=n.ticket_id),
        "low_rating": lambda: _("El ticket #%(id)s recibió una valoración de %(score)s de 5.",
                                id=n.ticket_id, score=detail),
        notice_rules.ASSIGNED: lambda: _("%(name)s te asignó el ticket #%(id)s.", name=detail,
                                         id=n.ticket_id) if detail
        else _("Se te asignó el ticket #%(id)s.", id=n.ticket_id),
        notice_rules.CUSTOMER_REPLY: lambda: _("El cliente respondió en el ticket #%(id)s.",
                                               id=n.ticket_id),
        notice_rules.MENTION: lambda: _("%(name)s te mencionó en una nota del ticket #%(id)s.",
                                        name=detail.split(":", 1)[-1], id=n.ticket_id),
    }
    if n.kind == queries.BREACH_DIGEST:
        return _("%(n)d tickets de %(team)s superaron su plazo SLA a la vez.", n=n.count,
                 team=n.team.name) if n.team is not None else \
            _("%(n)d tickets sin equipo superaron su plazo SLA a la vez.", n=n.count)
    if n.kind in texts and (n.ticket_id or n.kind == "low_rating"):
        return texts[n.kind]()
    return n.message


def notice_url(n: Notification) -> str:
    """Where a notice leads: its ticket, or the team's overdue tickets for a digest."""
    if n.ticket_id:
        return url_for("tickets.work_view", ticket_id=n.ticket_id)
    if n.kind == queries.BREACH_DIGEST:
        return url_for("tickets.breached_view", team=n.team_id)
    return url_for("admin.index") + "#avisos"


class NoticesView(StaffPage):
    """Everyone's own notices and preferences; nothing of anyone else's."""

    read_roles = write_roles = ALL_STAFF

    def is_visible(self) -> bool:
        return False  # reached from the bell and the user menu, not the main menu

    @expose("/", methods=("GET", "POST"))
    def index(self):
        """*Preferencias de avisos*: a choice per kind; saving changes only what changed."""
        current = notice_queries.preferences_of(current_user.id)
        form = PreferencesForm(data={kind: notice_rules.channel_value(channels)
                                     for kind, channels in current.items()})
        if request.method == "POST" and form.validate_on_submit():
            chosen = {kind: notice_rules.parse_channel(form[kind].data)
                      for kind in notice_rules.NOTICE_KINDS}
            with workflows.atomic():
                changed = workflows.set_notice_preferences(current_user, chosen,
                                                           actor=current_user)
            flash(_("Preferencias de avisos guardadas.") if changed
                  else _("No había nada que cambiar."), "success")
            return redirect(url_for(".index"))
        return self.render("helpdesk/notice_preferences.html", form=form, labels=KIND_LABELS,
                           kinds=notice_rules.NOTICE_KINDS)

    @expose("/bell/<int:limit>")
    def bell_view(self, limit: int):
        """The bell's count and newest unread notices, at most `limit` (up to BELL_ITEMS): the
        database, read once per change."""
        before = presence.bell_seed_state(current_user.id)
        count = queries.unread_count(current_user.id)
        version = presence.seed_bell(current_user.id, before, count)
        items = [{"id": n.id, "text": notice_text(n), "url": notice_url(n),
                  "open": url_for(".open_view", notice_id=n.id),
                  "when": format_datetime(n.created_at, "short")}
                 for n in queries.unread_notifications(current_user.id,
                                                       limit=max(1, min(limit, BELL_ITEMS)))]
        return jsonify(n=count, v=version, items=items)

    @expose("/<int:notice_id>/open", methods=("POST",))
    def open_view(self, notice_id: int):
        """Mark one of your notices read and go where it leads."""
        notice = db.session.scalar(select(Notification).where(
            Notification.id == notice_id, Notification.user_id == current_user.id))
        if notice is None:
            abort(404)
        with workflows.atomic():
            workflows.read_notice(notice, actor=current_user)
        return redirect(notice_url(notice))

    @expose("/staff/<int:ticket_id>")
    def staff_view(self, ticket_id: int):
        """The note box's @ autocomplete: up to 8 staff who may open this ticket, whose name
        or e-mail contains `q` — only for someone who may open it too."""
        ticket = notice_queries.ticket_seen_by(ticket_id, current_user)
        if ticket is None:
            abort(404)
        term = request.args.get("q", "").strip()[:60]
        people = notice_queries.staff_who_see(ticket, term)
        return jsonify(staff=[{"name": name, "handle": handle} for name, handle in people])


def _globals() -> dict:
    """The bell in the navigation bar: count, pass and addresses (layout.html)."""
    return {"notice_text": notice_text, "bell_state": _bell_state}


def _bell_state() -> dict:
    """What the bell renders with: the unread count (seeding the live count), the poll's pass."""
    user_id = current_user.id
    count, version = presence.bell_for_page(user_id, lambda: queries.unread_count(user_id))
    return {"count": count, "version": version or "",
            "pass": presence.issue_pass(current_user, 0)}


def init_notices(admin: Admin, app: Flask) -> None:
    """Add the view (outside the menus) and the templates' helpers."""
    with app.app_context():
        admin.add_view(NoticesView(name=_l("Preferencias de avisos"), endpoint="notices"))
    app.context_processor(_globals)
