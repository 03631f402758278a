"""WTForms (through Flask-WTF, so every form carries a CSRF token), translated."""

from flask_admin.babel import gettext as admin_gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.i18n import translations as wtforms_translations
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    MultipleFileField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Email, InputRequired, Length, Optional, Regexp


class FieldMessages:
    """The built-in messages of fields and validators in the viewer's language: WTForms'
    catalogue, then Flask-Admin's for the messages of its own fields ("Not a valid choice"
    without the full stop, which WTForms' catalogue lacks, stayed English)."""

    def gettext(self, string: str) -> str:
        text = wtforms_translations.gettext(string)
        return text if text != string else admin_gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return wtforms_translations.ngettext(singular, plural, n)  # Flask-Admin's has none


FIELD_MESSAGES = FieldMessages()


class Form(FlaskForm):
    """Every form of ours: CSRF from Flask-WTF, built-in messages in the viewer's language."""

    class Meta:
        def get_translations(self, form):
            return FIELD_MESSAGES


class LoginForm(Form):
    """E-mail and password."""

    email = EmailField(_l("Correo electrónico"), validators=[InputRequired(), Email(),
                                                            Length(max=254)])
    password = PasswordField(_l("Contraseña"), validators=[InputRequired(), Length(max=200)])
    remember = BooleanField(_l("Recordarme"))
    next = HiddenField()


class LocaleForm(Form):
    """The language switch in the navigation bar."""


class TicketActionForm(Form):
    """Every ticket action carries the version the page was rendered from."""

    version = HiddenField(validators=[InputRequired(), Regexp(r"^\d{1,9}$")])

    def expected_version(self) -> int:
        """The ticket version the page was rendered from."""
        return int(self.version.data)


class ReplyForm(TicketActionForm):
    """The reply editor: text (with placeholders), status after sending, template used."""

    body = TextAreaField(_l("Respuesta al cliente"), validators=[
        InputRequired(message=_l("Escribe la respuesta.")), Length(max=20_000)])
    status = SelectField(_l("Después de enviar"), choices=[
        ("pending", _l("Pendiente (esperar al cliente)")), ("open", _l("Abierto"))],
        default="pending")
    template_id = HiddenField()
    files = MultipleFileField(_l("Adjuntos"))


class NoteForm(TicketActionForm):
    """An internal note, visible only to staff."""

    body = TextAreaField(_l("Nota interna"), validators=[
        InputRequired(message=_l("Escribe la nota.")), Length(max=10_000)])


class StatusForm(TicketActionForm):
    """The status menu; its choices are the allowed transitions of the ticket."""

    status = SelectField(_l("Nuevo estado"), choices=[])


class ReassignForm(Form):
    """Supervisors: the target team and/or agent (blank agent: the team's unassigned pool)."""

    ids = HiddenField()
    #: Each ticket's version when the page was rendered, in the order of `ids`: a move made
    #: meanwhile is reported (409), never silently overwritten.
    version = HiddenField(validators=[InputRequired(), Regexp(r"^\d{1,9}(,\d{1,9}){0,999}$")])

    def expected_versions(self, ids: list[int]) -> dict[int, int] | None:
        """{ticket id: version seen}, or None unless there is one version per id."""
        versions = [int(v) for v in (self.version.data or "").split(",") if v]
        return dict(zip(ids, versions, strict=True)) if len(versions) == len(ids) else None
    team = SelectField(_l("Equipo"), choices=[], validate_choice=False)
    agent = SelectField(_l("Agente"), choices=[], validate_choice=False)


class RoutingTestForm(Form):
    """Probar: an existing ticket number, or a sample ticket's facts."""

    class Meta:
        csrf = False  # read-only: it changes nothing, and GET links can share a test

    ticket = StringField(_l("Nº de ticket existente"), validators=[Optional(), Length(max=12)])
    category = SelectField(_l("Categoría"), choices=[], validate_choice=False)
    priority = SelectField(_l("Prioridad"), choices=[], validate_choice=False)
    channel = SelectField(_l("Canal"), choices=[], validate_choice=False)
    plan = StringField(_l("Plan"), validators=[Optional(), Length(max=40)])
    country = StringField(_l("País"), validators=[Optional(), Length(max=2)])
    language = SelectField(_l("Idioma"), choices=[("es", "Español"), ("en", "English")],
                           validate_choice=False)
    text = TextAreaField(_l("Asunto y mensaje"), validators=[Optional(), Length(max=5000)])


