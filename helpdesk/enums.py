"""The helpdesk's enums, each with its translated labels. Imports nothing of ours, so `rules`
(pure logic) and `models` (the tables) can both build on it."""

from __future__ import annotations

import enum
from typing import Any

from flask_babel import lazy_gettext as _l


class Labelled:
    """Enum mixin: `.label` is the translated name shown in the panel."""

    LABELS: dict[str, Any] = {}

    @property
    def label(self) -> str:
        return str(type(self).LABELS.get(self.value, self.value))

    def __str__(self) -> str:
        return self.label


class Role(Labelled, enum.IntEnum):
    AGENT = 1
    SUPERVISOR = 2
    ADMIN = 3


Role.LABELS = {1: _l("Agente"), 2: _l("Supervisor"), 3: _l("Administrador")}


class Availability(Labelled, enum.StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


Availability.LABELS = {
    "available": _l("Disponible"),
    "away": _l("Ausente"),
    "offline": _l("Desconectado"),
}


class TicketStatus(Labelled, enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"


TicketStatus.LABELS = {
    "new": _l("Nuevo"),
    "open": _l("Abierto"),
    "pending": _l("Pendiente"),
    "resolved": _l("Resuelto"),
}


class Priority(Labelled, enum.StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


Priority.LABELS = {"urgent": _l("Urgente"), "high": _l("Alta"), "normal": _l("Normal"),
                   "low": _l("Baja")}


class Channel(Labelled, enum.StrEnum):
    EMAIL = "email"
    WEB = "web"
    CHAT = "chat"
    PHONE = "phone"
    APP = "app"


Channel.LABELS = {"email": _l("Correo"), "web": _l("Formulario web"), "chat": _l("Chat"),
                  "phone": _l("Teléfono"), "app": _l("App")}


class SlaState(Labelled, enum.StrEnum):
    OK = "ok"
    APPROACHING = "approaching"
    BREACHED = "breached"


SlaState.LABELS = {"ok": _l("En plazo"), "approaching": _l("Próximo a vencer"),
                   "breached": _l("Vencido")}


class MessageKind(Labelled, enum.StrEnum):
    CUSTOMER = "customer"
    REPLY = "reply"
    NOTE = "note"
    EVENT = "event"


MessageKind.LABELS = {"customer": _l("Mensaje del cliente"), "reply": _l("Respuesta"),
                      "note": _l("Nota interna"), "event": _l("Evento")}


class Strategy(Labelled, enum.StrEnum):
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


Strategy.LABELS = {"round_robin": _l("Rotativa (round-robin)"),
                   "least_loaded": _l("Menor carga")}


class IntentState(Labelled, enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    #: Failed, then set aside by an admin on *Trabajos fallidos*: kept, never run again.
    DISCARDED = "discarded"


IntentState.LABELS = {"pending": _l("Pendiente"), "done": _l("Hecho"), "failed": _l("Fallido"),
                      "discarded": _l("Descartado")}


class InboundState(Labelled, enum.StrEnum):
    """What became of one message that reached us (the pipe or the IMAP mailbox)."""

    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"
    HELD = "held"


InboundState.LABELS = {"received": _l("Recibido"), "processed": _l("Procesado"),
                       "ignored": _l("Ignorado"), "duplicate": _l("Duplicado"),
                       "held": _l("Retenido")}
