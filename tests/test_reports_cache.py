"""The Informes cache: repeated views read Redis until a run changes the report tables; the
agents' open load is always live."""

from __future__ import annotations

import re

from sqlalchemy import update

from helpdesk.extensions import db
from helpdesk.models import ReportResponseDay, User
from helpdesk.reporting import cache

from .test_reports import QS, _rebuild, world  # noqa: F401  (the fixture, shared)


def _answered(page: str) -> int:
    return int(re.search(r"(\d+) respondidos", page).group(1))


def test_views_are_cached_until_a_run_changes_the_tables(app, world, login_as, redis):  # noqa: F811
    _rebuild(app)
    client = login_as(world["supervisor"])
    before = client.get(f"/admin/reports/?{QS}").get_data(as_text=True)
    assert redis.keys(cache.PREFIX + "*"), "the figures and the page were cached"
    with app.app_context():  # behind the cache's back: no run, no new generation
        db.session.execute(update(ReportResponseDay).values(answered=0, sum_s=0))
        db.session.commit()
    assert _answered(client.get(f"/admin/reports/?{QS}").get_data(as_text=True)) \
        == _answered(before) > 0
    _rebuild(app)  # a run bumps the generation: computed again, from the rebuilt tables
    after = client.get(f"/admin/reports/?{QS}").get_data(as_text=True)
    assert _answered(after) == _answered(before)
    with app.app_context():
        db.session.execute(update(ReportResponseDay).values(answered=0, sum_s=0))
        db.session.commit()
        cache.changed()
    assert "0 respondidos" in client.get(f"/admin/reports/?{QS}").get_data(as_text=True)


def test_open_load_is_live_through_the_cache(app, world, login_as):  # noqa: F811
    _rebuild(app)
    client = login_as(world["supervisor"])
    agent = world["agents"][1]
    assert client.get(f"/admin/reports/?{QS}").status_code == 200
    with app.app_context():
        db.session.execute(update(User).where(User.id == agent).values(open_tickets=7,
                                                                        capacity=9))
        db.session.commit()
    page = client.get(f"/admin/reports/?{QS}").get_data(as_text=True)
    assert "7/9" in page


def test_without_redis_the_page_computes(app, world, login_as, monkeypatch):  # noqa: F811
    _rebuild(app)
    monkeypatch.setattr(cache, "generation", lambda: None)  # as when Redis is unreachable
    client = login_as(world["supervisor"])
    page = client.get(f"/admin/reports/?{QS}").get_data(as_text=True)
    assert _answered(page) > 0


def test_after_a_refresh_job_the_default_view_is_already_computed(app, world, login_as,  # noqa: F811
                                                                 run_jobs, monkeypatch):
    from helpdesk.reporting import metrics, runs

    client = login_as(world["supervisor"])
    with app.app_context():
        runs.refresh_now()
    run_jobs("reports")  # the refresh, then the supervisors' default view into the cache

    def not_again(f):
        raise AssertionError("computed again: the warmed figures were not used")

    for name in ("response", "resolution", "satisfaction", "productivity"):
        monkeypatch.setattr(metrics, name, not_again)
    page = client.get("/admin/reports/")
    assert page.status_code == 200 and "respondidos" in page.get_data(as_text=True)
