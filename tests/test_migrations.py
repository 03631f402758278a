"""The migrations build exactly the schema the models describe, up from empty and back."""

import threading
import time

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from app import create_app
from helpdesk.extensions import db
from helpdesk.models import Role, User
from helpdesk.queries.search import outside_models


def test_models_and_migrations_agree(app):
    """The session fixture upgraded from empty; autogenerate must find nothing to add."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "include_object": outside_models})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_downgrade_to_empty_and_up_again(app_config, tmp_path):
    uri = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    fresh = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": uri})
    with fresh.app_context():
        flask_migrate.upgrade()
        assert "tickets" in inspect(db.engine).get_table_names()
        flask_migrate.downgrade(revision="base")
        assert inspect(db.engine).get_table_names() == ["alembic_version"]  # ticket_fts too
        flask_migrate.upgrade()
        indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("tickets")}
    assert {"ix_tickets_status_due", "ix_tickets_team_status", "ix_tickets_assignee_status",
            "ix_tickets_customer"} <= indexes


@pytest.mark.postgres_only
def test_the_counter_recount_migration_waits_for_a_running_assignment(app, make_user,
                                                                      make_ticket):
    """Deploying 3c51f0a4d2b7 while a worker assigns (agent row first, then the ticket): the
    migration's recount waits for the assignment instead of deadlocking with it, and counts
    it."""
    agent = make_user(Role.AGENT)
    ticket_id = make_ticket()
    with app.app_context():
        flask_migrate.downgrade(revision="a112773955c7")
    errors, started = [], threading.Event()

    def migrate():
        with app.app_context():
            try:
                started.set()
                flask_migrate.upgrade()
            except Exception as exc:  # surfaced below
                errors.append(exc)

    try:
        with app.app_context(), db.engine.connect() as conn:
            with conn.begin():
                conn.execute(text("UPDATE users SET last_assigned_at = now() WHERE id = :u"),
                             {"u": agent})  # the capacity claim: the agent's row is ours
                upgrade = threading.Thread(target=migrate)
                upgrade.start()
                started.wait(10)
                time.sleep(1.0)  # the migration is now waiting for that row
                conn.execute(text("UPDATE tickets SET assignee_id = :u WHERE id = :t"),
                             {"u": agent, "t": ticket_id})
            upgrade.join(60)
    finally:
        with app.app_context():
            flask_migrate.upgrade()
    assert not errors, errors
    with app.app_context():
        assert db.session.get(User, agent).open_tickets == 1
