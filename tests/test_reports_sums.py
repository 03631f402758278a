"""The cubes without sketches are summed per grouping in SQL (`cube.Sums`): every grouping
equals the one numpy makes from the period's rows (`cube.Frame`), on SQLite and PostgreSQL,
whether each grouping is its own query or all come from one (GROUPING SETS)."""

from __future__ import annotations

from helpdesk.models import ReportActivityDay, ReportRatingDay
from helpdesk.reporting import cube, metrics

from .test_reports import _filters, _rebuild, world  # noqa: F401  (the fixture, shared)


def test_sums_in_sql_equal_the_rows_added_up(app, world):  # noqa: F811
    _rebuild(app)
    keys = {ReportRatingDay: (None, "agent_id", "team_id", "resolution_category_id"),
            ReportActivityDay: (None, "agent_id", "team_id", "priority")}
    with app.app_context():
        for f in (_filters(), _filters(team_id=world["teams"][0]), _filters("UTC")):
            for model, groupings in keys.items():
                measures, _sketched = metrics._MEASURES[model]
                where = metrics._cube_where(model, f)
                rows = cube.Frame(model, where, tuple(k for k in groupings if k), measures,
                                  False)
                dims = tuple(k for k in groupings if k)
                one_each = cube.Sums(model, where, measures)
                # every grouping from one scan (GROUPING SETS on PostgreSQL)
                all_at_once = cube.Sums(model, where, measures, dims)
                assert one_each.group(None)["all"][measures[0]] > 0
                for key in groupings:
                    assert one_each.group(key) == rows.group(key), (model, key)
                    assert all_at_once.group(key) == rows.group(key), (model, key)
