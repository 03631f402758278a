"""init_admin(app): a fresh Admin and fresh views per app, the menu order in one place."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_admin import Admin
from flask_admin import babel as admin_babel
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import queries
from ..security import csp_nonce
from . import closure, escalation, mail, merge, notices
from .catalog import catalog_views, template_views
from .jobs import job_views
from .mail import mail_views
from .people import people_views
from .reports import HomeView, report_views
from .routing import routing_views
from .tickets import ticket_views


class _OurCatalogueWins(type(admin_babel.domain)):
    """Flask-Admin merges `translations_path` first and its own wheel's catalogue last, and
    Flask-Babel's merge lets the last one win, so our corrections of its stale Spanish
    ("Salvar" for Save) never showed; and outside a view's request it leaves ours out, caching
    the result for every later request. Ours (`ours`, set by init_admin) always go last."""

    ours: str | None = None

    @property
    def translation_directories(self) -> list[str]:
        dirs = [d for d in super().translation_directories if d != self.ours]
        return [*dirs, self.ours] if self.ours else dirs


admin_babel.domain.__class__ = _OurCatalogueWins


def init_admin(app: Flask) -> Admin:
    """Build the panel: Soporte (Tickets, Informes) and Configuración (the guide's order)."""
    translations = str(Path(app.root_path) / "translations")
    admin_babel.domain.ours = translations
    admin_babel.domain.cache.clear()  # merged before `ours` was known
    admin = Admin(
        app,
        name="Bayit+ Soporte",
        index_view=HomeView(name=_l("Inicio"), url="/admin"),
        theme=Bootstrap4Theme(base_template="helpdesk/layout.html", swatch="cosmo", fluid=True),
        translations_path=translations,
        csp_nonce_generator=csp_nonce,
    )
    support, settings = _l("Soporte"), _l("Configuración")
    routing = routing_views(settings)  # Enrutamiento, SLA, Horarios laborales, Equipos
    views = [
        *ticket_views(support),
        *report_views(support),
        *mail_views(support),
        routing[0],
        *template_views(settings),
        *routing[1:],
        *people_views(settings),
        *catalog_views(settings),
        *job_views(settings),
    ]
    with app.app_context():  # lazy category names are hashed while the menu is built
        for view in views:
            admin.add_view(view)
    app.context_processor(_panel_globals)
    app.context_processor(escalation.panel_globals)
    app.context_processor(closure.panel_globals)
    app.context_processor(mail.panel_globals)
    app.context_processor(merge.panel_globals)
    notices.init_notices(admin, app)
    return admin


def _panel_globals() -> dict:
    """The navigation bar's unread-notice count, computed only when a page asks for it."""
    return {"unread_notices": lambda: queries.unread_count(current_user.id)
            if current_user.is_authenticated else 0}
