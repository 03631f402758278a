"""Saved views of the queue: save the current filters, search and sort under a name (shared
with one of one's teams, or not), and rename or delete one's own on *Vistas guardadas*."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import abort, flash, redirect, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from .. import rules, workflows
from ..extensions import db
from ..forms import ConfirmForm, Form
from ..models import Team
from ..queries import views as view_rules
from ..view_tables import SAVED_VIEW_NAME_MAX, SAVED_VIEW_QUERY_MAX
from . import queue
from .ticket_work import _form_errors

PAGE = "helpdesk/tickets/views.html"


class SaveViewForm(Form):
    """The queue's "Guardar vista": a name, a team to share with (or none), the arguments."""

    name = StringField(_l("Nombre de la vista"), validators=[
        InputRequired(message=_l("Pon un nombre a la vista.")), Length(max=SAVED_VIEW_NAME_MAX)])
    team = SelectField(_l("Compartir con"), choices=[], validate_choice=False)
    query = HiddenField(validators=[Length(max=SAVED_VIEW_QUERY_MAX)])


class RenameViewForm(Form):
    """A new name for one's own view."""

    name = StringField(_l("Nombre"), validators=[
        InputRequired(message=_l("Pon un nombre a la vista.")), Length(max=SAVED_VIEW_NAME_MAX)])


def save_form(query: str = "") -> SaveViewForm:
    """The form the queue shows, its team menu the viewer's own teams."""
    form = SaveViewForm(formdata=None, query=query)
    form.team.choices = share_choices()
    return form


def share_choices() -> list[tuple[str, str]]:
    return [("", _("Solo yo"))] + [(str(t.id), t.name) for t in
                                   sorted(current_user.teams, key=lambda t: t.name)]


class SavedViewsMixin:
    """Exposed under the ticket view: /admin/tickets/views/…"""

    def _views_page(self, status: int = 200, save: SaveViewForm | None = None):
        views = view_rules.views_for(current_user)
        teams = {t.id: t.name for t in db.session.query(Team)}
        return self.render(PAGE, views=views, teams=teams, save_form=save,
                           rename_form=RenameViewForm(formdata=None),
                           delete_form=ConfirmForm(formdata=None)), status

    @expose("/views/", methods=("GET",))
    def views_view(self):
        """*Vistas guardadas*: one's own (rename, delete) and those shared with one's teams."""
        return self._views_page()

    @expose("/views/save", methods=("POST",))
    def save_view_view(self):
        """Save the queue's current arguments under a name; back to the queue on that view."""
        form = SaveViewForm()
        form.team.choices = share_choices()
        query = queue.clean_query(self, _query_args(form.query.data or ""))
        problem = None if form.validate() else _form_errors(form)
        if problem is None and query is None:
            problem = _("esos filtros no se pueden guardar; vuelve a la lista y prueba otra vez.")
        if problem is not None:
            flash(_("Revisa el formulario: %(errors)s", errors=problem), "error")
            return self._views_page(422, save=form)
        team_id = rules.parse_id(form.team.data) if form.team.data else None
        team = db.session.get(Team, team_id) if team_id is not None else None
        if form.team.data and team is None:
            flash(_("La opción elegida ya no existe."), "error")
            return self._views_page(422, save=form)
        try:
            with workflows.atomic():
                saved = workflows.save_view(current_user, form.name.data, query, team=team)
                url = url_for(".index_view") + ("?" + saved.query if saved.query else "")
        except workflows.DomainError as exc:
            flash(str(exc), "error")
            return self._views_page(422, save=form)
        flash(_("Vista «%(name)s» guardada.", name=form.name.data.strip()), "success")
        return redirect(url)

    def _own_view(self, view_id: int):
        view = view_rules.visible_view(view_id, current_user)
        if view is None:
            abort(404, _("Esa vista no existe o no tienes acceso a ella."))
        return view

    @expose("/views/<int:view_id>/rename", methods=("POST",))
    def rename_view_view(self, view_id: int):
        """Rename one's own saved view."""
        view, form = self._own_view(view_id), RenameViewForm()
        if not form.validate():
            flash(_("Revisa el formulario: %(errors)s", errors=_form_errors(form)), "error")
            return self._views_page(422)
        try:
            with workflows.atomic():
                workflows.rename_view(view, form.name.data, actor=current_user)
        except workflows.DomainError as exc:
            flash(str(exc), "error")
            return self._views_page(403 if view.owner_id != current_user.id else 422)
        flash(_("Vista renombrada."), "success")
        return redirect(url_for(".views_view"))

    @expose("/views/<int:view_id>/delete", methods=("POST",))
    def delete_view_view(self, view_id: int):
        """Delete one's own saved view."""
        view = self._own_view(view_id)
        if not ConfirmForm().validate():
            flash(_("El formulario caducó; recarga la página y vuelve a intentarlo."), "error")
            return self._views_page(400)
        try:
            with workflows.atomic():
                workflows.delete_view(view, actor=current_user)
        except workflows.DomainError as exc:
            flash(str(exc), "error")
            return self._views_page(403)
        flash(_("Vista borrada."), "success")
        return redirect(url_for(".views_view"))


def _query_args(query: str) -> MultiDict:
    """A posted query string as request-like arguments (`queue.clean_query` reads them)."""
    return MultiDict(parse_qsl(query))
