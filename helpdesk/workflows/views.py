"""Saved views of the queue: save, rename, delete — each audited, each checked against the
rules of `queries.views`."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import DomainError
from ..extensions import db
from ..models import SavedView, Team, User
from ..queries import views as view_rules
from ..view_tables import SAVED_VIEW_NAME_MAX, SAVED_VIEW_QUERY_MAX
from .base import audit


def _name(name: str | None) -> str:
    text = " ".join((name or "").split())
    if not text:
        raise DomainError(_("Pon un nombre a la vista."))
    if len(text) > SAVED_VIEW_NAME_MAX:
        raise DomainError(_("El nombre de la vista admite como mucho %(n)d caracteres.",
                            n=SAVED_VIEW_NAME_MAX))
    return text


def _unique(owner: User, name: str, *, but: int | None = None) -> None:
    clash = db.session.scalar(select(SavedView.id).where(
        SavedView.owner_id == owner.id, SavedView.name == name))
    if clash is not None and clash != but:
        raise DomainError(_("Ya tienes una vista llamada «%(name)s».", name=name))


def save_view(owner: User, name: str, query: str, *, team: Team | None) -> SavedView:
    """Save the queue's current arguments (`query`, already checked by the view) under a name,
    shared with `team` (one of the owner's) or with nobody."""
    name = _name(name)
    if len(query) > SAVED_VIEW_QUERY_MAX:
        raise DomainError(_("La vista tiene demasiados filtros para guardarla."))
    if not view_rules.may_share_with(view_rules.member_team_ids(owner), team.id if team else None):
        raise DomainError(_("Solo puedes compartir una vista con un equipo al que perteneces."))
    _unique(owner, name)
    view = SavedView(owner_id=owner.id, team_id=team.id if team else None, name=name,
                     query=query)
    db.session.add(view)
    db.session.flush()
    audit(view, owner, "create", field="query", new=query,
          reason=f"team:{team.id}" if team else None)
    return view


def _own(view: SavedView, actor: User) -> None:
    if not view_rules.may_change_view(actor.id, owner_id=view.owner_id):
        raise DomainError(_("Solo quien creó una vista puede cambiarla o borrarla."))


def rename_view(view: SavedView, name: str, *, actor: User) -> None:
    """Give one's own saved view another name."""
    _own(view, actor)
    name = _name(name)
    if name == view.name:
        return
    _unique(actor, name, but=view.id)
    audit(view, actor, "update", field="name", old=view.name, new=name)
    view.name = name
    db.session.flush()


def delete_view(view: SavedView, *, actor: User) -> None:
    """Delete one's own saved view (for the team too, if it was shared)."""
    _own(view, actor)
    audit(view, actor, "delete", old=view.name)
    db.session.delete(view)
    db.session.flush()
