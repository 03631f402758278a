"""The PostgreSQL full rebuild fills new tables and swaps them in: the tables keep the
migrations' keys, indexes, foreign key and id sequences, and readers are never half-served."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from helpdesk.extensions import db
from helpdesk.reporting import refresh

from .test_reports import _rebuild, world  # noqa: F401  (the fixture, shared)

pytestmark = pytest.mark.postgres_only

_CATALOG = text(
    "SELECT t.relname, i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
    "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
    "WHERE t.relname LIKE 'report\\_%' UNION ALL "
    "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
    "JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname LIKE 'report\\_%' "
    "UNION ALL SELECT table_name, column_name, column_default "
    "FROM information_schema.columns WHERE table_name LIKE 'report\\_%' ORDER BY 1, 2, 3")


def test_a_swapped_rebuild_keeps_every_key_index_and_sequence(app, world):  # noqa: F811
    with app.app_context():
        before = db.session.execute(_CATALOG).all()
        db.session.remove()
    _rebuild(app)
    _rebuild(app)  # twice: the second swaps out the tables the first swapped in
    with app.app_context():
        after = db.session.execute(_CATALOG).all()
        assert after == before
        leftovers = db.session.scalar(text(
            "SELECT count(*) FROM pg_class WHERE relname LIKE '%\\_\\_new'"))
        assert leftovers == 0
        ids = db.session.execute(text("SELECT min(id), count(*) FROM report_response_day")).one()
        assert ids[1] > 0 and ids[0] > ids[1]  # the sequence went on: not reset by the swap
        ticket = db.session.scalar(text("SELECT min(ticket_id) FROM report_tickets"))
        db.session.execute(text("DELETE FROM tickets WHERE id = :id"), {"id": ticket})
        assert db.session.scalar(text("SELECT count(*) FROM report_tickets "
                                      "WHERE ticket_id = :id"), {"id": ticket}) == 0
        db.session.rollback()


def test_the_swap_waits_for_readers_and_never_deadlocks(app, world, monkeypatch):  # noqa: F811
    """A reader holding one report table: the swap's NOWAIT lock is retried until it ends."""
    from helpdesk.reporting import swap

    _rebuild(app)
    with app.app_context():
        reader = db.engine.connect()
        reader.begin()
        reader.execute(text("SELECT count(*) FROM report_rating_day")).scalar()
        tries = []
        real = swap.lock_all

        def watched(names, alive):
            def alive_and_release():
                tries.append(1)
                if len(tries) == 3:
                    reader.rollback()  # the page's request ends
                alive()
            return real(names, alive_and_release)

        monkeypatch.setattr(swap, "lock_all", watched)
        try:
            _rebuild(app)
        finally:
            reader.close()
        assert len(tries) >= 3
        assert db.session.scalar(text("SELECT count(*) FROM report_tickets")) > 0
        assert refresh.load_state().get("refreshed_at")