class PriorityForm(TicketActionForm):
    """Reprioritise: the SLA deadlines follow."""

    priority = SelectField(_l("Prioridad"), choices=[])


class EscalateForm(TicketActionForm):
    """*Escalar*: the reason, the target (a team, or a supervisor of one), the context for
    whoever receives it, and optionally a higher priority. Unknown ids reach the workflow,
    which says what is wrong."""

    reason = SelectField(_l("Motivo"), choices=[], validate_choice=False,
                         validators=[InputRequired(message=_l("Elige un motivo."))])
    target = SelectField(_l("Escalar a"), choices=[], validate_choice=False,
                         validators=[InputRequired(message=_l("Elige un equipo o un "
                                                              "supervisor."))])
    context = TextAreaField(_l("Contexto para quien lo recibe"), validators=[
        InputRequired(message=_l("Explica el contexto: qué se ha probado y qué hace falta.")),
        Length(min=20, max=4000, message=_l("El contexto debe tener entre %(min)d y %(max)d "
                                            "caracteres."))])
    priority = SelectField(_l("Subir la prioridad a"), choices=[], validate_choice=False)


class DeescalateForm(TicketActionForm):
    """Supervisors: send an escalated ticket back to the team it came from, with a note."""

    note = TextAreaField(_l("Nota para el equipo"), validators=[
        InputRequired(message=_l("Escribe una nota para el equipo.")), Length(max=4000)])


class ConfirmForm(Form):
    """A button that changes something (retry, discard): nothing but its CSRF token."""


class ResolveForm(TicketActionForm):
    """*Resolver*: the guide's five steps. The category's id reaches the workflow, which says
    what is wrong with an unknown, inactive or unfitting one."""

    solved = BooleanField(_l("El problema está completamente resuelto"), validators=[
        InputRequired(message=_l("Confirma que el problema está completamente resuelto."))])
    reply = TextAreaField(_l("Respuesta final al cliente (opcional)"),
                          validators=[Optional(), Length(max=20_000)])
    template_id = HiddenField()
    resolution = SelectField(_l("Categoría de resolución"), choices=[], validate_choice=False,
                             validators=[InputRequired(message=_l("Elige una categoría de "
                                                                  "resolución."))])
    notes = TextAreaField(_l("Notas de cierre (internas)"), validators=[
        InputRequired(message=_l("Escribe las notas de cierre.")), Length(max=4000)])
    ask_confirmation = BooleanField(_l("Pedir confirmación al cliente"))


class BulkResolveForm(Form):
    """Supervisors: *Resolver* for the selected tickets, with one category and closing notes."""

    ids = HiddenField()
    version = HiddenField(validators=[InputRequired(), Regexp(r"^\d{1,9}(,\d{1,9}){0,999}$")])
    resolution = SelectField(_l("Categoría de resolución"), choices=[], validate_choice=False,
                             validators=[InputRequired(message=_l("Elige una categoría de "
                                                                  "resolución."))])
    notes = TextAreaField(_l("Notas de cierre (internas)"), validators=[
        InputRequired(message=_l("Escribe las notas de cierre.")), Length(max=4000)])

    def expected_versions(self, ids: list[int]) -> dict[int, int] | None:
        """{ticket id: version seen}, or None unless there is one version per id."""
        versions = [int(v) for v in (self.version.data or "").split(",") if v]
        return dict(zip(ids, versions, strict=True)) if len(versions) == len(ids) else None


class SurveyForm(Form):
    """The customer's survey: 1–5 and an optional comment."""

    score = SelectField(_l("Puntuación"), choices=[], validate_choice=False,
                        validators=[InputRequired(message=_l("Elige una puntuación del 1 "
                                                             "al 5."))])
    comment = TextAreaField(_l("Comentario (opcional)"), validators=[Optional(),
                                                                     Length(max=2000)])
