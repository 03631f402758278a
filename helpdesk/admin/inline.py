"""Flask-Admin's inline lists (a calendar's holidays) rendered without an inline onclick,
which our Content-Security-Policy refuses: the "Add" button carries data-add-inline instead."""

from __future__ import annotations

from flask_admin.contrib.sqla.fields import InlineModelFormList
from flask_admin.contrib.sqla.form import InlineModelConverter
from flask_admin.model.widgets import RenderTemplateWidget


class InlineList(InlineModelFormList):
    """The inline list, drawn by templates/helpdesk/inline_field_list.html."""

    widget = RenderTemplateWidget("helpdesk/inline_field_list.html")


class InlineConverter(InlineModelConverter):
    """A ModelView's `inline_model_form_converter` for CSP-clean inline lists."""

    inline_field_list_type = InlineList
