"""A locked database: a web request gives up after HELPDESK_LOCK_TIMEOUT_MS and answers 503
with Retry-After, nothing half-written, the user's text in the form shown again. Real locks,
held by a second connection, as another worker would."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from app import create_app
from helpdesk.config import Config
from helpdesk.errors import is_lock_timeout
from helpdesk.extensions import JOB_BUSY_TIMEOUT_MS, db
from helpdesk.models import Message, Role, Ticket

from .client import BrowserClient
from .conftest import signed_in_client
from .pages import flashes, form_fields, forms_posting_to, parse

NEW = "/admin/tickets/new/"
SUBJECT = "La app se cierra al abrir Mis listas"


@pytest.fixture
def quick_app(app, app_config):
    """An app on the suite's database that waits 300 ms for a lock (the schema is `app`'s)."""
    quick = create_app({**app_config, "HELPDESK_LOCK_TIMEOUT_MS": 300,
                        "HELPDESK_STATEMENT_TIMEOUT_MS": 300})
    quick.test_client_class = BrowserClient
    yield quick
    with quick.app_context():
        db.engine.dispose()


@pytest.fixture
def agent(quick_app, make_user):
    """A logged-in client of `quick_app`."""
    user_id = make_user(Role.ADMIN)
    return signed_in_client(quick_app, user_id)


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def post_ticket(client, customer_id: int):
    started = time.monotonic()
    response = client.post(NEW, data={"customer": str(customer_id), "subject": SUBJECT,
                                      "body": "Desde la última versión.", "priority": "normal",
                                      "channel": "web"})
    return response, time.monotonic() - started


def assert_busy(response, elapsed: float) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert elapsed < 2, f"waited {elapsed:.1f} s for the lock"
    assert "Inténtalo de nuevo en unos segundos" in response.get_data(as_text=True)


# -- PostgreSQL: lock_timeout per web transaction --

@pytest.fixture
def holder(app):
    """A second connection; `hold(sql, **params)` runs it in a transaction left open."""
    with app.app_context():
        engine = db.engine
    conn = engine.connect()

    def hold(sql: str, **params):
        conn.execute(text(sql), params)

    yield hold
    conn.rollback()
    conn.close()


@pytest.mark.postgres_only
def test_ticket_create_behind_a_row_lock_is_a_quick_503_keeping_the_text(
        quick_app, agent, holder, make_customer):
    customer_id = make_customer()
    agent.get(NEW)
    holder("SELECT id FROM customers WHERE id = :id FOR UPDATE", id=customer_id)
    response, elapsed = post_ticket(agent, customer_id)
    assert_busy(response, elapsed)
    page = parse(response)
    assert page.one("input", name="subject").attrs["value"] == SUBJECT
    assert "tu texto sigue en el formulario" in flashes(page)
    assert count(quick_app, Ticket) == 0


@pytest.mark.postgres_only
def test_the_same_form_goes_through_once_the_lock_is_gone(quick_app, agent, app,
                                                          make_customer):
    customer_id = make_customer()
    with app.app_context():
        engine = db.engine
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE tickets IN EXCLUSIVE MODE"))
        response, elapsed = post_ticket(agent, customer_id)
        assert_busy(response, elapsed)
        conn.rollback()
    response, _ = post_ticket(agent, customer_id)
    assert response.status_code == 302
    assert count(quick_app, Ticket) == 1


@pytest.mark.postgres_only
def test_a_note_behind_a_locked_ticket_is_a_503_keeping_the_note(
        quick_app, agent, holder, make_ticket):
    ticket_id = make_ticket()
    with quick_app.app_context():
        version = db.session.get(Ticket, ticket_id).version
        messages = db.session.scalar(select(func.count()).select_from(Message))
    agent.get(f"/admin/tickets/{ticket_id}/")
    holder("SELECT id FROM tickets WHERE id = :id FOR UPDATE", id=ticket_id)
    started = time.monotonic()
    url = f"/admin/tickets/{ticket_id}/note"
    response = agent.post(url, data={"body": "Llamé al cliente: sigue igual.",
                                     "version": version})
    assert_busy(response, time.monotonic() - started)
    [form] = forms_posting_to(parse(response), response.request.url, url)
    assert form_fields(form)["body"].strip() == "Llamé al cliente: sigue igual."
    assert count(quick_app, Message) == messages


@pytest.mark.postgres_only
def test_timeouts_apply_to_web_requests_only(quick_app):
    """Jobs and the CLI share the engine and keep the server's defaults."""
    with quick_app.app_context():
        assert db.session.scalar(text("SHOW lock_timeout")) == "0"
        db.session.rollback()
    with quick_app.test_request_context():
        assert db.session.scalar(text("SHOW lock_timeout")) == "300ms"
        assert db.session.scalar(text("SHOW statement_timeout")) == "300ms"
        db.session.rollback()
        with pytest.raises(Exception) as caught:
            db.session.execute(text("SELECT pg_sleep(2)"))
        assert is_lock_timeout(caught.value)
        db.session.rollback()
    with quick_app.app_context():  # SET LOCAL: the pooled connection carries nothing over
        assert db.session.scalar(text("SHOW statement_timeout")) == "0"
        db.session.rollback()


# -- SQLite: the busy timeout per web transaction --

@contextmanager
def writer_lock(app_config):
    """Another connection holding SQLite's write lock (BEGIN IMMEDIATE) on the suite's file."""
    path = make_url(app_config["SQLALCHEMY_DATABASE_URI"]).database
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@pytest.mark.sqlite_only
def test_ticket_create_while_sqlite_is_write_locked_is_a_quick_503(
        quick_app, app_config, agent, make_customer):
    customer_id = make_customer()
    agent.get(NEW)
    with writer_lock(app_config):
        response, elapsed = post_ticket(agent, customer_id)
    assert_busy(response, elapsed)
    assert count(quick_app, Ticket) == 0


@pytest.mark.sqlite_only
def test_busy_timeout_is_short_for_web_requests_only(quick_app):
    with quick_app.test_request_context():
        assert db.session.scalar(text("PRAGMA busy_timeout")) == 300
        db.session.rollback()
    with quick_app.app_context():
        assert db.session.scalar(text("PRAGMA busy_timeout")) == JOB_BUSY_TIMEOUT_MS
        db.session.rollback()


def test_web_timeouts_default_to_5_and_15_seconds():
    assert Config.from_env({"SECRET_KEY": "x"}).HELPDESK_LOCK_TIMEOUT_MS == 5000
    config = Config.from_env({"SECRET_KEY": "x", "HELPDESK_LOCK_TIMEOUT_MS": "800",
                              "HELPDESK_STATEMENT_TIMEOUT_MS": "30000"})
    assert (config.HELPDESK_LOCK_TIMEOUT_MS, config.HELPDESK_STATEMENT_TIMEOUT_MS) == (800, 30000)
