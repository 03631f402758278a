"""StaffView: server-side roles, CSRF and safe error messages for every admin view."""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from datetime import date, datetime
from functools import partial

from flask import abort, after_this_request, flash, redirect, request, url_for
from flask_admin import BaseView
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.contrib.sqla.ajax import create_ajax_loader
from flask_admin.model import typefmt
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Unicode, cast, or_
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, StatementError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import SelectField
from wtforms.validators import StopValidation, ValidationError

from .. import queries
from ..errors import Conflict, DomainError, is_lock_timeout
from ..errors_http import retry_later
from ..extensions import db
from ..forms import Form
from ..models import Role
from ..rules import parse_id
from ..workflows import atomic, audit, writing
from .strict import MAX_LIST_NUMBER, ContainsAjaxLoader, FilterConverter, ModelConverter

log = logging.getLogger(__name__)

ALL_STAFF = frozenset(Role)
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})

#: Flask-Admin endpoints that change data; they need a write role.
WRITE_ENDPOINTS = frozenset({"create_view", "edit_view", "delete_view", "action_view",
                             "ajax_update"})


def _unprocessable(response):
    """A form shown again after failing validation: 422 (only where the view chose no status)."""
    if response.status_code == 200:
        response.status_code = 422
    return response


class StaffView:
    """Mix in before ModelView/BaseView: who may read, who may write, and safe errors."""

    read_roles: frozenset[Role] = ALL_STAFF
    write_roles: frozenset[Role] = ADMINS

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and current_user.role in self.read_roles

    def may_write(self) -> bool:
        """Whether the current user may change this view's data."""
        return current_user.is_authenticated and current_user.role in self.write_roles

    def inaccessible_callback(self, name, **kwargs):
        if current_user.is_authenticated:
            abort(403)
        return redirect(url_for("auth.login", next=request.full_path))

    def render(self, template, **kwargs):
        """A posted `form` that failed validation is shown again with 422, not 200 (a status
        the view chose itself, such as 409, stands)."""
        form = kwargs.get("form")
        if request.method == "POST" and getattr(form, "errors", None):
            after_this_request(_unprocessable)
        return super().render(template, **kwargs)

    def _handle_view(self, name, **kwargs):
        response = super()._handle_view(name, **kwargs)
        if response is None and name in WRITE_ENDPOINTS and not self.may_write():
            abort(403)
        return response

    def handle_view_exception(self, exc: Exception) -> bool:
        if isinstance(exc, DomainError):
            flash(str(exc), "error")
            return True
        if isinstance(exc, StaleDataError):
            flash(_("Otra persona cambió este registro mientras lo editabas. Recarga y vuelve "
                    "a intentarlo."), "error")
            return True
        if isinstance(exc, IntegrityError):
            flash(_("No se pudo guardar: ya existe un registro con esos datos o falta uno "
                    "obligatorio."), "error")
            return True
        if is_lock_timeout(exc):
            busy_form()
            return True
        log.exception("admin view error")
        flash(_("No se pudo completar la operación. El error quedó registrado."), "error")
        return True


def busy_form() -> None:
    """The database gave up waiting for a lock: roll back, say so, and answer the form shown
    again (with the user's text) as 503 with Retry-After."""
    db.session.rollback()
    log.warning("503 on %s: database busy", request.path)
    flash(_("La base de datos está ocupada con otra operación y no se ha guardado nada; tu "
            "texto sigue en el formulario. Inténtalo de nuevo en unos segundos."), "error")
    after_this_request(retry_later)


def apply_to_many(change) -> int | None:
    """Run `change()` on several tickets in one transaction (the queue's bulk actions): None
    when it went through; else nothing was applied, the reason is flashed and this is the
    status to answer with — 409 when a ticket moved meanwhile, 503 when the database is busy,
    400 when the domain refuses."""
    try:
        with atomic():
            change()
    except StaleDataError:
        flash(_("Otra persona cambió estos tickets en el mismo momento; revisa la lista y "
                "vuelve a intentarlo."), "error")
        return 409
    except OperationalError as exc:
        if not is_lock_timeout(exc):
            raise
        busy_form()
        return 503
    except DomainError as exc:
        flash(str(exc), "error")
        return 409 if isinstance(exc, Conflict) else 400
    return None


class AdminForm(Form):
    """Our CSRF-checked, translated form, remembering the edited object like Flask-Admin's own."""

    def __init__(self, formdata=None, obj=None, prefix="", **kwargs):
        super().__init__(formdata=formdata, obj=obj, prefix=prefix, **kwargs)
        self._obj = obj  # Flask-Admin's Unique validator compares against it


def _local_datetime(view, value, name):
    return format_datetime(value, "short")


def _local_date(view, value, name):
    return format_date(value, "medium")


#: Dates and times in the viewer's language and time zone (Flask-Babel's selectors).
TYPE_FORMATTERS = {**typefmt.BASE_FORMATTERS, datetime: _local_datetime, date: _local_date}
DETAIL_TYPE_FORMATTERS = {**typefmt.DETAIL_FORMATTERS, datetime: _local_datetime,
                          date: _local_date}


