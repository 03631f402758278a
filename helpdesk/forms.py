"""WTForms (through Flask-WTF, so every form carries a CSRF token)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField
from wtforms.validators import Email, InputRequired, Length


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField(_l("Correo electrónico"), validators=[InputRequired(), Email(),
                                                            Length(max=254)])
    password = PasswordField(_l("Contraseña"), validators=[InputRequired(), Length(max=200)])
    remember = BooleanField(_l("Recordarme"))
    next = HiddenField()


class LocaleForm(FlaskForm):
    """The language switch in the navigation bar."""
