"""What an incremental refresh reads: changed tickets through the index, and of the ratings
just below the last run's mark only those its facts lack (committed late)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, select

from helpdesk import rules
from helpdesk.extensions import db
from helpdesk.models import ReportRating, SatisfactionRating, Ticket
from helpdesk.reporting import refresh

from .test_reports import _rebuild, world  # noqa: F401  (the fixture, shared)


def test_a_late_rating_is_read_and_known_ones_are_not(app, world):  # noqa: F811
    _rebuild(app)
    with app.app_context():
        db.session.execute(Ticket.__table__.update().values(
            updated_at=datetime(2026, 1, 1, tzinfo=UTC)))
        db.session.commit()
        ratings = db.session.scalar(select(func.count()).select_from(SatisfactionRating))
        assert 1 < ratings < refresh.ID_OVERLAP  # all below the mark, inside the overlap
        assert refresh.refresh(rules.utcnow()) == 0  # every rating is in the facts already
        late = db.session.scalars(select(SatisfactionRating).order_by(
            SatisfactionRating.id)).first()
        db.session.execute(delete(ReportRating).where(ReportRating.rating_id == late.id))
        db.session.commit()  # as if it committed after the last run had read the ratings
        assert refresh.refresh(rules.utcnow()) == 1
        assert db.session.scalar(select(func.count()).select_from(ReportRating)
                                 .where(ReportRating.rating_id == late.id)) == 1
