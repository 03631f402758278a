"""Soporte > Informes: response, resolution, satisfaction and productivity figures."""

from __future__ import annotations

from datetime import timedelta

from flask_admin import AdminIndexView, expose
from flask_babel import format_timedelta
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import queries, rules
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
        counts = queries.status_counts()
        mine = queries.open_count(current_user.id)
        return self.render("helpdesk/index.html", counts=counts, mine=mine)


def report_views(category: str) -> list:
    """Informes."""
    return [ReportsView(name=_l("Informes"), category=category, endpoint="reports")]
