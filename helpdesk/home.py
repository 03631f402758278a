"""The site's root and its icon: `/` leads to the panel (or the login page), `/favicon.ico` is
served from our own static files (no request ever leaves for another host)."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, send_from_directory, url_for
from flask_login import current_user

bp = Blueprint("home", __name__)


@bp.get("/")
def root():
    """The panel for someone signed in, else the login page (which comes back to the panel)."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    return redirect(url_for("auth.login", next=url_for("admin.index")))


@bp.get("/favicon.ico")
def favicon():
    """The browser's default icon request, answered with our SVG icon."""
    return send_from_directory(current_app.static_folder, "favicon.svg",
                               mimetype="image/svg+xml", max_age=86400)
