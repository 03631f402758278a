"""Configuración > Trabajos fallidos: outbox intents that gave up and jobs rq saw fail, each
with *Reintentar* and *Descartar* (admins only)."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from .. import queries, workflows
from ..errors import DomainError
from ..extensions import db
from ..forms import ConfirmForm
from ..models import JobIntent
from .base import ADMINS, StaffPage

#: What each outbox handler does, in words (an unknown name is shown as it is).
WHAT = {
    "send_reply": _l("Respuesta al cliente por correo"),
    "mail_notice": _l("Aviso de SLA por correo"),
    "mail_email_changed": _l("Aviso de cambio de correo"),
    "route_ticket": _l("Enrutar ticket"),
    "assign_waiting": _l("Asignar tickets en espera"),
}


class FailedJobsView(StaffPage):
    """*Trabajos fallidos*: what the outbox gave up on and what rq recorded as failed."""

    read_roles = write_roles = ADMINS

    @expose("/")
    def index(self):
        """The two lists, or "No hay trabajos fallidos"."""
        return self.render("helpdesk/failed_jobs.html", intents=queries.failed_intents(),
                           rq_jobs=queries.failed_rq_jobs(), form=ConfirmForm(), what=WHAT)

    def _done(self, action, success: str):
        """Check the token, run one change in one transaction, say how it went, go back."""
        if not ConfirmForm().validate_on_submit():
            flash(_("El formulario caducó; recarga la página y vuelve a intentarlo."), "error")
            return redirect(url_for(".index"))
        try:
            with workflows.atomic():
                action()
        except DomainError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index"))
        flash(success, "success")
        return redirect(url_for(".index"))

    def _intent(self, intent_id: int) -> JobIntent:
        intent = db.session.scalar(select(JobIntent).where(JobIntent.id == intent_id)
                                   .with_for_update())
        if intent is None:
            abort(404, _("Ese trabajo no existe."))
        return intent

    @expose("/intents/<int:intent_id>/retry", methods=("POST",))
    def retry_intent_view(self, intent_id: int):
        """Run a failed intent again, now."""
        return self._done(lambda: workflows.retry_intent(self._intent(intent_id),
                                                         actor=current_user),
                          _("El trabajo se volverá a ejecutar en unos instantes."))

    @expose("/intents/<int:intent_id>/discard", methods=("POST",))
    def discard_intent_view(self, intent_id: int):
        """Set a failed intent aside (kept as *Descartado*, never run)."""
        return self._done(lambda: workflows.discard_intent(self._intent(intent_id),
                                                           actor=current_user),
                          _("Trabajo descartado."))

    @expose("/rq/<queue>/<job_id>/retry", methods=("POST",))
    def retry_job_view(self, queue: str, job_id: str):
        """Put a job rq recorded as failed back on its queue."""
        return self._done(lambda: workflows.retry_failed_job(queue, job_id),
                          _("El trabajo se volverá a ejecutar en unos instantes."))

    @expose("/rq/<queue>/<job_id>/discard", methods=("POST",))
    def discard_job_view(self, queue: str, job_id: str):
        """Delete a job rq recorded as failed."""
        return self._done(lambda: workflows.discard_failed_job(queue, job_id),
                          _("Trabajo descartado."))


def job_views(category: str) -> list:
    """Trabajos fallidos, last of the configuration menu."""
    return [FailedJobsView(name=_l("Trabajos fallidos"), category=category,
                           endpoint="failed_jobs")]
