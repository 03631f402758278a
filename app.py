"""The Bayit+ Soporte application factory: `flask --app app …`, `gunicorn 'app:create_app()'`."""

from __future__ import annotations

from flask import Flask

from helpdesk import (
    admin,
    auth,
    cli,
    errors_http,
    extensions,
    health,
    home,
    presence,
    public,
    security,
    sessions,
    throttle,
)
from helpdesk.config import Config, ConfigError
from helpdesk.securitylog import configure_logging


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app from the environment, then `overrides` (tests pass theirs here)."""
    app = Flask(__name__)
    try:
        settings = Config.from_env().as_dict()
    except ConfigError as exc:  # one line, no traceback: this is the operator's first contact
        raise SystemExit(f"Error: {exc}") from None
    app.config.from_mapping(settings, **(overrides or {}))
    configure_logging(app)
    extensions.init_app(app)
    security.init_app(app)
    sessions.init_app(app)
    throttle.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(home.bp)
    presence.init_app(app)
    errors_http.init_app(app)
    admin.init_admin(app)
    cli.init_app(app)
    return app