LIST_NUMBER_ARGS = ("page", "page_size", "sort", "desc")


def _refuse_list_args(message: str):
    """A list URL that cannot be honoured: 400 with a message, not a 500."""
    log.info("400 on %s: %s", request.full_path, message)
    abort(400, description=message)


def _bad_value_error(exc: Exception) -> bool:
    """Whether the database (or the driver, or SQLAlchemy binding a parameter) refused a value
    taken from the URL: out-of-range integers, text PostgreSQL cannot read, unknown enums."""
    if isinstance(exc, DataError | ValueError | LookupError | OverflowError):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError) \
        and isinstance(exc.orig, ValueError | LookupError | OverflowError | TypeError)


class StaffModelView(StaffView, ModelView):
    """A CRUD view whose create/edit/delete follow `write_roles` and leave audit rows."""

    form_base_class = AdminForm
    model_form_converter = ModelConverter
    filter_converter = FilterConverter()
    list_template = "helpdesk/model_list.html"  # Flask-Admin's list, every control labelled
    details_template = "helpdesk/model_details.html"  # knows the cell macros formatters name
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = DETAIL_TYPE_FORMATTERS
    can_view_details = True
    can_export = False
    page_size = 50
    can_set_page_size = True
    allow_delete: bool = True  # set False where rows are referenced and must stay

    @property
    def can_create(self) -> bool:
        return self.may_write()

    @property
    def can_edit(self) -> bool:
        return self.may_write()

    @property
    def can_delete(self) -> bool:
        return self.allow_delete and current_user.is_authenticated \
            and current_user.role is Role.ADMIN and self.may_write()

    def __init__(self, model, name=None, category=None, endpoint=None, **kwargs):
        super().__init__(model, db, name=name, category=category, endpoint=endpoint, **kwargs)

    def _get_ruleset_missing_fields(self, ruleset, form):
        """Form rules name the visible fields; the hidden CSRF token is never among them, and
        Flask-Admin would otherwise strip it (every create/edit with rules then failed CSRF)."""
        missing = super()._get_ruleset_missing_fields(ruleset, form)
        return [name for name in missing if name != "csrf_token"]

    def _get_list_extra_args(self):
        """The list's URL arguments, refused (400) when a number is not one: Flask-Admin would
        pass `page=99999999999999999999` or `page=-1` on to the database."""
        for name in LIST_NUMBER_ARGS:
            value = request.args.get(name)
            if value in (None, ""):
                continue
            if not (value.isascii() and value.isdigit() and int(value) <= MAX_LIST_NUMBER):
                _refuse_list_args(_("El parámetro «%(name)s» de la lista debe ser un número "
                                    "entre 0 y %(max)s.", name=name, max=MAX_LIST_NUMBER))
        return super()._get_list_extra_args()

    def _get_list_filter_args(self):
        """The URL's filters, each value checked against its filter (one of its options, a
        value it can read) before any reaches the database; a bad one is a 400."""
        for arg, value in request.args.items():
            key = arg[3:].split("_", 1)[-1] if arg.startswith("flt") and "_" in arg else None
            if key in (self._filter_args or {}) and not self._filter_value_ok(
                    self._filter_args[key][1], value):
                _refuse_list_args(_("El filtro «%(name)s» no admite el valor «%(value)s».",
                                    name=self._filter_args[key][1].name, value=value[:80]))
        return super()._get_list_filter_args()

    def _filter_value_ok(self, flt, value: str) -> bool:
        options = flt.get_options(self)
        if options is not None:
            allowed = {str(key) for key, _label in options}
            values = value.split(",") if isinstance(flt, sqla_filters.FilterInList) else [value]
            if not all(v in allowed for v in values):
                return False
        try:
            return bool(flt.validate(value)) and flt.clean(value) is not None
        except (ValueError, LookupError, OverflowError, TypeError):
            return False

    def get_list(self, *args, **kwargs):
        """The page of rows; a value the database refuses (a filter, a search) is a 400."""
        try:
            return super().get_list(*args, **kwargs)
        except Exception as exc:
            if not _bad_value_error(exc):
                raise
            db.session.rollback()
            log.info("list arguments refused by the database: %r", exc)
            _refuse_list_args(_("La lista no se puede mostrar con esa búsqueda o esos filtros."))

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Flask-Admin's search over `column_searchable_list`, `%` and `_` taken literally."""
        for term in search.split():
            conditions, count_conditions = [], []
            for field, path in self._search_fields:
                query, joins, alias = self._apply_path_joins(query, joins, path,
                                                             inner_join=False)
                column = field if alias is None else getattr(alias, field.key)
                conditions.append(queries.contains(cast(column, Unicode), term))
                if count_query is not None:
                    count_query, count_joins, count_alias = self._apply_path_joins(
                        count_query, count_joins, path, inner_join=False)
                    column = field if count_alias is None else getattr(count_alias, field.key)
                    count_conditions.append(queries.contains(cast(column, Unicode), term))
            query = query.filter(or_(*conditions))
            if count_query is not None:
                count_query = count_query.filter(or_(*count_conditions))
        return query, count_query, joins, count_joins

    def _create_ajax_loader(self, name, options):
        """form_ajax_refs pickers search with escaped LIKE patterns (ContainsAjaxLoader)."""
        loader = create_ajax_loader(self.model, self.session, name, name, options)
        return ContainsAjaxLoader(name, self.session, loader.model, **options)

    def get_one(self, id):
        """The row with this integer id, or None (Flask-Admin then says it does not exist)."""
        row_id = parse_id(id)
        return None if row_id is None else db.session.get(self.model, row_id)

    #: Form fields a workflow sets, with its own audit rows and side effects (see
    #: `apply_workflow_fields`), instead of Flask-Admin's populate_obj.
    workflow_fields: tuple[str, ...] = ()

    def apply_workflow_fields(self, model, data: dict, is_created: bool) -> None:
        """Hand `workflow_fields` ({name: value}) to the domain layer, before the commit."""

    def create_model(self, form):
        with _fields_apart(form, self.workflow_fields), writing():
            return super().create_model(form)

    def update_model(self, form, model):
        with _fields_apart(form, self.workflow_fields), writing():
            return super().update_model(form, model)

    def delete_model(self, model):
        """Flask-Admin's delete (it commits on its own), under the write lock like a save."""
        with writing():
            return super().delete_model(model)

    def on_model_change(self, form, model, is_created):
        if self.workflow_fields:
            db.session.flush()
            self.apply_workflow_fields(model, form.workflow_data, is_created)
        if is_created:
            db.session.flush()
            audit(model, current_user, "create")
            return
        for name, field in form._fields.items():
            if name == "csrf_token" or "password" in name:
                continue
            if getattr(field, "object_data", None) != field.data:
                audit(model, current_user, "update", field=name, old=_plain(field.object_data),
                      new=_plain(field.data))

    def on_model_delete(self, model):
        audit(model, current_user, "delete", old=str(model))


