"""Flask-Admin's filters, relation fields and ajax picker, strict about what they are sent:
every LIKE escaped, an unknown id a validation error, a picker page never larger than asked."""

from __future__ import annotations

from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.contrib.sqla.fields import QuerySelectField, QuerySelectMultipleField
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.model.ajax import DEFAULT_PAGE_SIZE
from flask_admin.model.fields import AjaxSelectField
from sqlalchemy import String, cast, or_
from wtforms.validators import ValidationError

from .. import queries
from ..rules import parse_id

#: The largest page, page size, sort or column index a list URL may carry: beyond it an
#: OFFSET overflows SQLite's integers and PostgreSQL's bigint.
MAX_LIST_NUMBER = 1_000_000


class _ContainsFilter(sqla_filters.FilterLike):
    """Flask-Admin's "contains" filter, with `%` and `_` taken literally."""

    def apply(self, query, value, alias=None):
        return query.filter(queries.contains(self.get_column(alias), value))


class _NotContainsFilter(sqla_filters.FilterNotLike):
    """Flask-Admin's "not contains" filter, with `%` and `_` taken literally."""

    def apply(self, query, value, alias=None):
        return query.filter(~queries.contains(self.get_column(alias), value))


class FilterConverter(sqla_filters.FilterConverter):
    """Flask-Admin's filters for our columns, every LIKE escaped."""

    strings = (_ContainsFilter, _NotContainsFilter,
               *sqla_filters.FilterConverter.strings[2:])


def _unknown_choice(field) -> bool:
    """Whether a select was sent a value none of its rows has (Flask-Admin's fields with a
    blank choice would quietly store "none" for it)."""
    data, sent = field.data, field._formdata  # reading data first matches the sent id
    return data is None and sent not in (None, "", "__None")


class KnownQuerySelectField(QuerySelectField):
    """A relation select: an id that is not one of its rows is "not a valid choice"."""

    def pre_validate(self, form):
        if _unknown_choice(self):
            raise ValidationError(self.gettext("Not a valid choice"))
        super().pre_validate(form)


class KnownAjaxSelectField(AjaxSelectField):
    """An ajax relation picker: an id that is not a row is "not a valid choice"."""

    def pre_validate(self, form):
        if _unknown_choice(self):
            raise ValidationError(self.gettext("Not a valid choice"))
        super().pre_validate(form)


class KnownQuerySelectMultipleField(QuerySelectMultipleField):
    """A many-relation select: any id that is not one of its rows is "not a valid choice"
    (Flask-Admin checks before it has matched the ids, so it let unknown ones drop)."""

    def pre_validate(self, form):
        self.data  # noqa: B018 — matching the sent ids sets _invalid_formdata
        super().pre_validate(form)


STRICT_FIELDS = {QuerySelectField: KnownQuerySelectField,
                 QuerySelectMultipleField: KnownQuerySelectMultipleField,
                 AjaxSelectField: KnownAjaxSelectField}


class ModelConverter(AdminModelConverter):
    """Flask-Admin's form converter, with relation selects that refuse unknown ids."""

    def _model_select_field(self, prop, multiple, remote_model, **kwargs):
        field = super()._model_select_field(prop, multiple, remote_model, **kwargs)
        field.field_class = STRICT_FIELDS.get(field.field_class, field.field_class)
        return field


class ContainsAjaxLoader(QueryAjaxModelLoader):
    """A form_ajax_refs picker whose search takes `%` and `_` literally and whose page is at
    most the configured size, whatever offset and limit the request asks for."""

    def get_list(self, term, offset=0, limit=DEFAULT_PAGE_SIZE):
        offset = offset if isinstance(offset, int) and 0 <= offset <= MAX_LIST_NUMBER else 0
        page = self.options.get("page_size", DEFAULT_PAGE_SIZE)
        limit = min(limit, page) if isinstance(limit, int) and limit > 0 else page
        query = self.get_query().filter(or_(*(
            queries.contains(cast(field, String), term or "") for field in self._cached_fields)))
        if self.order_by:
            query = query.order_by(self.order_by)
        return query.offset(offset).limit(limit).all()

    def get_one(self, pk):
        """The row with this integer id, or None (PostgreSQL refuses a non-integer one)."""
        row_id = parse_id(pk)
        return None if row_id is None else super().get_one(row_id)
