"""Soporte > Informes: response, resolution, satisfaction and productivity figures."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import queries, rules, workflows
from ..errors import DomainError
from ..extensions import db
from ..models import Availability, Role, TicketStatus, User
from ..redirects import safe_next
from .base import ALL_STAFF, SUPERVISORS, StaffPage, StaffView

REPORT_DAYS = 30


def _duration(seconds) -> str:
    if seconds is None:
        return "—"
    return format_timedelta(timedelta(seconds=float(seconds)), threshold=1.0,
                            granularity="minute")


class ReportsView(StaffPage):
    """Informes, for supervisors and admins."""

    read_roles = SUPERVISORS

    @expose("/")
    def index(self):
        since = rules.utcnow() - timedelta(days=REPORT_DAYS)
        response = [
            {"priority": p, "count": n, "avg": _duration(avg)}
            for p, n, avg in queries.report_first_response(since)
        ]
        resolution = [
            {"category": name, "count": n, "avg": _duration(avg)}
            for name, n, avg in queries.report_resolution_by_category(since)
        ]
        count, avg = queries.report_satisfaction(since)
        agents = [
            {"name": name, "resolved": int(done), "open": int(now)}
            for name, done, now in queries.report_agent_productivity(since)
        ]
        return self.render(
            "helpdesk/reports.html", days=REPORT_DAYS, response=response, resolution=resolution,
            csat={"count": count, "avg": f"{avg:.2f}" if avg is not None else None},
            agents=agents,
        )


class HomeView(StaffView, AdminIndexView):
    """The landing page after login: ticket counts per status."""

    read_roles = ALL_STAFF

    @expose("/")
    def index(self):
        capped = queries.queue_counts(current_user)  # what the queue's tabs show: cheap at 1M
        counts = {status: capped[status.value] for status in TicketStatus}
        mine = capped["mine"]
        team = [(person, n) for person, n in queries.team_roster(current_user)
                if workflows.may_set_availability(current_user, person)] \
            if current_user.role >= Role.SUPERVISOR else []
        return self.render("helpdesk/index.html", counts=counts, mine=mine, roster=team,
                           availabilities=list(Availability),
                           notices=queries.unread_notifications(current_user.id),
                           cap=queries.COUNT_CAP)

    @expose("/notifications/read", methods=("POST",))
    def notifications_read_view(self):
        """Mark every notice as read."""
        with workflows.atomic():
            workflows.mark_notifications_read(current_user)
        return redirect(url_for(".index"))

    @expose("/availability", methods=("POST",))
    def availability_view(self):
        """Set availability: your own, or (supervisors) a team member's."""
        target = rules.parse_id(request.form.get("user_id")) or current_user.id
        try:
            value = Availability(request.form.get("availability", ""))
        except ValueError:
            flash(_("Disponibilidad desconocida."), "error")
            return redirect(url_for(".index"))
        user = db.session.get(User, target)
        if user is None:
            abort(404)
        try:
            with workflows.atomic():
                workflows.set_availability(user, value, actor=current_user)
        except DomainError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index")), 403
        flash(_("%(name)s: %(state)s", name=user.name, state=value.label), "success")
        return redirect(safe_next(request.form.get("next"), url_for(".index")))


def report_views(category: str) -> list:
    """Informes."""
    return [ReportsView(name=_l("Informes"), category=category, endpoint="reports")]
