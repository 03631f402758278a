"""The migrations build exactly the schema the models describe, up from empty and back."""

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import create_app
from helpdesk.extensions import db


def test_models_and_migrations_agree(app):
    """The session fixture upgraded from empty; autogenerate must find nothing to add."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_downgrade_to_empty_and_up_again(app_config, tmp_path):
    uri = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    fresh = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": uri})
    with fresh.app_context():
        flask_migrate.upgrade()
        assert "tickets" in inspect(db.engine).get_table_names()
        flask_migrate.downgrade(revision="base")
        assert inspect(db.engine).get_table_names() == ["alembic_version"]
        flask_migrate.upgrade()
        indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("tickets")}
    assert {"ix_tickets_status_due", "ix_tickets_team_status", "ix_tickets_assignee_status",
            "ix_tickets_customer"} <= indexes
