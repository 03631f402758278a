"""Customers: changes to the Bayit+ accounts behind the tickets."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from .. import rules
from ..errors import DomainError
from ..extensions import db
from ..models import Customer, User
from .base import audit, clean_text
from .outbox import schedule


def change_customer_email(customer: Customer, email: str, *, actor: User | None) -> bool:
    """A new address for the customer (supervisors and admins): an audit row, a notice mailed
    to the old address after commit; replies already written keep their own recipient. Whether
    it changed."""
    if actor is not None and not rules.may_edit_customers(actor.role):
        raise DomainError(_("Solo un supervisor puede editar los datos de un cliente."))
    email = clean_text(email, _("Correo electrónico"), 254)
    if "@" not in email:
        raise DomainError(_("«%(email)s» no es una dirección de correo válida.", email=email))
    old = customer.email
    if old == email:
        return False
    taken = select(Customer.id).where(Customer.email == email, Customer.id != customer.id)
    if db.session.scalar(taken) is not None:
        raise DomainError(_("Ya existe un cliente con el correo %(email)s.", email=email))
    entry = audit(customer, actor, "update", field="email", old=old, new=email)
    customer.email = email
    db.session.flush()
    if old:
        schedule("mail_email_changed", entry.id, key=f"customer-email:{entry.id}", queue="mail")
    return True
