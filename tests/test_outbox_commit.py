"""The outbox hands an intent to Redis only once the *outer* transaction commits: a SAVEPOINT
released inside it enqueues nothing (the worker would look for a row not yet committed, or one
a later rollback removes), and a savepoint rolled back drops only the intents scheduled in it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk import workflows
from helpdesk.extensions import db, get_queue
from helpdesk.models import IntentState, JobIntent


def _queued(app) -> list[str]:
    with app.app_context():
        return get_queue("default").get_job_ids()


def _intents(app) -> list[tuple[str, IntentState]]:
    with app.app_context():
        return [tuple(r) for r in db.session.execute(
            select(JobIntent.key, JobIntent.state).order_by(JobIntent.id))]


def test_an_intent_scheduled_in_a_savepoint_is_enqueued_only_after_the_outer_commit(
        app, make_team, run_jobs):
    team_id = make_team()
    with app.app_context():
        with workflows.atomic():
            with db.session.begin_nested():
                intent = workflows.schedule("assign_waiting", team_id, key="in-savepoint")
                intent_id = intent.id
            # the savepoint is released; the outer transaction is still open
            assert _queued(app) == []
        assert _queued(app) == [f"intent-{intent_id}"]
    run_jobs()  # a real worker finds the committed intent and runs it
    assert _intents(app) == [("in-savepoint", IntentState.DONE)]


def test_a_rolled_back_outer_transaction_leaves_no_job_for_its_savepoints_intents(
        app, make_team, run_jobs):
    team_id = make_team()
    with app.app_context():
        with pytest.raises(RuntimeError), workflows.atomic():
            with db.session.begin_nested():
                workflows.schedule("assign_waiting", team_id, key="rolled-back")
            raise RuntimeError("the outer transaction fails after the savepoint")
    assert _queued(app) == []
    run_jobs()
    assert _intents(app) == []


def test_a_rolled_back_savepoint_drops_its_intents_and_keeps_the_outer_ones(
        app, make_team, run_jobs):
    team_id = make_team()
    with app.app_context():
        with workflows.atomic():
            outer_id = workflows.schedule("assign_waiting", team_id, key="outer").id
            with pytest.raises(RuntimeError), db.session.begin_nested():
                with db.session.begin_nested():  # released into the savepoint that fails
                    workflows.schedule("assign_waiting", team_id, key="inner-released")
                workflows.schedule("assign_waiting", team_id, key="inner")
                raise RuntimeError("this savepoint only")
            assert _queued(app) == []
    assert _queued(app) == [f"intent-{outer_id}"]
    run_jobs()
    assert _intents(app) == [("outer", IntentState.DONE)]
