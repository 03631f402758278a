"""Log in, log out (here or everywhere) and the language switch."""

from __future__ import annotations

from functools import cache

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from werkzeug.exceptions import TooManyRequests
from werkzeug.security import check_password_hash, generate_password_hash

from . import sessions, throttle, workflows
from .errors import DomainError
from .extensions import db
from .forms import LocaleForm, LoginForm
from .models import User
from .redirects import safe_next
from .securitylog import security_event

bp = Blueprint("auth", __name__)


@cache
def _dummy_hash(method: str) -> str:
    """Checked when the e-mail is unknown, hashed the way passwords are (HELPDESK_PASSWORD_HASH),
    so an unknown e-mail and a wrong password take the same time."""
    return generate_password_hash("not-a-real-password", method=method)


def _safe_next(target: str | None) -> str:
    """Only same-site paths (`redirects.safe_next`): never another host after login."""
    return safe_next(target, url_for("admin.index"))


@bp.route("/login", methods=("GET", "POST"))
def login():
    """The login form; a failure says so without telling which half was wrong."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if (limited := throttle.throttled(email)) is not None:
            # The same 429 whether the e-mail is known or not; the log line says whose.
            scope, wait = limited
            security_event("login_throttled", user_id=user.id if user is not None else None,
                           scope=scope)
            raise TooManyRequests(retry_after=wait)
        stored = user.password_hash if user is not None and user.password_hash \
            else _dummy_hash(current_app.config["HELPDESK_PASSWORD_HASH"])
        if check_password_hash(stored, form.password.data) and user is not None and user.active:
            sessions.log_in(user, remember=bool(form.remember.data))
            session.pop("locale", None)
            security_event("login", user_id=user.id)
            return redirect(_safe_next(form.next.data))
        # Whose account, if any; never what was typed (a password pasted into the e-mail box).
        security_event("login_failed", user_id=user.id if user is not None else None)
        throttle.record_failure(email)
        flash(_("Correo o contraseña incorrectos."), "error")
        return render_template("auth/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=("POST",))
@login_required
def logout():
    """End the session (POST with CSRF token, so no link can log anyone out)."""
    security_event("logout")
    sessions.log_out()
    flash(_("Has cerrado la sesión."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/logout/everywhere", methods=("POST",))
@login_required
def logout_everywhere():
    """End every session of the current user on every device, this one included (POST, CSRF)."""
    sessions.log_out_everywhere(current_user._get_current_object())
    flash(_("Has cerrado la sesión en todos los dispositivos."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/locale/<locale>", methods=("POST",))
def set_locale(locale: str):
    """Switch the panel language; remembered on the user, or in the session before login."""
    LocaleForm()  # CSRFProtect has already checked the token
    if current_user.is_authenticated:
        try:
            with workflows.atomic():
                workflows.set_locale(current_user, locale)
        except DomainError as exc:
            flash(str(exc), "error")
    elif locale in ("es", "en"):
        session["locale"] = locale
    else:
        abort(404)
    return redirect(_safe_next(request.form.get("next")))
