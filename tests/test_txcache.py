"""Lookups remembered for one transaction (queries.txcache): read once, never staler than what
the transaction itself wrote, forgotten at its end."""

from __future__ import annotations

from sqlalchemy import event, update

from helpdesk import queries
from helpdesk.extensions import db
from helpdesk.models import NotificationPreference, Priority, Role, SlaPolicy
from helpdesk.queries.notices import notice_channels
from helpdesk.worker import serving_order


def _statements(app):
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    return seen, lambda: event.remove(db.engine, "before_cursor_execute", count)


def test_a_policy_is_read_once_per_transaction_and_a_change_is_seen_at_once(app):
    with app.app_context():
        policy = SlaPolicy(priority=Priority.NORMAL, first_response_minutes=120)
        db.session.add(policy)
        db.session.commit()
        seen, stop = _statements(app)
        try:
            first = queries.sla_policy(Priority.NORMAL)
            again = queries.sla_policy(Priority.NORMAL)
            policy_reads = [s for s in seen if "FROM sla_policies" in s]
        finally:
            stop()
        assert first.first_minutes == again.first_minutes == 120
        assert len(policy_reads) == 1
        policy.first_response_minutes = 30  # the same transaction changes it (unit of work)
        db.session.flush()
        assert queries.sla_policy(Priority.NORMAL).first_minutes == 30
        db.session.execute(update(SlaPolicy).values(first_response_minutes=45))  # bulk
        assert queries.sla_policy(Priority.NORMAL).first_minutes == 45
        db.session.rollback()
        assert queries.sla_policy(Priority.NORMAL).first_minutes == 120


def test_another_transactions_change_is_seen_by_the_next_transaction(app):
    with app.app_context():
        db.session.add(SlaPolicy(priority=Priority.HIGH, first_response_minutes=240))
        db.session.commit()
        assert queries.sla_policy(Priority.HIGH).first_minutes == 240
        db.session.commit()
        with db.engine.begin() as other:  # another connection, as the admin panel would
            other.execute(update(SlaPolicy.__table__).values(first_response_minutes=60))
        assert queries.sla_policy(Priority.HIGH).first_minutes == 60


def test_a_notice_preference_changed_in_the_transaction_is_seen(app, make_user):
    user_id = make_user(Role.AGENT)
    with app.app_context():
        assert notice_channels(user_id, "assigned").email is False
        db.session.add(NotificationPreference(user_id=user_id, kind="assigned", panel=True,
                                              email=True))
        db.session.flush()
        assert notice_channels(user_id, "assigned").email is True


def test_the_worker_serves_mail_first_and_keeps_the_others_in_order():
    assert serving_order(("default", "sla", "mail", "reports")) == \
        ("mail", "default", "sla", "reports")
    assert serving_order(("default", "sla")) == ("default", "sla")
