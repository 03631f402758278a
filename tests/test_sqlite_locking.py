"""SQLite has one writer at a time: pages and jobs that only read must not take its write lock,
and a write that cannot get it in time is a 503 with Retry-After, never a 500. The lock is
real, held by a second sqlite3 connection to the suite's file, as another worker would."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app import create_app
from helpdesk import rules, workflows
from helpdesk.errors import is_lock_timeout
from helpdesk.extensions import db, get_queue
from helpdesk.models import (
    Category,
    Customer,
    IntentState,
    JobIntent,
    Message,
    MessageKind,
    Role,
    Ticket,
)

from .client import BrowserClient
from .conftest import signed_in_client
from .pages import flashes, form_fields, forms_posting_to, parse

pytestmark = pytest.mark.sqlite_only

NEW = "/admin/tickets/new/"
SUBJECT = "La app se cierra al abrir Mis listas"
LOCK_MS = 300


@pytest.fixture
def quick_app(app, app_config):
    """An app on the suite's database that waits 300 ms for a lock (the schema is `app`'s)."""
    quick = create_app({**app_config, "HELPDESK_LOCK_TIMEOUT_MS": LOCK_MS})
    quick.test_client_class = BrowserClient
    yield quick
    with quick.app_context():
        db.engine.dispose()


@pytest.fixture
def supervisor(quick_app, make_user):
    """A logged-in supervisor of `quick_app` (sees every ticket, and Informes)."""
    return signed_in_client(quick_app, make_user(Role.SUPERVISOR))


@contextmanager
def write_locked(app_config, release_after: float | None = None):
    """Another connection holding SQLite's write lock (BEGIN IMMEDIATE) on the suite's file;
    with `release_after`, a timer rolls it back after that many seconds."""
    path = make_url(app_config["SQLALCHEMY_DATABASE_URI"]).database
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    done = threading.Lock()

    def release():
        with done:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    timer = threading.Timer(release_after, release) if release_after is not None else None
    if timer:
        timer.start()
    try:
        yield conn
    finally:
        if timer:
            timer.cancel()
        release()
        conn.close()


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def assert_busy(response, elapsed: float) -> None:
    """A 503 with Retry-After after waiting about the lock timeout, never a 500."""
    assert response.status_code == 503, response.status_code
    assert response.headers["Retry-After"] == "5"
    assert LOCK_MS / 1000 * 0.8 <= elapsed < 2, f"answered after {elapsed:.2f} s"


# -- Pages that only read --

READ_PAGES = {
    "queue": "/admin/tickets/",
    "ticket": "/admin/tickets/{id}/",
    "search": "/admin/tickets/?search=serie",
    "reports": "/admin/reports/",
    "home": "/admin/",
}


@pytest.mark.parametrize("page", READ_PAGES)
def test_a_read_only_page_answers_while_another_connection_holds_the_write_lock(
        quick_app, app_config, supervisor, make_ticket, page):
    ticket_id = make_ticket("No puedo ver la serie")
    url = READ_PAGES[page].format(id=ticket_id)
    assert supervisor.get(url).status_code == 200  # templates compiled, caches warm
    with write_locked(app_config):  # held throughout: a page that needed it would be a 503
        response = supervisor.get(url)
    assert response.status_code == 200, response.status_code
    if page in ("queue", "search"):
        assert "No puedo ver la serie" in response.get_data(as_text=True)


# -- Writes --

def post_ticket(client, customer_id: int):
    return client.post(NEW, data={"customer": str(customer_id), "subject": SUBJECT,
                                  "body": "Desde la última versión.", "priority": "normal",
                                  "channel": "web"})


def test_creating_a_ticket_while_locked_is_a_503_saving_nothing_then_goes_through(
        quick_app, app_config, supervisor, make_customer):
    customer_id = make_customer()
    with write_locked(app_config):
        form_page = supervisor.get(NEW)  # the form opens: reading needs no lock
        assert form_page.status_code == 200
        response, elapsed = timed(lambda: post_ticket(supervisor, customer_id))
        assert_busy(response, elapsed)
        assert parse(response).one("input", name="subject").attrs["value"] == SUBJECT
        assert "tu texto sigue en el formulario" in flashes(parse(response))
    assert count(quick_app, Ticket) == 0
    response = post_ticket(supervisor, customer_id)
    assert response.status_code == 302
    assert count(quick_app, Ticket) == 1


def test_a_reply_while_locked_is_a_503_keeping_the_text_then_goes_through(
        quick_app, app_config, supervisor, make_ticket):
    ticket_id = make_ticket()
    page, url = f"/admin/tickets/{ticket_id}/", f"/admin/tickets/{ticket_id}/reply"
    messages = count(quick_app, Message)
    with quick_app.app_context():
        reply = {"body": "Ya lo hemos corregido.", "status": "pending",
                 "version": db.session.get(Ticket, ticket_id).version}
    with write_locked(app_config):
        assert supervisor.get(page).status_code == 200
        response, elapsed = timed(lambda: supervisor.post(url, data=reply))
        assert_busy(response, elapsed)
        [form] = forms_posting_to(parse(response), response.request.url, url)
        assert form_fields(form)["body"].strip() == "Ya lo hemos corregido."
    assert count(quick_app, Message) == messages
    supervisor.get(page)
    response = supervisor.post(url, data=reply)
    assert response.status_code == 302
    with quick_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message).where(
            Message.kind == MessageKind.REPLY, Message.body == "Ya lo hemos corregido.")) == 1


def test_an_admin_edit_opens_while_locked_and_its_save_waits_for_the_lock(
        quick_app, app_config, make_user, make_category):
    """Flask-Admin's own save (it commits by itself) takes the write lock up front too: it
    waits for a short lock, and a long one is a 503 keeping the form, nothing written."""
    category_id = make_category()
    admin = signed_in_client(quick_app, make_user(Role.ADMIN))
    url = f"/admin/categories/edit/?id={category_id}"
    with write_locked(app_config):
        page = admin.get(url)
        assert page.status_code == 200
        [form] = forms_posting_to(parse(page), page.request.url, url)
        fields = {**form_fields(form), "name": "Facturación y pagos"}
        response, elapsed = timed(lambda: admin.post(url, data=fields))
        assert_busy(response, elapsed)
        assert parse(response).one("input", name="name").attrs["value"] == "Facturación y pagos"
        assert "tu texto sigue en el formulario" in flashes(parse(response))
    with quick_app.app_context():
        assert db.session.get(Category, category_id).name != "Facturación y pagos"
    with write_locked(app_config, release_after=0.15):
        response = admin.post(url, data=fields)
    assert response.status_code == 302, response.status_code
    with quick_app.app_context():
        assert db.session.get(Category, category_id).name == "Facturación y pagos"


def test_a_write_inside_a_get_waits_for_the_lock_after_reading_without_it(
        quick_app, app_config, make_customer):
    """The hook for writes a GET must make (last seen, say): `workflows.atomic()` ends the
    read transaction and takes the write lock, waiting for it like any write."""
    customer_id = make_customer(name="Ana")
    with write_locked(app_config, release_after=0.2), \
            quick_app.test_request_context("/admin/"):
        customer, read = timed(lambda: db.session.get(Customer, customer_id))
        assert read < 0.15, f"the read waited {read:.2f} s for the write lock"
        _none, wrote = timed(lambda: _rename(customer, "Ana María"))
        assert wrote >= 0.1, "the write did not wait for the lock"
        db.session.remove()
    with quick_app.app_context():
        assert db.session.get(Customer, customer_id).name == "Ana María"


def _rename(customer, name: str) -> None:
    with workflows.atomic():
        customer.name = name


def test_a_write_inside_a_get_gives_up_after_the_lock_timeout_writing_nothing(
        quick_app, app_config, make_customer):
    customer_id = make_customer(name="Ana")
    with write_locked(app_config), quick_app.test_request_context("/admin/"):
        customer = db.session.get(Customer, customer_id)
        started = time.monotonic()
        with pytest.raises(OperationalError) as caught:
            _rename(customer, "Ana María")
        assert LOCK_MS / 1000 * 0.8 <= time.monotonic() - started < 2  # the busy timeout
        assert is_lock_timeout(caught.value)  # errors_http: 503 with Retry-After
        db.session.remove()
    with quick_app.app_context():
        assert db.session.get(Customer, customer_id).name == "Ana"


# -- Jobs --

def test_a_sweep_that_finds_nothing_runs_while_the_database_is_write_locked(
        app, app_config, run_jobs):
    with app.app_context():
        get_queue("default").enqueue("helpdesk.jobs.sweep_outbox")
    with write_locked(app_config):
        _none, elapsed = timed(lambda: run_jobs("default"))
    assert elapsed < 5, f"the sweep waited {elapsed:.1f} s for a lock it did not need"


def test_a_sweep_with_work_waits_for_the_lock_and_writes(app, app_config, run_jobs, caplog):
    """Its read finds a lost intent; the write is refused at once (the other connection holds
    the lock), so the sweep runs again under the write lock, which waits for its turn."""
    long_ago = rules.utcnow() - timedelta(hours=1)
    with app.app_context(), workflows.atomic():
        db.session.add(JobIntent(key="lost", func="send_reply", args=[0], queue="mail",
                                 created_at=long_ago, enqueued_at=long_ago,
                                 next_attempt_at=long_ago))
    with app.app_context():
        get_queue("default").enqueue("helpdesk.jobs.sweep_outbox")
    caplog.set_level(logging.INFO, logger="helpdesk.jobs")
    with write_locked(app_config, release_after=0.5):
        _none, elapsed = timed(lambda: run_jobs("default"))
    assert elapsed >= 0.4
    assert "again under the write lock" in caplog.text
    with app.app_context():
        intent = db.session.scalar(select(JobIntent))
        assert intent.state is IntentState.PENDING
        assert intent.enqueued_at > long_ago  # handed to Redis again, by the second run
        assert db.session.scalar(text("SELECT 1"))  # the database is usable afterwards


def test_a_job_that_always_writes_waits_for_the_lock(app, app_config, run_jobs, make_ticket):
    """The SLA sweep UPDATEs every time: it takes the write lock up front and waits its turn."""
    make_ticket()
    with app.app_context():
        get_queue("sla").enqueue("helpdesk.jobs.sweep_sla_states")
    with write_locked(app_config, release_after=0.5):
        _none, elapsed = timed(lambda: run_jobs("sla"))
    assert elapsed >= 0.4
