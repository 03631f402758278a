"""The queue's rows as HTML built in Python: one Markup string per row, with what every row
shares (permissions, texts, URLs) made once per page. Flask-Admin's generic row (a block, a
macro or formatter per cell, a `render_ctx` per row action) was most of the page's CPU.

The cells read as the column formatters in `tickets.py`/`queue.py` draw them (the details page
still uses those); every value from the database goes through `escape`.
"""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from .. import phrases
from ..models import TicketStatus
from ..queries import links as link_queries
from . import escalation, queue
from .ticket_work import may_take

#: Stands for a row's id or number in a text made once per page.
_HOLE = "\ue000"
_SENTINEL_ID = 987654321


class _Page:
    """What every row of one page shares: the viewer, permissions, texts and URL prefixes."""

    def __init__(self, view, rows, template_args: dict):
        self.view = view
        self.user = queue.viewer()
        self.base = queue.queue_base()
        self.viewers = template_args.get("viewers") or {}
        self.snippets = template_args.get("snippets") or {}
        self.merged = link_queries.merged_into(
            [r.id for r in rows if r.status is TicketStatus.RESOLVED])
        self.edit = (f'<a class="icon" href="{escape(url_for(".edit_view", id=""))}{_HOLE}" '
                     f'title="{escape(_("Editar"))}"><span class="fa fa-pencil" '
                     f'aria-hidden="true"></span><span class="sr-only">{escape(_("Editar"))} '
                     f'#{_HOLE}</span></a>') if view.can_edit else ""
        self.select = escape(_("Seleccionar"))
        self.escalate = (f'<a class="icon" href="{self.base}{_HOLE}/escalate" '
                         f'title="{escape(_("Escalar"))}" data-testid="escalate-row-{_HOLE}">'
                         f'<span class="fa fa-level-up" aria-hidden="true"></span><span '
                         f'class="sr-only">{escape(_("Escalar %(ticket)s", ticket="#" + _HOLE))}'
                         f'</span></a>') if _escalates(view) else ""
        take_url = url_for(".take_view", ticket_id=_SENTINEL_ID).replace(
            str(_SENTINEL_ID), _HOLE)
        self.take = (f'<button form="hd-take" formaction="{escape(take_url)}" name="version" '
                     f'value="\ue001" class="btn btn-sm btn-outline-success py-0" '
                     f'data-testid="take-{_HOLE}" aria-label="'
                     f'{escape(_("Tomar el ticket %(number)s", number="#" + _HOLE))}">'
                     f'{escape(_("Tomar"))}</button>')
        self.labels = {}

    def label(self, member) -> str:
        """An enum member's label, escaped, once a page."""
        text = self.labels.get(member)
        if text is None:
            text = self.labels[member] = str(escape(queue.label(member)))
        return text


def _escalates(view) -> bool:
    return any(isinstance(a, escalation.EscalateRowAction)
               for a in view.column_extra_row_actions or ())


def _link(page, row) -> str:
    return f'<a href="{page.base}{row.id}/">'


def _id_cell(page, row) -> str:
    html = f"{_link(page, row)}#{row.id}</a>"
    viewers = page.viewers.get(row.id)
    if viewers:
        names = ", ".join(viewers)
        html += (f' <span class="fa fa-eye text-info" data-testid="viewers" '
                 f'title="{escape(names)}"></span><span class="sr-only">'
                 f'{escape(_("Abierto por %(names)s", names=names))}</span>')
    return html


def _subject_cell(page, row) -> str:
    html = f"{_link(page, row)}{escape(row.subject)}</a>"
    snippet = page.snippets.get(row.id)
    if snippet:
        html += ('<div class="small text-muted hd-snippet" data-testid="snippet">'
                 f'{escape(snippet)}</div>')
    level = row.escalation_level
    if level:
        html += (f' <span class="badge badge-danger hd-escalated" title="'
                 f'{escape(_("Escalado, nivel %(n)d", n=level))}" '
                 f'data-testid="escalation-level">{escape(_("N%(n)d", n=level))}</span>')
    return html


def _status_cell(page, row) -> str:
    target = page.merged.get(row.id)
    if target is None:
        return page.label(row.status)
    return (f'<span class="badge hd-status hd-status-merged" data-testid="merged-{row.id}">'
            f'{escape(phrases.status_text(row.status, target))}</span>')


def _assignee_cell(page, row) -> str:
    if row.assignee is not None:
        return str(escape(row.assignee.name))
    if not may_take(row, page.user):
        return ""
    return page.take.replace(_HOLE, str(row.id)).replace("\ue001", str(row.version))


def _sla_cell(page, row) -> str:
    return str(escape(queue.sla_cell(page.view, None, row, "sla_due_at")))


CELLS = {
    "id": _id_cell,
    "subject": _subject_cell,
    "customer.name": lambda page, row: str(escape(row.customer.name)) if row.customer else "",
    "priority": lambda page, row: page.label(row.priority),
    "status": _status_cell,
    "team": lambda page, row: str(escape(row.team.name)) if row.team else "",
    "assignee": _assignee_cell,
    "created_at": lambda page, row: str(escape(queue.age_cell(None, None, row, "created_at"))),
    "sla_due_at": _sla_cell,
}


def queue_rows(view, rows, template_args: dict, columns) -> Markup:
    """The page's rows (`<tr>` each), their cells in the order of `columns` ((name, label)
    pairs, as Flask-Admin lists them)."""
    page = _Page(view, rows, template_args)
    cells = [(name, CELLS.get(name)) for name, _label in columns]
    may_escalate = escalation.may_escalate
    out = []
    for row in rows:
        rid = str(row.id)
        actions = page.edit.replace(_HOLE, rid)
        if page.escalate and may_escalate(row, page.user):
            actions += page.escalate.replace(_HOLE, rid)
        html = [f'<tr><td><input type="checkbox" name="rowid" class="action-checkbox" '
                f'value="{rid}" aria-label="{page.select} #{rid}"></td>'
                f'<td class="list-buttons-column">{actions}</td>']
        for name, cell in cells:
            value = cell(page, row) if cell else str(escape(view.get_list_value(
                {"data": rows, **template_args}, row, name)))
            html.append(f'<td class="col-{name}">{value}</td>')
        html.append("</tr>\n")
        out.append("".join(html))
    return Markup("".join(out))