@contextmanager
def _fields_apart(form, names):
    """Take these fields out of the form while Flask-Admin populates and audits the model
    (their values wait in `form.workflow_data`); put them back for a re-rendered form."""
    fields = dict(form._fields)
    form.workflow_data = {name: fields[name].data for name in names if name in fields}
    for name in form.workflow_data:
        del form._fields[name]
    try:
        yield
    finally:
        form._fields.clear()
        form._fields.update(fields)


def _plain(value):
    """A form value as audit text: lists of rows become their names."""
    if isinstance(value, list | tuple | set):
        return ", ".join(sorted(str(v) for v in value))
    return value


class StaffPage(StaffView, BaseView):
    """A custom admin page (BaseView + @expose) with the same role checks."""


class EnumSelectField(SelectField):
    """A select over an enum's members, labelled in the viewer's language."""

    def __init__(self, label=None, validators=None, *, enum, optional=False, **kwargs):
        kwargs.pop("allow_blank", None)
        kwargs.pop("coerce", None)
        kwargs.pop("choices", None)
        self.enum, self.optional = enum, optional
        super().__init__(label, validators, coerce=self._coerce, choices=self._choices, **kwargs)

    def _choices(self):
        blank = [("", "—")] if self.optional else []
        return blank + [(str(m.value), m.label) for m in self.enum]

    def _coerce(self, value):
        if value in ("", None):
            return None
        if isinstance(value, self.enum):
            return value
        kind = type(next(iter(self.enum)).value)
        try:
            return self.enum(kind(value))
        except ValueError:
            return value  # rejected by pre_validate as "not a valid choice"

    def pre_validate(self, form):
        if self.data is None and self.optional:
            return
        if not isinstance(self.data, self.enum):
            raise ValidationError(self.gettext("Not a valid choice."))


def enum_field(enum, *, optional: bool = False):
    """A `form_overrides` entry for an enum column."""
    return partial(EnumSelectField, enum=enum, optional=optional)


def enum_label(view, context, model, name):
    """Column formatter: an enum's translated label (escaped by Flask-Admin)."""
    value = getattr(model, name)
    return "" if value is None else value.label


ENUM_FORMATTERS = {name: enum_label for name in (
    "status", "priority", "channel", "sla_state", "availability", "role", "strategy",
    "priority_override", "state", "kind")}


def required(message):
    """InputRequired with a lazily translated message, rendered as text (Flask-Admin shows
    only `str` errors)."""

    def check(form, field):
        if not field.raw_data or not str(field.raw_data[0]).strip():
            field.errors[:] = []
            raise StopValidation(str(message))

    check.field_flags = {"required": True}
    return check


def matches(pattern: str, message):
    """Regexp with a lazily translated message, rendered as text."""
    compiled = re.compile(pattern)

    def check(form, field):
        if field.data and not compiled.match(field.data):
            raise ValidationError(str(message))

    return check
