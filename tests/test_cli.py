"""`flask helpdesk create-user`: the first admin of a real install comes from here."""

from sqlalchemy import select
from werkzeug.security import check_password_hash

from helpdesk.extensions import db
from helpdesk.models import AuditEntry, Role, User


def create_user(app, *args, password="s3cret-enough"):
    runner = app.test_cli_runner()
    return runner.invoke(args=["helpdesk", "create-user", *args, "--password-stdin"],
                         input=f"{password}\n")


def test_creates_an_admin_with_a_hashed_password(app):
    result = create_user(app, "Boss@Bayit.example", "--role", "admin", "--name", "La Jefa")
    assert result.exit_code == 0, result.output
    assert "created boss@bayit.example (admin)" in result.output
    with app.app_context():
        user = db.session.scalar(select(User))
        assert (user.email, user.name, user.role) == ("boss@bayit.example", "La Jefa", Role.ADMIN)
        assert check_password_hash(user.password_hash, "s3cret-enough")
        assert db.session.scalar(select(AuditEntry.action)) == "create"


def test_duplicate_email_is_refused_in_one_line(app):
    assert create_user(app, "a@bayit.example").exit_code == 0
    result = create_user(app, "A@bayit.example")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: Ya existe un usuario con el correo a@bayit.example."


def test_short_password_and_bad_email_change_nothing(app):
    result = create_user(app, "b@bayit.example", password="short")
    assert result.exit_code == 1 and "al menos 8 caracteres" in result.output
    result = create_user(app, "not-an-email")
    assert result.exit_code == 1 and "no es una dirección de correo válida" in result.output
    with app.app_context():
        assert db.session.scalar(select(User.id)) is None


def test_unknown_role_is_refused(app):
    result = create_user(app, "c@bayit.example", "--role", "owner")
    assert result.exit_code == 2 and "owner" in result.output
