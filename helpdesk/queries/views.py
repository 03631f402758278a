"""The queue's saved views as a person sees them, and who may see, share and change one.

The rules are here, beside the query that applies them, so the tabs, the management page and
the workflows (`workflows.views`) ask the same thing."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select

from ..extensions import db
from ..models import SavedView, User


def may_see_view(viewer_id: int, viewer_team_ids: Iterable[int], *, owner_id: int,
                 team_id: int | None) -> bool:
    """Its owner sees a saved view; so does every member of the team it is shared with."""
    return viewer_id == owner_id or (team_id is not None and team_id in set(viewer_team_ids))


def may_change_view(viewer_id: int, *, owner_id: int) -> bool:
    """Only its owner renames or deletes a saved view (a shared one too)."""
    return viewer_id == owner_id


def may_share_with(owner_team_ids: Iterable[int], team_id: int | None) -> bool:
    """A view is shared with nobody, or with one of its owner's own teams."""
    return team_id is None or team_id in set(owner_team_ids)


def member_team_ids(user: User) -> list[int]:
    """The teams a person belongs to (sharing follows membership)."""
    return sorted(team.id for team in user.teams)


def views_for(user: User) -> list[SavedView]:
    """The saved views `user` sees (`may_see_view`): their own first, then those shared with
    their teams, each group by name."""
    teams = member_team_ids(user)
    shared = SavedView.team_id.in_(teams) if teams else None
    condition = SavedView.owner_id == user.id if shared is None \
        else or_(SavedView.owner_id == user.id, shared)
    return list(db.session.scalars(select(SavedView).where(condition).order_by(
        SavedView.owner_id != user.id, SavedView.name, SavedView.id)))


def visible_view(view_id: int, user: User) -> SavedView | None:
    """One saved view if `user` may see it, else None (as if it did not exist)."""
    view = db.session.get(SavedView, view_id)
    if view is None or not may_see_view(user.id, member_team_ids(user), owner_id=view.owner_id,
                                        team_id=view.team_id):
        return None
    return view
