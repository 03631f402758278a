"""Response templates and replies: placeholders rendered in a Jinja sandbox.

The placeholders an agent may use (also shown in the reply editor):

=========================  =====================================================
``{{ cliente.nombre }}``   customer's full name     ``{{ cliente.correo }}`` e-mail
``{{ cliente.plan }}``     Bayit+ plan              ``{{ cliente.pais }}`` country
``{{ ticket.numero }}``    ticket number (#123)     ``{{ ticket.asunto }}`` subject
``{{ ticket.estado }}``    status label             ``{{ ticket.prioridad }}`` priority
``{{ ticket.categoria }}`` category name            ``{{ agente.nombre }}`` agent's name
``{{ agente.correo }}``    agent's e-mail
=========================  =====================================================

Anything else (an unknown name, attribute access to internals, a syntax error) is refused with
a message for the agent; nothing is sent. The sandbox (`helpdesk.sandbox`) bounds what a template
may cost: its size, nesting, numbers, strings, loops, output and time.
"""

from __future__ import annotations

from flask_babel import gettext as _
from jinja2 import TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SecurityError

from .models import Ticket, User
from .sandbox import BoundedEnvironment, LimitExceeded, TemplateProblem

__all__ = ["PLACEHOLDERS", "LimitExceeded", "TemplateProblem", "check", "check_render",
           "placeholder_context", "render"]

PLACEHOLDERS = (
    "cliente.nombre", "cliente.correo", "cliente.plan", "cliente.pais",
    "ticket.numero", "ticket.asunto", "ticket.estado", "ticket.prioridad", "ticket.categoria",
    "agente.nombre", "agente.correo",
)

_env = BoundedEnvironment()
#: Every placeholder with a stand-in value, for checking a template without a ticket.
_SAMPLE = {group: {name.split(".")[1]: name for name in PLACEHOLDERS
                    if name.startswith(group + ".")} for group in ("cliente", "ticket", "agente")}


def placeholder_context(ticket: Ticket, agent: User | None) -> dict:
    """The values behind every placeholder, as plain dicts of strings."""
    customer = ticket.customer
    return {
        "cliente": {"nombre": customer.name, "correo": customer.email,
                    "plan": customer.plan or "", "pais": customer.country or ""},
        "ticket": {"numero": ticket.number, "asunto": ticket.subject,
                   "estado": ticket.status.label, "prioridad": ticket.priority.label,
                   "categoria": ticket.category.name if ticket.category else ""},
        "agente": {"nombre": agent.name if agent else "", "correo": agent.email if agent else ""},
    }


def check(text: str) -> None:
    """Refuse what a reply would refuse (limits, syntax, unknown placeholders), rendering with
    sample values: an admin saving a response template sees the problem then, not an agent."""
    render(text, _SAMPLE)


def check_render(text: str) -> str:
    """`check`, returning the text as rendered with the sample values (each placeholder
    shows its own name): the admin's preview when there is no ticket to show it with."""
    return render(text, _SAMPLE)


def render(text: str, context: dict) -> str:
    """Render `text` with the placeholders; TemplateProblem says what is wrong."""
    template = _compile(text)
    try:
        return _env.render_bounded(template, context)
    except UndefinedError as exc:
        raise TemplateProblem(_("Marcador desconocido: %(detail)s. Disponibles: %(names)s.",
                                detail=_undefined_name(exc), names=", ".join(PLACEHOLDERS))
                              ) from None
    except SecurityError:
        raise TemplateProblem(_("La plantilla intenta acceder a algo no permitido.")) from None
    except (TemplateError, TypeError, ValueError, ArithmeticError):
        raise TemplateProblem(_("La plantilla no se puede usar tal como está.")) from None


def _compile(text: str):
    try:
        return _env.bounded_template(text)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(_("Error de sintaxis en la línea %(line)d de la plantilla.",
                                line=exc.lineno)) from None
    except (TemplateError, TypeError, ValueError, ArithmeticError):
        raise TemplateProblem(_("La plantilla no se puede usar tal como está.")) from None


def _undefined_name(exc: UndefinedError) -> str:
    """Jinja says "'dict object' has no attribute 'x'" or "'x' is undefined": keep the name."""
    message = str(exc.message or "")
    if "has no attribute" in message:
        return message.rsplit(" ", 1)[-1].strip("'")
    return message.split(" ", 1)[0].strip("'")
