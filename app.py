"""The Bayit+ Soporte application factory: `flask --app app …`, `gunicorn 'app:create_app()'`."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

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
    if hops := app.config["HELPDESK_PROXY_HOPS"]:
        # Behind a reverse proxy: the client's address (login throttling, logs) and HTTPS
        # (Secure cookies) come from the X-Forwarded-* headers the trusted proxies set.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
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
