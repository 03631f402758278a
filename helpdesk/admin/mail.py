"""Soporte > Correo retenido (supervisors and admins): held messages with their reason, the
parsed text, the raw `.eml`, *Abrir ticket* and *Descartar*; and, for whoever may see the
ticket, its attachments (always downloaded, never rendered) and the removal of a CC address."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort, flash, redirect, send_file, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from .. import attachments, queries, workflows
from ..errors import DomainError
from ..extensions import db
from ..forms import ConfirmForm
from ..inbound.parse import Refused
from ..models import InboundMail, InboundState, TicketParticipant
from ..workflows.inbound import parse_stored
from .base import ALL_STAFF, SUPERVISORS, StaffPage


def download_headers(filename: str) -> dict:
    """RFC 6266: always an attachment; an ASCII fallback and the real name in `filename*`."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_"
                       for c in filename) or "adjunto"
    return {"Content-Disposition": f'attachment; filename="{fallback}"; '
                                   f"filename*=UTF-8''{quote(filename, safe='')}",
            "X-Content-Type-Options": "nosniff"}


class HeldMailView(StaffPage):
    """*Correo retenido*: what the mail channel would not turn into a ticket by itself."""

    read_roles = write_roles = SUPERVISORS

    @expose("/")
    def index(self):
        """The held messages, newest first."""
        return self.render("helpdesk/held_mail.html", rows=queries.held_mail(),
                           form=ConfirmForm())

    def _row(self, inbound_id: int, *, lock: bool = False) -> InboundMail:
        stmt = select(InboundMail).where(InboundMail.id == inbound_id,
                                         InboundMail.state == InboundState.HELD)
        row = db.session.scalar(stmt.with_for_update() if lock else stmt)
        if row is None:
            abort(404, _("Ese mensaje no existe o ya no está retenido."))
        return row

    @expose("/<int:inbound_id>/")
    def details_view(self, inbound_id: int):
        """One held message: its reason and the text as parsed."""
        row = self._row(inbound_id)
        try:
            parsed, problem = parse_stored(row), None
        except Refused as refused:
            parsed, problem = None, refused.reason
        except Exception:  # what held it may break the parser: the page still opens
            parsed, problem = None, _("No se pudo leer el mensaje.")
        return self.render("helpdesk/held_mail_details.html", row=row, parsed=parsed,
                           problem=problem, form=ConfirmForm())

    @expose("/<int:inbound_id>/raw")
    def raw_view(self, inbound_id: int):
        """The message as it arrived, downloaded as an .eml file (never shown)."""
        row = self._row(inbound_id)
        response = Response(row.raw or b"", mimetype="application/octet-stream")
        response.headers.update(download_headers(f"mensaje-{row.id}.eml"))
        return response

    def _done(self, action, success: str, back: str):
        if not ConfirmForm().validate_on_submit():
            flash(_("El formulario caducó; recarga la página y vuelve a intentarlo."), "error")
            return redirect(back)
        try:
            with workflows.atomic():
                result = action()
        except DomainError as exc:
            flash(str(exc), "error")
            return redirect(back)
        flash(success, "success")
        return result or redirect(url_for(".index"))

    @expose("/<int:inbound_id>/release", methods=("POST",))
    def release_view(self, inbound_id: int):
        """Open a new ticket from the held message."""
        opened = {}

        def act():
            opened["id"] = workflows.release_held(self._row(inbound_id, lock=True),
                                                  actor=current_user).id

        response = self._done(act, _("Mensaje liberado como ticket nuevo."),
                              url_for(".details_view", inbound_id=inbound_id))
        if "id" in opened:
            return redirect(url_for("tickets.work_view", ticket_id=opened["id"]))
        return response

    @expose("/<int:inbound_id>/discard", methods=("POST",))
    def discard_view(self, inbound_id: int):
        """Set the held message aside (kept as *Ignorado*)."""
        return self._done(lambda: workflows.discard_held(self._row(inbound_id, lock=True),
                                                         actor=current_user),
                          _("Mensaje descartado."), url_for(".index"))


class MailFilesView(StaffPage):
    """Attachments and CC addresses of the tickets a user may see (404 for the rest)."""

    read_roles = write_roles = ALL_STAFF

    def is_visible(self):
        return False  # reached from the ticket page only

    @expose("/")
    def index(self):
        """Nothing to list here: attachments are reached from their ticket (the home page)."""
        return redirect(url_for("admin.index"))

    @expose("/attachments/<int:attachment_id>")
    def attachment_view(self, attachment_id: int):
        """Download one attachment: `attachment` disposition, nosniff, a safe type."""
        item = queries.visible_attachment(attachment_id, current_user)
        path = attachments.path_of(item.storage_path) if item is not None else None
        if path is None:
            abort(404, _("Ese adjunto no existe o no tienes acceso a él."))
        content_type = item.content_type if item.content_type in attachments.SAFE_TYPES \
            else "application/octet-stream"
        response = send_file(path, mimetype=content_type, conditional=False, etag=False)
        response.headers.update(download_headers(item.filename))
        return response

    @expose("/participants/<int:participant_id>/remove", methods=("POST",))
    def remove_participant_view(self, participant_id: int):
        """Stop copying an address on the ticket's replies."""
        participant = db.session.get(TicketParticipant, participant_id)
        ticket = queries.visible_ticket(participant.ticket_id, current_user) \
            if participant is not None else None
        if ticket is None:
            abort(404, _("El ticket no existe o no tienes acceso a él."))
        if not ConfirmForm().validate_on_submit():
            flash(_("El formulario caducó; recarga la página y vuelve a intentarlo."), "error")
        else:
            email, ticket_id = participant.email, ticket.id
            with workflows.atomic():
                workflows.remove_participant(participant, actor=current_user)
            flash(_("Ya no se copiará a %(email)s.", email=email), "success")
            return redirect(url_for("tickets.work_view", ticket_id=ticket_id))
        return redirect(url_for("tickets.work_view", ticket_id=ticket.id))


def mail_views(category: str) -> list:
    """Correo retenido, under Soporte; the attachment and CC endpoints (no menu entry)."""
    return [HeldMailView(name=_l("Correo retenido"), category=category, endpoint="held_mail"),
            MailFilesView(name=_l("Adjuntos"), endpoint="mail_files", url="/admin/mail")]


def panel_globals() -> dict:
    """`ticket_participants(id)` for the ticket page's CC card; `is_raster(type)`: whether an
    attachment (its type checked by content when stored) may be shown as a thumbnail."""
    return {"ticket_participants": queries.participants, "is_raster": attachments.is_raster}
