"""What happened to a ticket, in a sentence in the viewer's language: the thread's system events
and the audit rows behind "while you worked, …". One sentence per kind of change, written once."""

from __future__ import annotations

from flask_babel import gettext as _

from .enums import Priority, TicketStatus


def status_text(status: TicketStatus, merged_into: int | None = None) -> str:
    """How a ticket's status reads wherever it is shown: its label, or "Fusionado en #N" for a
    ticket merged into another (its stored status is Resuelto)."""
    if merged_into is not None:
        return _("Fusionado en #%(id)d", id=merged_into)
    return str(status.label)


def status_changed(who: str, value: str | None) -> str | None:
    """"Ana cambió el estado a Pendiente", or None for an unknown status value."""
    if value not in TicketStatus._value2member_map_:
        return None
    return _("%(who)s cambió el estado a %(status)s", who=who, status=TicketStatus(value).label)


def priority_changed(who: str, value: str | None) -> str | None:
    """"Ana cambió la prioridad a Urgente", or None for an unknown priority value."""
    if value not in Priority._value2member_map_:
        return None
    return _("%(who)s cambió la prioridad a %(priority)s", who=who,
             priority=Priority(value).label)


def assigned(who: str, agent_name: str | None) -> str:
    """"Ana asignó el ticket a Luis", or the ticket went back to the team's queue."""
    if agent_name:
        return _("%(who)s asignó el ticket a %(agent)s", who=who, agent=agent_name)
    return _("%(who)s devolvió el ticket a la cola del equipo", who=who)


def moved_to_team(who: str, team_name: str | None) -> str:
    """"Eva movió el ticket al equipo Facturación"."""
    return _("%(who)s movió el ticket al equipo %(team)s", who=who, team=team_name or "—")


def event_sentence(message) -> str:
    """A system event of the thread (`Message.event`); one moved here by a merge says from
    which ticket."""
    data = message.event or {}
    who = message.author.name if message.author else _("El sistema")
    sentence = _event_sentence(data.get("event"), who, data) or data.get("text") or message.body
    if data.get("merged_from"):
        return _("%(sentence)s (en %(ticket)s)", sentence=sentence, ticket=data["merged_from"])
    return sentence


def _event_sentence(kind: str | None, who: str, data: dict) -> str | None:
    if kind == "status" and (sentence := status_changed(who, data.get("new"))):
        return sentence
    if kind == "priority" and (sentence := priority_changed(who, data.get("new"))):
        return sentence
    if kind == "assign":
        return assigned(who, data.get("to"))
    if kind == "escalate":
        return _("Escalado a %(to)s: %(reason)s", to=data.get("to", ""),
                 reason=data.get("reason", ""))
    if kind == "deescalate":
        return _("%(who)s devolvió el ticket al equipo %(team)s: %(note)s", who=who,
                 team=data.get("team", ""), note=data.get("note", ""))
    return (closure_sentence(kind, who, data) or merge_sentence(kind, who, data)
            or link_sentence(kind, who, data))


def merge_sentence(kind: str | None, who: str, data: dict) -> str | None:
    """The thread events of a merge."""
    if kind == "merged_into":
        return _("%(who)s fusionó este ticket en %(ticket)s", who=who, ticket=data.get("to", ""))
    if kind == "merged_from":
        return _("%(who)s fusionó aquí %(ticket)s «%(subject)s»; su hilo sigue en este",
                 who=who, ticket=data.get("of", ""), subject=data.get("subject", ""))
    return None


def link_sentence(kind: str | None, who: str, data: dict) -> str | None:
    """The thread events of a link added or removed, read from this ticket's side."""
    if kind not in ("link", "unlink"):
        return None
    names = {"who": who, "ticket": data.get("other", ""), "subject": data.get("subject", "")}
    duplicate, this_one = data.get("kind") == "duplicate", data.get("side") == "from"
    if kind == "link" and duplicate and this_one:
        return _("%(who)s marcó este ticket como duplicado de %(ticket)s «%(subject)s»", **names)
    if kind == "link" and duplicate:
        return _("%(who)s marcó %(ticket)s «%(subject)s» como duplicado de este ticket", **names)
    if kind == "link":
        return _("%(who)s vinculó este ticket con %(ticket)s «%(subject)s»", **names)
    if duplicate:
        return _("%(who)s quitó la marca de duplicado entre este ticket y %(ticket)s "
                 "«%(subject)s»", **names)
    return _("%(who)s quitó el vínculo con %(ticket)s «%(subject)s»", **names)


def closure_sentence(kind: str | None, who: str, data: dict) -> str | None:
    """The thread events of closure: resolved, confirmed, reopened, follow-ups, ratings."""
    if kind == "resolve":
        return _("%(who)s resolvió el ticket: %(category)s", who=who,
                 category=data.get("category", ""))
    if kind == "confirmed":
        return _("El cliente confirmó que está resuelto")
    if kind == "reopen":
        return _("El cliente reabrió el ticket") if data.get("by", "").startswith("customer") \
            else _("%(who)s reabrió el ticket", who=who)
    if kind == "follow_up":
        return _("Continúa el ticket %(ticket)s, que ya no se podía reabrir",
                 ticket=data.get("of", ""))
    if kind == "followed_up":
        return _("El cliente siguió en el ticket %(ticket)s", ticket=data.get("to", ""))
    if kind == "rating":
        return _("El cliente valoró la atención con %(score)s de 5",
                 score=data.get("score", ""))
    return None


def change_sentence(entry, who: str, agent_name: str | None = None) -> str | None:
    """An audit row of a ticket (`AuditEntry`); `agent_name` is the new assignee's, for an
    assignment. None for changes nobody needs told."""
    if entry.action == "reply":
        return _("%(who)s añadió una respuesta", who=who)
    if entry.action == "note":
        return _("%(who)s añadió una nota interna", who=who)
    if entry.action == "status":
        return status_changed(who, entry.new_value)
    if entry.action == "priority":
        return priority_changed(who, entry.new_value)
    if entry.action == "assign":
        return assigned(who, agent_name)
    if entry.action == "update":
        return _("%(who)s editó el ticket", who=who)
    if entry.action == "escalate":
        return _("%(who)s escaló el ticket", who=who)
    if entry.action == "deescalate":
        return _("%(who)s desescaló el ticket", who=who)
    if entry.action == "resolve":
        return _("%(who)s resolvió el ticket", who=who)
    if entry.action == "confirm":
        return _("el cliente respondió a la confirmación")
    if entry.action == "merge":
        return _("%(who)s fusionó tickets", who=who)
    if entry.action in ("link", "unlink"):
        return _("%(who)s cambió los tickets vinculados", who=who)
    if entry.action == "macro":
        return _("%(who)s aplicó la macro %(name)s", who=who, name=entry.new_value or "")
    return None
