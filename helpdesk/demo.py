"""Demo data: the reference rows a working helpdesk needs, and a fast, deterministic dataset.

`seed()` never builds ORM objects per ticket: on an empty database it gives out the ids itself,
builds plain rows and inserts them in chunks (executemany), then resets PostgreSQL's sequences.
"""

from __future__ import annotations

import bisect
import itertools
import random
import sys
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

import click
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, insert, select, text

from . import rules, workflows
from .errors import DomainError
from .extensions import db
from .models import (
    AccountEvent,
    AuditEntry,
    Availability,
    BusinessCalendar,
    Category,
    Channel,
    Customer,
    Escalation,
    EscalationReason,
    Holiday,
    Message,
    MessageKind,
    Priority,
    ResolutionCategory,
    ResponseTemplate,
    Role,
    RoutingRule,
    SatisfactionRating,
    Setting,
    SlaPolicy,
    Strategy,
    Team,
    Ticket,
    TicketStatus,
    User,
    event_body,
)

DEMO_LOGINS = ("admin@demo.bayit", "supervisor@demo.bayit", "agente1@demo.bayit",
               "agente2@demo.bayit")
DEMO_PASSWORD = "demo"

#: Rows per executemany: big enough to amortise the round trip, small enough for memory.
CHUNK = 10_000

#: Tables whose ids `seed()` gives out itself (PostgreSQL sequences are reset after).
BULK_TABLES = (Customer, AccountEvent, Ticket, Message, AuditEntry, SatisfactionRating,
               Escalation)

# --- Reference data -----------------------------------------------------------------------------

TEAMS = (
    ("Cuenta", "Acceso, perfiles y datos de la cuenta.", "cuenta@demo.bayit",
     Strategy.LEAST_LOADED),
    ("Facturación", "Pagos, cargos, reembolsos y cambios de plan.", "facturacion@demo.bayit",
     Strategy.LEAST_LOADED),
    ("Técnico", "Reproducción, dispositivos y aplicaciones.", "tecnico@demo.bayit",
     Strategy.ROUND_ROBIN),
    ("Contenido", "Catálogo, títulos faltantes, doblaje y subtítulos.", "contenido@demo.bayit",
     Strategy.LEAST_LOADED),
)

#: code, name, default team, description
CATEGORIES = (
    ("acceso", "Acceso a la cuenta", "Cuenta",
     "Contraseñas, inicio de sesión, verificación y cambios de correo."),
    ("facturacion", "Facturación y pagos", "Facturación",
     "Cargos, reembolsos, métodos de pago, facturas y cambios de plan."),
    ("reproduccion", "Problemas de reproducción", "Técnico",
     "Vídeo que no carga, cortes, calidad de imagen, audio y subtítulos."),
    ("dispositivos", "Dispositivos y apps", "Técnico",
     "Instalación y activación de la app en televisores, móviles y reproductores."),
    ("contenido", "Contenido faltante", "Contenido",
     "Títulos que no aparecen, nuevas temporadas, doblaje y peticiones de catálogo."),
    ("otros", "Otras consultas", "Cuenta", "Todo lo que no encaja en otra categoría."),
)

#: priority: (first response, resolution) in minutes — the guide's targets.
SLA_TARGETS = {
    Priority.URGENT: (rules.DEFAULT_FIRST_RESPONSE_MINUTES[Priority.URGENT], 8 * 60),
    Priority.HIGH: (rules.DEFAULT_FIRST_RESPONSE_MINUTES[Priority.HIGH], 24 * 60),
    Priority.NORMAL: (rules.DEFAULT_FIRST_RESPONSE_MINUTES[Priority.NORMAL], 72 * 60),
    Priority.LOW: (rules.DEFAULT_FIRST_RESPONSE_MINUTES[Priority.LOW], 120 * 60),
}

CALENDAR_NAME = "Horario de oficina Madrid"
OFFICE_HOURS = {str(day): [["09:00", "18:00"]] for day in range(5)}
HOLIDAYS = (
    (1, 1, "Año Nuevo"), (1, 6, "Epifanía del Señor"), (5, 1, "Fiesta del Trabajo"),
    (5, 2, "Fiesta de la Comunidad de Madrid"), (8, 15, "Asunción de la Virgen"),
    (10, 12, "Fiesta Nacional de España"), (11, 1, "Todos los Santos"),
    (12, 6, "Día de la Constitución Española"), (12, 8, "Inmaculada Concepción"),
    (12, 25, "Navidad"),
)

RESOLUTIONS = (
    ("Solucionado", "El problema del cliente quedó resuelto."),
    ("Solución alternativa", "Se ofreció un rodeo mientras se corrige la causa."),
    ("Sin respuesta del cliente", "Se cerró tras esperar la respuesta del cliente."),
    ("Duplicado", "El cliente ya tenía otro ticket abierto por lo mismo."),
    ("No reproducible", "No se pudo reproducir el problema descrito."),
    ("Petición de contenido registrada", "La petición se trasladó al equipo de Contenido."),
)

REASONS = (
    ("Requiere experiencia técnica", "El problema supera el primer nivel de soporte."),
    ("Reembolso o excepción de facturación", "Hace falta aprobar un reembolso o una excepción."),
    ("Cliente VIP", "Cuenta con atención prioritaria."),
    ("Posible fraude o seguridad", "Indicios de acceso no autorizado o de pago fraudulento."),
    ("Incidencia general de servicio", "Afecta a muchos clientes a la vez."),
)

_SIGN_ES = "Un saludo,\n{{ agente.nombre }}\nEquipo de Soporte de Bayit+"
_SIGN_EN = "Kind regards,\n{{ agente.nombre }}\nBayit+ Support Team"

#: name, locale, category code, body
TEMPLATES = (
    ("Restablecimiento de Contraseña", "es", "acceso",
     "Hola {{ cliente.nombre }}:\n\nGracias por contactar con el soporte de Bayit+. Hemos "
     "recibido tu solicitud para restablecer la contraseña (ticket {{ ticket.numero }}).\n\n"
     "1. Abre el enlace que te acabamos de enviar por correo electrónico; es válido durante "
     "24 horas.\n2. Elige una contraseña nueva de al menos 8 caracteres.\n3. Vuelve a iniciar "
     "sesión en tus dispositivos con la contraseña nueva.\n\nPor seguridad hemos cerrado las "
     "sesiones abiertas en todos tus dispositivos. Si no has pedido este cambio, responde a "
     "este mensaje y revisaremos tu cuenta de inmediato.\n\n" + _SIGN_ES),
    ("Password reset", "en", "acceso",
     "Hi {{ cliente.nombre }},\n\nThank you for contacting Bayit+ Support. We have received "
     "your request to reset your password (ticket {{ ticket.numero }}).\n\n1. Open the link we "
     "have just emailed you; it is valid for 24 hours.\n2. Choose a new password of at least "
     "8 characters.\n3. Sign in again on your devices with the new password.\n\nFor your "
     "security we have signed you out of every device. If you did not ask for this change, "
     "reply to this message and we will review your account straight away.\n\n" + _SIGN_EN),
    ("Consulta de Facturación", "es", "facturacion",
     "Hola {{ cliente.nombre }}:\n\nGracias por escribirnos sobre tu facturación (ticket "
     "{{ ticket.numero }}). Hemos revisado los movimientos de tu cuenta de Bayit+.\n\nSi ves "
     "un cargo que no reconoces o un cargo duplicado, indícanos la fecha y el importe tal como "
     "aparecen en tu extracto bancario y lo revisaremos con el equipo de Facturación. Los "
     "reembolsos aprobados tardan entre 5 y 10 días hábiles en reflejarse, según tu banco.\n\n"
     "Puedes consultar tus facturas y cambiar el método de pago en Cuenta > Facturación.\n\n"
     + _SIGN_ES),
    ("Billing enquiry", "en", "facturacion",
     "Hi {{ cliente.nombre }},\n\nThank you for writing to us about your billing (ticket "
     "{{ ticket.numero }}). We have reviewed the activity on your Bayit+ account.\n\nIf you "
     "see a charge you do not recognise, or a duplicate charge, tell us its date and amount "
     "exactly as they appear on your bank statement and our Billing team will look into it. "
     "Approved refunds take 5 to 10 business days to appear, depending on your bank.\n\nYou "
     "can download your invoices and change your payment method under Account > Billing.\n\n"
     + _SIGN_EN),
    ("Soporte Técnico", "es", "reproduccion",
     "Hola {{ cliente.nombre }}:\n\nSentimos los problemas de reproducción (ticket "
     "{{ ticket.numero }}). Prueba estos pasos, por orden:\n\n1. Cierra la app de Bayit+ por "
     "completo y vuelve a abrirla.\n2. Comprueba que tienes instalada la última versión de la "
     "app.\n3. Reinicia el dispositivo y el router.\n4. Comprueba que tu conexión ofrece al "
     "menos 5 Mbps para HD y 25 Mbps para 4K.\n\nSi el problema continúa, respóndenos con el "
     "modelo del dispositivo, la versión de la app y el código de error que aparece en "
     "pantalla.\n\n" + _SIGN_ES),
    ("Technical support", "en", "reproduccion",
     "Hi {{ cliente.nombre }},\n\nWe are sorry about the playback trouble (ticket "
     "{{ ticket.numero }}). Please try these steps in order:\n\n1. Close the Bayit+ app "
     "completely and open it again.\n2. Make sure the latest version of the app is "
     "installed.\n3. Restart your device and your router.\n4. Check that your connection "
     "gives at least 5 Mbps for HD and 25 Mbps for 4K.\n\nIf the problem persists, reply "
     "with your device model, the app version and the error code shown on screen.\n\n"
     + _SIGN_EN),
    ("Solicitud de Contenido", "es", "contenido",
     "Hola {{ cliente.nombre }}:\n\nGracias por tu sugerencia (ticket {{ ticket.numero }}). "
     "Hemos registrado tu petición y la hemos trasladado al equipo de Contenido, que revisa "
     "cada mes las solicitudes de nuestros suscriptores.\n\nNo podemos garantizar que el "
     "título llegue al catálogo, porque depende de los derechos de emisión en tu país, pero "
     "te avisaremos por correo si se incorpora. Mientras tanto, puedes activar las "
     "notificaciones de novedades en Ajustes > Notificaciones.\n\n" + _SIGN_ES),
    ("Content request", "en", "contenido",
     "Hi {{ cliente.nombre }},\n\nThank you for your suggestion (ticket {{ ticket.numero }}). "
     "We have logged your request and passed it on to our Content team, who review our "
     "subscribers' requests every month.\n\nWe cannot promise the title will join the "
     "catalogue, since that depends on the broadcasting rights in your country, but we will "
     "email you if it is added. Meanwhile, you can turn on new-release notifications under "
     "Settings > Notifications.\n\n" + _SIGN_EN),
)

ROUTING_RULES = (
    {"name": "Reembolsos y cargos duplicados a Facturación", "position": 10,
     "keywords": "reembolso, cargo duplicado", "team": "Facturación",
     "priority_override": Priority.HIGH},
    {"name": "Urgencias telefónicas a Técnico", "position": 20, "channel": Channel.PHONE,
     "priority": Priority.URGENT, "team": "Técnico"},
    {"name": "Premium con problemas de reproducción", "position": 30, "plan": "Premium",
     "category": "reproduccion", "team": "Técnico", "strategy": Strategy.ROUND_ROBIN},
)

# --- Staff --------------------------------------------------------------------------------------


class StaffSpec(NamedTuple):
    email: str
    name: str
    role: Role
    teams: tuple[str, ...] = ()
    availability: Availability = Availability.AVAILABLE
    capacity: int = 12
    locale: str = "es"
    timezone: str = "Europe/Madrid"
    skills: tuple[str, ...] = ()


_A, _AW, _OFF = Availability.AVAILABLE, Availability.AWAY, Availability.OFFLINE
_MX, _AR = "America/Mexico_City", "America/Argentina/Buenos_Aires"

STAFF = (
    StaffSpec("admin@demo.bayit", "Ana Administradora", Role.ADMIN, capacity=10),
    StaffSpec("supervisor@demo.bayit", "Sergio Supervisor", Role.SUPERVISOR, capacity=10),
    StaffSpec("agente1@demo.bayit", "Lucía Fernández", Role.AGENT, ("Cuenta", "Técnico"),
              capacity=20),
    StaffSpec("agente2@demo.bayit", "Pablo Navarro", Role.AGENT, ("Facturación", "Contenido"),
              capacity=20),
    StaffSpec("javier.moreno@demo.bayit", "Javier Moreno", Role.AGENT, ("Cuenta",),
              capacity=15),
    StaffSpec("carmen.ruiz@demo.bayit", "Carmen Ruiz", Role.AGENT, ("Cuenta", "Facturación"),
              capacity=18),
    StaffSpec("diego.herrera@demo.bayit", "Diego Herrera", Role.AGENT, ("Cuenta",), _AW, 12),
    StaffSpec("valentina.castro@demo.bayit", "Valentina Castro", Role.AGENT, ("Cuenta",),
              capacity=14, timezone=_AR),
    StaffSpec("maria.ortega@demo.bayit", "María José Ortega", Role.AGENT, ("Facturación",),
              capacity=16),
    StaffSpec("andres.molina@demo.bayit", "Andrés Molina", Role.AGENT, ("Facturación",), _OFF,
              10),
    StaffSpec("sofia.delgado@demo.bayit", "Sofía Delgado", Role.AGENT, ("Facturación",),
              capacity=12, timezone=_MX),
    StaffSpec("alejandro.vega@demo.bayit", "Alejandro Vega", Role.AGENT, ("Técnico",),
              capacity=25),
    StaffSpec("laura.jimenez@demo.bayit", "Laura Jiménez", Role.AGENT, ("Técnico",),
              capacity=22),
    StaffSpec("mateo.romero@demo.bayit", "Mateo Romero", Role.AGENT, ("Técnico",), capacity=18,
              skills=("reproduccion",)),
    StaffSpec("daniela.sanchez@demo.bayit", "Daniela Sánchez", Role.AGENT, ("Técnico",), _AW,
              15, timezone=_MX),
    StaffSpec("hugo.martin@demo.bayit", "Hugo Martín", Role.AGENT, ("Técnico",), capacity=20,
              skills=("reproduccion", "dispositivos")),
    StaffSpec("camila.rojas@demo.bayit", "Camila Rojas", Role.AGENT, ("Técnico",), capacity=16,
              timezone=_AR, skills=("dispositivos",)),
    StaffSpec("tomas.iglesias@demo.bayit", "Tomás Iglesias", Role.AGENT, ("Técnico",), _OFF, 8),
    StaffSpec("rachel.cohen@demo.bayit", "Rachel Cohen", Role.AGENT, ("Técnico", "Cuenta"),
              capacity=14, locale="en"),
    StaffSpec("elena.garrido@demo.bayit", "Elena Garrido", Role.AGENT, ("Contenido",),
              capacity=15),
    StaffSpec("nicolas.pena@demo.bayit", "Nicolás Peña", Role.AGENT, ("Contenido",), _AW, 12,
              timezone=_AR),
    StaffSpec("emily.carter@demo.bayit", "Emily Carter", Role.AGENT, ("Contenido",),
              capacity=10, locale="en", timezone=_MX),
)

# --- Customers ----------------------------------------------------------------------------------

FIRST_NAMES = (
    "Lucía", "Sofía", "Martina", "María", "Paula", "Julia", "Valeria", "Daniela", "Carla",
    "Alba", "Noa", "Emma", "Sara", "Carmen", "Ana", "Isabel", "Laura", "Marta", "Elena",
    "Camila", "Valentina", "Florencia", "Catalina", "Ximena", "Renata", "Guadalupe", "Rocío",
    "Hugo", "Martín", "Lucas", "Mateo", "Leo", "Daniel", "Alejandro", "Pablo", "Manuel",
    "Álvaro", "Adrián", "David", "Mario", "Diego", "Javier", "Sergio", "Jorge", "Carlos",
    "Santiago", "Sebastián", "Matías", "Nicolás", "Joaquín", "Benjamín", "Emiliano", "Tomás",
    "Andrés", "Felipe", "Gabriel", "Rafael", "Miguel", "José", "Francisco",
)
SURNAMES = (
    "García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez",
    "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez",
    "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos",
    "Gil", "Ramírez", "Serrano", "Blanco", "Molina", "Morales", "Suárez", "Ortega", "Delgado",
    "Castro", "Ortiz", "Rubio", "Marín", "Sanz", "Núñez", "Iglesias", "Medina", "Garrido",
    "Cortés", "Castillo", "Santos", "Lozano", "Guerrero", "Cano", "Prieto", "Méndez", "Cruz",
    "Flores", "Herrera", "Peña", "León", "Vargas", "Rojas", "Cohen", "Levy", "Mizrahi",
    "Peretz", "Biton", "Friedman",
)
COUNTRIES = (("ES", 34), ("MX", 20), ("AR", 12), ("CO", 10), ("CL", 7), ("PE", 6), ("US", 7),
             ("IL", 4))
PHONE_PREFIX = {"ES": "+34 6", "MX": "+52 55 ", "AR": "+54 9 11 ", "CO": "+57 3", "CL": "+56 9 ",
                "PE": "+51 9", "US": "+1 305 ", "IL": "+972 5"}
EN_SHARE = {"US": 0.45, "IL": 0.5}
PLANS = (("Básico", 30), ("Estándar", 35), ("Premium", 22), ("Familiar", 13))
SUBSCRIPTION_STATES = (("activa", 76), ("en_prueba", 8), ("cancelada", 9), ("suspendida", 7))
BILLING_STATES = (("al_dia", 82), ("pago_pendiente", 8), ("tarjeta_rechazada", 6),
                  ("reembolsado", 4))
TV_DEVICES = frozenset({"Smart TV", "Chromecast", "Roku", "Fire TV", "Apple TV", "PlayStation 5",
                        "Xbox"})
DEVICES = ("Smart TV", "iPhone", "Android", "Chromecast", "Navegador web", "Roku", "Fire TV",
           "iPad", "Apple TV", "PlayStation 5", "Xbox")
MAIL_DOMAINS = ("example.com", "example.net", "example.org", "correo.example.com",
                "mail.example.net")
PRICES = {"Básico": 6.99, "Estándar": 10.99, "Premium": 15.99, "Familiar": 18.99}
CITIES = {"ES": ("Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao"),
          "MX": ("Ciudad de México", "Guadalajara", "Monterrey"),
          "AR": ("Buenos Aires", "Córdoba", "Rosario"), "CO": ("Bogotá", "Medellín", "Cali"),
          "CL": ("Santiago", "Valparaíso"), "PE": ("Lima", "Arequipa"),
          "US": ("Miami", "Nueva York", "Los Ángeles"), "IL": ("Tel Aviv", "Jerusalén", "Haifa")}

# --- Ticket text --------------------------------------------------------------------------------

TITLES = ("Noches de Jerusalén", "La casa del olivo", "Código Tel Aviv", "Kibutz",
          "El último verano en Haifa", "Frontera norte", "Los Mizrahi", "Operación Galilea",
          "Shabat en familia", "Mercado de Carmel", "Desierto rojo", "La promesa de Yael")
ERRORS = ("BP-1011", "E-403", "NET-2001", "DRM-77", "PLY-500", "AUTH-12")


class Issue(NamedTuple):
    """One kind of request: what the customer writes and what the agent answers."""

    subject: str
    problem: str
    first: str  # the agent's first answer, after the voice's `lead_first`
    close: str  # the confirmation that closes it, after the voice's `lead_close`
    note: str  # an internal note (always Spanish: the team's language)
    closing: str  # the ticket's closing notes (Spanish)
    refund: bool = False  # mentions a refund or a duplicate charge (the keyword rule)
    tv: bool = False  # happens on a television: {device} is one of the customer's TV devices


ISSUES_ES = {
    "acceso": (
        Issue("No puedo iniciar sesión en mi {device}",
              "Desde ayer no consigo entrar en mi cuenta desde el {device}. Pongo el correo y "
              "la contraseña correctos, pero me dice que los datos no son válidos.",
              "hemos comprobado que tu cuenta está activa. Cierra sesión en la app del "
              "{device}, borra su caché y vuelve a entrar con tu correo y tu contraseña.",
              "ya puedes iniciar sesión con normalidad en tu {device}.",
              "Cuenta activa; varios intentos fallidos desde {device} con una contraseña "
              "antigua guardada.",
              "Resuelto al borrar la caché de la app y volver a iniciar sesión."),
        Issue("No me llega el correo para restablecer la contraseña",
              "He pedido tres veces el enlace para cambiar la contraseña y no me llega nada, "
              "ni siquiera en la carpeta de spam.",
              "te hemos enviado un enlace nuevo para restablecer la contraseña; es válido "
              "durante 24 horas. Revisa también la carpeta de promociones.",
              "ya has podido cambiar la contraseña y acceder a tu cuenta.",
              "El proveedor de correo del cliente filtraba nuestros envíos; enlace reenviado "
              "a mano.",
              "Contraseña restablecida con un enlace reenviado a mano."),
        Issue("Mi cuenta aparece bloqueada",
              "Al intentar entrar me sale el mensaje «Cuenta bloqueada temporalmente». No he "
              "hecho nada raro, solo ver series en casa.",
              "la cuenta se bloqueó por varios intentos de acceso fallidos. Ya la hemos "
              "desbloqueado; te recomendamos cambiar la contraseña.",
              "tu cuenta vuelve a estar desbloqueada y operativa.",
              "Bloqueo automático por intentos fallidos; sin indicios de fraude.",
              "Cuenta desbloqueada; se recomienda la verificación en dos pasos."),
        Issue("Creo que alguien ha entrado en mi cuenta",
              "Me ha llegado un correo diciendo que se cambió mi contraseña y yo no he sido. "
              "Además, en «Seguir viendo» aparecen series que no conozco.",
              "hemos cerrado todas las sesiones abiertas y te hemos enviado un enlace para "
              "elegir una contraseña nueva.",
              "hemos recuperado tu cuenta, eliminado los dispositivos desconocidos y activado "
              "la verificación en dos pasos.",
              "Accesos desde una ubicación que el cliente no reconoce. Sesiones cerradas.",
              "Cuenta recuperada; sesiones cerradas y verificación en dos pasos activada."),
        Issue("No recibo el código de verificación",
              "Al iniciar sesión en el {device} me pide un código de verificación, pero el SMS "
              "nunca llega a mi móvil.",
              "hemos reenviado el código y comprobado el número de móvil de tu cuenta. Si no "
              "llega en unos minutos, puedes pedir que te lo enviemos por correo.",
              "ya recibes correctamente los códigos de verificación.",
              "El móvil tenía mal guardado el prefijo del país.",
              "Corregido el prefijo del móvil; el SMS llega con normalidad."),
        Issue("Quiero cambiar el correo de mi cuenta",
              "Ya no uso el correo con el que me registré y quiero cambiarlo por otro, pero no "
              "encuentro la opción en la app.",
              "puedes cambiarlo en la web, en Cuenta > Datos personales; la app todavía no "
              "tiene esa opción. Te llegará un correo de confirmación a la dirección nueva.",
              "el correo de tu cuenta ya está actualizado.",
              "Titular verificado con los datos de pago antes del cambio de correo.",
              "Correo de la cuenta actualizado tras verificar al titular."),
        Issue("Se me cierra la sesión en el {device}",
              "Cada vez que apago el {device} tengo que volver a iniciar sesión. Es muy "
              "incómodo.",
              "es un fallo conocido de la versión anterior de la app para {device}. "
              "Actualízala desde la tienda de aplicaciones y la sesión se mantendrá.",
              "tras actualizar la app, la sesión ya se mantiene en tu {device}.",
              "Fallo conocido de la app en {device}, corregido en la última versión.",
              "Resuelto al actualizar la app."),
    ),
    "facturacion": (
        Issue("Me han cobrado dos veces este mes",
              "Revisando el extracto del banco veo dos cargos de {amount} de Bayit+ el mismo "
              "día. Es un cargo duplicado y quiero que me devolváis uno.",
              "vemos los dos cargos de {amount} y uno de ellos es un duplicado. Hemos pedido "
              "el reembolso al equipo de Facturación.",
              "hemos emitido el reembolso de {amount}; lo verás en tu cuenta en un plazo de 5 "
              "a 10 días hábiles.",
              "Comprobado en la pasarela: el cargo de {amount} aparece duplicado. Pendiente de "
              "aprobar el reembolso.",
              "Reembolso del cargo duplicado aprobado.", True),
        Issue("Solicito el reembolso de la última mensualidad",
              "Cancelé la suscripción hace unos días, pero me habéis cobrado igualmente "
              "{amount}. Solicito el reembolso de ese importe.",
              "la cancelación se registró después de la fecha de renovación y por eso se "
              "generó el cobro. Estamos revisando una excepción para devolverte el importe.",
              "hemos aprobado el reembolso de {amount} como excepción; lo recibirás en 5 a 10 "
              "días hábiles.",
              "Cancelación registrada un día después de la renovación; propongo reembolso "
              "como excepción.",
              "Reembolso aprobado como excepción por cancelación tardía.", True),
        Issue("Mi tarjeta aparece como rechazada",
              "La app me dice que no se ha podido procesar el pago y que actualice el método de "
              "pago, pero la tarjeta funciona perfectamente en otras tiendas.",
              "el banco rechazó el último cobro. Actualiza los datos de la tarjeta en Cuenta > "
              "Facturación; si vuelve a fallar, consulta con tu banco los pagos en línea.",
              "el pago se ha procesado correctamente y tu suscripción está al día.",
              "El banco devolvió el cobro con el motivo «pagos en línea no autorizados».",
              "Método de pago actualizado; cobro procesado."),
        Issue("No entiendo el importe de mi factura",
              "Tengo el plan {plan} y este mes me habéis cobrado {amount}, más de lo habitual. "
              "¿Me podéis explicar el motivo?",
              "el importe incluye la subida de precio del plan {plan} que comunicamos por "
              "correo el mes pasado. Te enviamos el desglose de la factura.",
              "te hemos enviado el desglose completo y no hay ningún error en el cobro.",
              "Cobro correcto: primer mes con la tarifa nueva del plan {plan}.",
              "Explicado el desglose de la factura; sin error de cobro."),
        Issue("Quiero cambiar a un plan más barato",
              "Me gustaría pasar del plan {plan} a uno más económico. ¿Cómo lo hago y cuándo se "
              "aplica el cambio?",
              "puedes cambiar de plan en Cuenta > Plan. El cambio se aplica en la próxima "
              "renovación y hasta entonces conservas el plan {plan}.",
              "hemos programado el cambio de plan para tu próxima renovación.",
              "Quiere bajar de plan por precio; le ofrezco el plan Básico.",
              "Cambio de plan programado para la siguiente renovación."),
        Issue("Necesito facturas a nombre de mi empresa",
              "Para deducir el gasto necesito las facturas de los últimos meses con los datos "
              "fiscales de mi empresa.",
              "puedes añadir los datos fiscales en Cuenta > Facturación y las facturas nuevas "
              "saldrán a nombre de tu empresa. Las anteriores te las volvemos a emitir "
              "nosotros.",
              "te hemos enviado por correo las facturas de los últimos meses con los datos de "
              "tu empresa.",
              "Pedidas a Facturación las facturas con los datos fiscales de la empresa.",
              "Facturas reemitidas con los datos fiscales de la empresa."),
    ),
    "reproduccion": (
        Issue("Las películas se quedan cargando en el {device}",
              "Cuando intento ver «{title}» en el {device}, la imagen se queda cargando y no "
              "avanza.",
              "prueba a cerrar la app por completo, actualizarla a la última versión y "
              "reiniciar el {device} y el router.",
              "tras actualizar la app y reiniciar el router, la reproducción funciona con "
              "normalidad.",
              "Puede estar relacionado con la incidencia de la CDN de esta mañana.",
              "Resuelto al actualizar la app y reiniciar el router."),
        Issue("Error {error} al reproducir",
              "Al darle a reproducir cualquier capítulo de «{title}» me aparece el error {error} "
              "y vuelve al menú.",
              "el error {error} indica que la licencia de reproducción guardada en el "
              "dispositivo está caducada. Cierra sesión, vuelve a entrar y prueba de nuevo.",
              "el error {error} ya no aparece y «{title}» se reproduce correctamente.",
              "Error {error} reproducido en laboratorio con {device}; paso el caso a nivel 2.",
              "Licencia de reproducción renovada; error corregido."),
        Issue("La imagen se ve pixelada",
              "Tengo el plan {plan}, pero «{title}» se ve con muy mala calidad, muy pixelado, "
              "aunque tengo fibra.",
              "la calidad se ajusta a la velocidad de tu conexión. Comprueba en Ajustes > "
              "Reproducción que la calidad está en «Automática» o «Alta».",
              "«{title}» ya se ve en alta definición en tu {device}.",
              "El perfil del cliente tenía la calidad limitada a «Ahorro de datos».",
              "Ajustada la calidad de reproducción del perfil."),
        Issue("El audio va desincronizado",
              "Viendo «{title}» el sonido va unos segundos por detrás de la imagen. Me pasa en "
              "el {device}.",
              "desactiva el sonido envolvente en los ajustes de audio del {device} y vuelve a "
              "reproducir el capítulo.",
              "el audio de «{title}» ya va sincronizado con la imagen.",
              "Desfase de audio conocido con sonido envolvente en {device}.",
              "Resuelto desactivando el sonido envolvente."),
        Issue("No aparecen los subtítulos",
              "Activo los subtítulos en español en «{title}», pero no se muestran en el "
              "{device}.",
              "hemos detectado un problema con la pista de subtítulos de «{title}» y el equipo "
              "técnico ya lo está corrigiendo.",
              "hemos corregido los subtítulos de «{title}»; ya aparecen en todos los "
              "dispositivos.",
              "Pista de subtítulos en español de «{title}» mal etiquetada.",
              "Subtítulos corregidos en la ficha del título."),
        Issue("Se corta la reproducción cada pocos minutos",
              "La reproducción se detiene cada cinco o diez minutos y tengo que volver a darle "
              "al play. El resto de aplicaciones van bien.",
              "si puedes, conecta el {device} al router por cable o acércalo a él, y comprueba "
              "que ningún otro dispositivo está descargando a la vez.",
              "la reproducción ya no se corta tras mejorar la conexión del {device}.",
              "Cortes compatibles con una wifi inestable; sin incidencias en nuestra red.",
              "Resuelto al mejorar la conexión del cliente."),
    ),
    "dispositivos": (
        Issue("La app no se abre en mi {device}",
              "Desde la última actualización la app de Bayit+ se cierra nada más abrirla en el "
              "{device}.",
              "desinstala la app del {device}, reinícialo y vuelve a instalarla desde la "
              "tienda de aplicaciones.",
              "la app ya se abre correctamente en tu {device}.",
              "Fallo de la última versión de la app en {device}; la corrección está en camino.",
              "App reinstalada; funciona correctamente."),
        Issue("No puedo añadir un dispositivo nuevo",
              "Al intentar activar Bayit+ en el {device} me dice que he alcanzado el límite de "
              "dispositivos de mi plan {plan}.",
              "tu plan {plan} admite un número máximo de dispositivos. Puedes dar de baja los "
              "que ya no uses en Cuenta > Dispositivos.",
              "hemos liberado un hueco y tu {device} ya está activado.",
              "El cliente tiene el máximo de dispositivos del plan {plan}.",
              "Dispositivo antiguo dado de baja para liberar un hueco."),
        Issue("No encuentro la app en mi {device}",
              "Busco Bayit+ en la tienda de aplicaciones del {device} y no aparece.",
              "la app de Bayit+ está disponible para {device}, pero solo con el sistema "
              "actualizado. Comprueba si tienes una actualización pendiente.",
              "tras actualizar el sistema, la app ya aparece en la tienda de tu {device}.",
              "{device} con un sistema antiguo; la app necesita una versión más reciente.",
              "App instalada tras actualizar el sistema del dispositivo."),
        Issue("El código de activación de la tele no funciona",
              "Introduzco en la web el código que aparece en el {device}, pero me dice que ha "
              "caducado.",
              "los códigos de activación caducan a los 15 minutos. Pide uno nuevo desde el "
              "{device} e introdúcelo enseguida en la página de activación.",
              "tu {device} ya está activado.",
              "El reloj del {device} estaba desajustado; por eso el código salía caducado.",
              "Activación completada con un código nuevo.", tv=True),
        Issue("No puedo enviar vídeo a la tele desde el móvil",
              "Cuando le doy al icono para enviar a la televisión no aparece mi {device} en la "
              "lista.",
              "el móvil y el {device} tienen que estar en la misma red wifi. Comprueba también "
              "que la app está actualizada en los dos.",
              "ya puedes enviar vídeo desde el móvil a tu {device}.",
              "Móvil y {device} conectados a redes wifi distintas (2,4 y 5 GHz).",
              "Resuelto al conectar ambos dispositivos a la misma red.", tv=True),
    ),
    "contenido": (
        Issue("No encuentro la serie «{title}»",
              "Antes podía ver «{title}» y ahora no aparece en el catálogo. ¿La habéis "
              "retirado?",
              "«{title}» dejó el catálogo de tu país al terminar la licencia. Hemos trasladado "
              "tu interés al equipo de Contenido.",
              "hemos registrado tu interés en «{title}»; te avisaremos si vuelve al catálogo.",
              "Título retirado por fin de licencia en su región.",
              "Informado del fin de la licencia; petición registrada."),
        Issue("¿Cuándo llega la nueva temporada de «{title}»?",
              "Me he terminado la última temporada de «{title}» y me gustaría saber si vais a "
              "estrenar la siguiente.",
              "la nueva temporada de «{title}» está confirmada; publicaremos la fecha de "
              "estreno en la sección Próximamente.",
              "te hemos apuntado para avisarte el día del estreno de la nueva temporada de "
              "«{title}».",
              "Estreno previsto para el próximo trimestre.",
              "Informado de la fecha de estreno de la nueva temporada."),
        Issue("Falta el doblaje al español de «{title}»",
              "«{title}» solo está en versión original con subtítulos. ¿Está previsto el "
              "doblaje al español?",
              "el doblaje de «{title}» está en producción. Mientras tanto puedes verla en "
              "versión original con subtítulos en español.",
              "hemos registrado tu petición de doblaje de «{title}».",
              "Añadido a la lista mensual de peticiones de doblaje.",
              "Petición de doblaje registrada."),
        Issue("Petición: más cine israelí",
              "Me encantaría que añadierais más cine israelí y documentales con subtítulos en "
              "español.",
              "hemos trasladado tu sugerencia al equipo de Contenido, que revisa cada mes las "
              "peticiones de los suscriptores.",
              "tu sugerencia ha quedado registrada para el comité de catálogo.",
              "Añadido a la lista mensual de peticiones de catálogo.",
              "Petición registrada para el comité de catálogo."),
        Issue("«{title}» no está disponible en mi país",
              "Me aparece que «{title}» no está disponible en mi región, aunque una amiga de "
              "otro país sí puede verla.",
              "los derechos de «{title}» cambian según el país y todavía no los tenemos en el "
              "tuyo.",
              "hemos registrado tu petición; te avisaremos si «{title}» llega a tu país.",
              "Sin derechos de emisión en el país del cliente.",
              "El título no tiene derechos en la región del cliente."),
    ),
    "otros": (
        Issue("Dudas sobre el plan Familiar",
              "¿Cuántos perfiles puedo crear con el plan Familiar y en cuántas pantallas se "
              "puede ver a la vez?",
              "el plan Familiar permite hasta seis perfiles y cuatro pantallas a la vez.",
              "hemos resuelto tus dudas sobre el plan Familiar.",
              "Consulta informativa, sin incidencia técnica.",
              "Consulta sobre planes respondida."),
        Issue("Quiero darme de baja",
              "Quiero cancelar mi suscripción. ¿Qué pasos tengo que seguir y hasta cuándo "
              "podré seguir viendo contenido?",
              "puedes cancelar en Cuenta > Plan > Cancelar suscripción. Seguirás teniendo "
              "acceso hasta el final del periodo ya pagado.",
              "hemos tramitado la baja; tendrás acceso hasta el final del periodo pagado.",
              "Motivo de la baja: precio. Le ofrezco el plan Básico; no le interesa.",
              "Baja tramitada a petición del cliente."),
        Issue("Cómo configurar el control parental",
              "¿Cómo puedo crear un perfil infantil con control parental para mis hijos?",
              "en Perfiles > Añadir perfil puedes crear un perfil infantil y fijar una edad "
              "máxima y un PIN.",
              "el perfil infantil ha quedado configurado con control parental.",
              "Consulta informativa; enviado el artículo de ayuda sobre perfiles infantiles.",
              "Perfil infantil configurado con el cliente."),
        Issue("Sugerencia para la app",
              "Estaría bien poder descargar capítulos en el {device} para verlos sin conexión.",
              "hemos trasladado tu sugerencia al equipo de producto. Las descargas sin conexión "
              "ya están disponibles en iPhone y Android.",
              "tu sugerencia ha quedado registrada para el equipo de producto.",
              "Sugerencia de producto: descargas en {device}.",
              "Sugerencia trasladada al equipo de producto."),
    ),
}


def _en(code: str, index: int, subject: str, problem: str, first: str, close: str) -> Issue:
    """An English issue; its internal notes stay the Spanish ones (the team's language)."""
    return ISSUES_ES[code][index]._replace(subject=subject, problem=problem, first=first,
                                           close=close, refund=False)


ISSUES_EN = {
    "acceso": (
        _en("acceso", 0, "I can't sign in on my {device}",
            "Since yesterday I can't sign in on my {device}. My email and password are "
            "correct, but it says the details are not valid.",
            "your account is active. Sign out of the app on your {device}, clear its cache "
            "and sign in again with your email and password.",
            "you can now sign in normally on your {device}."),
        _en("acceso", 1, "Password reset email never arrives",
            "I have asked for the password reset link three times and nothing arrives, not "
            "even in my spam folder.",
            "we have sent you a new password reset link, valid for 24 hours. Please check "
            "your promotions folder too.",
            "you have reset your password and can access your account again."),
    ),
    "facturacion": (
        _en("facturacion", 0, "I was charged twice this month",
            "My bank statement shows two charges of {amount} from Bayit+ on the same day. "
            "Please refund the duplicate one.",
            "we can see both charges of {amount} and one of them is a duplicate. We have "
            "asked our Billing team to refund it.",
            "we have issued the refund of {amount}; it will show in 5 to 10 business days."),
        _en("facturacion", 2, "My card is being declined",
            "The app says my payment could not be processed, but the card works fine "
            "everywhere else.",
            "your bank declined the last payment. Please update your card under Account > "
            "Billing; if it fails again, ask your bank about online payments.",
            "the payment went through and your subscription is up to date."),
    ),
    "reproduccion": (
        _en("reproduccion", 0, "Videos keep buffering on my {device}",
            "When I try to watch «{title}» on my {device} it keeps buffering and never "
            "starts.",
            "please close the app completely, update it and restart your {device} and "
            "router.",
            "after updating the app and restarting the router, playback works normally."),
        _en("reproduccion", 1, "Error {error} when I press play",
            "Every episode of «{title}» shows error {error} and goes back to the menu.",
            "error {error} means the playback licence stored on your device has expired. "
            "Sign out, sign in again and try once more.",
            "error {error} no longer appears and «{title}» plays correctly."),
    ),
    "dispositivos": (
        _en("dispositivos", 0, "The app crashes on my {device}",
            "Since the last update the Bayit+ app closes as soon as I open it on my "
            "{device}.",
            "please uninstall the app from your {device}, restart it and install the app "
            "again.",
            "the app now opens correctly on your {device}."),
    ),
    "contenido": (
        _en("contenido", 0, "Where is «{title}»?",
            "I used to watch «{title}» and it is gone from the catalogue. Was it removed?",
            "«{title}» left the catalogue in your country when its licence ended. We have "
            "passed your interest on to our Content team.",
            "we have logged your interest in «{title}» and will tell you if it comes back."),
        _en("contenido", 2, "Please add English subtitles to «{title}»",
            "«{title}» only has Spanish and Hebrew subtitles. Could you add English ones?",
            "we have asked our Content team to add English subtitles to «{title}».",
            "your subtitle request for «{title}» is logged."),
    ),
    "otros": (
        _en("otros", 0, "Question about the Family plan",
            "How many profiles can I create on the Family plan, and how many screens can "
            "watch at once?",
            "the Family plan allows up to six profiles and four screens at once.",
            "we have answered your questions about the Family plan."),
    ),
}


@dataclass(frozen=True)
class Voice:
    """Everything said in one language around the issues: greetings, questions, follow-ups."""

    issues: dict[str, tuple[Issue, ...]]
    greetings: tuple[str, ...]
    details: dict[str, tuple[str, ...]]
    signoffs: tuple[str, ...]
    ask: dict[str, str]
    answer: dict[str, str]
    follow: tuple[str, ...]
    close_special: dict[str, str]
    hello: str
    lead_first: str
    lead_ask: str
    lead_close: str
    resolved_line: str
    sign: str


_TECH_ES = ("Ya he probado a reiniciar el {device} y sigue igual.", "Os escribo desde el "
            "{device}.", "Es la segunda vez que os escribo por esto.", "")
_TECH_EN = ("I have already restarted my {device}.", "This is the second time I write.", "")

ES = Voice(
    issues=ISSUES_ES,
    greetings=("Hola,", "Buenas tardes,", "Buenos días,", "Hola, buenas.",
               "Hola, equipo de Bayit+:"),
    details={
        "acceso": ("Es la segunda vez que os escribo por esto.",
                   "Lo necesito para seguir viendo mis series.", ""),
        "facturacion": ("Tengo el plan {plan}.", "Soy cliente desde hace años y nunca me "
                        "había pasado.", "Espero vuestra respuesta pronto.", ""),
        "reproduccion": _TECH_ES, "dispositivos": _TECH_ES,
        "contenido": ("Soy cliente del plan {plan} desde hace tiempo.", ""),
        "otros": ("Gracias de antemano.", ""),
    },
    signoffs=("Un saludo,", "Gracias,", "Saludos cordiales,", "Quedo a la espera.",
              "Muchas gracias por la ayuda."),
    ask={
        "acceso": "¿podrías confirmarnos cuándo te diste de alta y los últimos cuatro dígitos "
                  "de la tarjeta asociada? Así verificamos que eres el titular.",
        "facturacion": "¿podrías enviarnos la fecha y el importe exactos del cargo tal como "
                       "aparecen en tu extracto bancario?",
        "reproduccion": "¿nos indicas el modelo de tu {device}, la versión de la app y la "
                        "velocidad de tu conexión?",
        "dispositivos": "¿nos dices el modelo exacto del {device} y la versión de su sistema?",
        "contenido": "¿desde qué país y con qué dispositivo buscas el título?",
        "otros": "¿nos das algún detalle más para poder ayudarte mejor?",
    },
    answer={
        "acceso": "Me di de alta hace unos años y la tarjeta termina en {digits}.",
        "facturacion": "El cargo es de {amount} y aparece en el extracto con fecha de la "
                       "semana pasada.",
        "reproduccion": "Es un {device}, la app está actualizada y tengo fibra de 300 Mb.",
        "dispositivos": "Es un {device} de hace dos años, con el sistema actualizado.",
        "contenido": "Lo busco desde el {device}, aquí en {city}.",
        "otros": "Somos cuatro en casa y queremos saber qué nos conviene más.",
    },
    follow=("Lo he probado y sigue pasando lo mismo.", "Gracias, ahora mismo lo compruebo.",
            "¿Hay alguna novedad? Sigo igual.", "Vale, lo pruebo esta noche y os digo."),
    close_special={
        "Sin respuesta del cliente": "Como no hemos recibido respuesta, cerramos el ticket. "
                                     "Si lo necesitas, responde a este mensaje y lo "
                                     "reabriremos.",
        "Duplicado": "Ya estamos tratando esta consulta en otro ticket tuyo, así que cerramos "
                     "este para no duplicar la conversación.",
        "No reproducible": "No hemos podido reproducir el problema en nuestras pruebas. Si "
                           "vuelve a pasar, responde a este mensaje con una captura.",
    },
    hello="Hola, {first}:",
    lead_first="Gracias por escribirnos; ",
    lead_ask="Para poder revisarlo, ",
    lead_close="Te confirmamos que ",
    resolved_line="Damos por resuelto el ticket #{ticket}. Si necesitas algo más, responde a "
                  "este mensaje.",
    sign="Un saludo,\n{agent}\nEquipo de Soporte de Bayit+",
)

EN = Voice(
    issues=ISSUES_EN,
    greetings=("Hello,", "Hi,", "Hi there,", "Good morning,"),
    details={
        "acceso": ("This is the second time I write.", ""),
        "facturacion": ("I'm on the {plan} plan.", ""),
        "reproduccion": _TECH_EN, "dispositivos": _TECH_EN,
        "contenido": ("I'm on the {plan} plan.", ""), "otros": ("Thanks in advance.", ""),
    },
    signoffs=("Thanks,", "Best regards,", "Thank you for your help,"),
    ask={
        "acceso": "could you confirm when you opened the account and the last four digits of "
                  "your card?",
        "facturacion": "could you send us the exact date and amount of the charge?",
        "reproduccion": "could you tell us your {device} model, the app version and your "
                        "connection speed?",
        "dispositivos": "could you tell us the exact {device} model and its system version?",
        "contenido": "which country are you in, and which device are you using?",
        "otros": "could you give us a few more details?",
    },
    answer={
        "acceso": "I opened it a few years ago and the card ends in {digits}.",
        "facturacion": "It's {amount}, dated last week on my statement.",
        "reproduccion": "I watch on my {device}; the app is up to date and I have 300 Mb "
                        "fibre.",
        "dispositivos": "It's a two-year-old {device} with the latest system.",
        "contenido": "I'm in {city}, using my {device}.",
        "otros": "There are four of us at home and we want the best option.",
    },
    follow=("I tried that and it still happens.", "Thanks, I'll check now.",
            "Any news? Still the same."),
    close_special={
        "Sin respuesta del cliente": "As we have not heard back, we are closing this ticket. "
                                     "Just reply to reopen it.",
        "Duplicado": "We are handling this in another ticket of yours, so we are closing this "
                     "one.",
        "No reproducible": "We could not reproduce the problem. If it happens again, reply "
                           "with a screenshot.",
    },
    hello="Hi {first},",
    lead_first="Thanks for writing to us: ",
    lead_ask="To look into this, ",
    lead_close="We can confirm that ",
    resolved_line="We are marking ticket #{ticket} as resolved; just reply if you need anything "
                  "else.",
    sign="Kind regards,\n{agent}\nBayit+ Support Team",
)

VOICES = {"es": ES, "en": EN}

RATING_COMMENTS = {
    5: ("¡Rapidísimos y muy amables!", "Me lo solucionaron a la primera.", "Excelente atención.",
        None, None),
    4: ("Bien, aunque tardaron un poco.", "Buena atención.", None, None),
    3: ("Se resolvió, pero tuve que insistir.", None, None),
    2: ("Tardaron demasiado en responder.", "Me pidieron los mismos datos dos veces."),
    1: ("No me resolvieron nada.", "Muy mala experiencia."),
}


class Weighted:
    """Pick among items with relative weights from one random number (bisect, no allocation)."""

    def __init__(self, pairs):
        self.items = [item for item, _w in pairs]
        self.cumulative = list(itertools.accumulate(weight for _i, weight in pairs))
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


PICK_STATUS = Weighted(((TicketStatus.NEW, 10), (TicketStatus.OPEN, 25),
                        (TicketStatus.PENDING, 15), (TicketStatus.RESOLVED, 50)))
PICK_PRIORITY = Weighted(((Priority.URGENT, 5), (Priority.HIGH, 20), (Priority.NORMAL, 55),
                          (Priority.LOW, 20)))
PICK_CHANNEL = Weighted(((Channel.EMAIL, 35), (Channel.WEB, 25), (Channel.CHAT, 20),
                         (Channel.PHONE, 10), (Channel.APP, 10)))
PICK_CATEGORY = Weighted((("acceso", 22), ("facturacion", 20), ("reproduccion", 25),
                          ("dispositivos", 15), ("contenido", 12), ("otros", 6)))
PICK_RESOLUTION = Weighted((("Solucionado", 68), ("Solución alternativa", 12),
                            ("Sin respuesta del cliente", 8), ("Duplicado", 5),
                            ("No reproducible", 7)))
PICK_SCORE = Weighted(((5, 46), (4, 30), (3, 12), (2, 7), (1, 5)))
PICK_SCORE_LATE = Weighted(((5, 22), (4, 30), (3, 22), (2, 15), (1, 11)))
PICK_COUNTRY = Weighted(COUNTRIES)
PICK_PLAN = Weighted(PLANS)
PICK_SUBSCRIPTION = Weighted(SUBSCRIPTION_STATES)
PICK_BILLING = Weighted(BILLING_STATES)
PICK_EVENT = Weighted((("pago", 40), ("inicio_sesion", 30), ("dispositivo_nuevo", 15),
                       ("cambio_plan", 15)))
TECHNICAL = frozenset({"reproduccion", "dispositivos"})
DAY = 86_400


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return folded.lower().replace(" ", "")


ASCII_NAMES = {name: _ascii(name) for name in FIRST_NAMES + SURNAMES}


def _money(amount: float, country: str) -> str:
    if country == "ES":
        return f"{amount:.2f} €".replace(".", ",")
    return f"US$ {amount:.2f}"


# --- Public API ---------------------------------------------------------------------------------


def has_data() -> bool:
    """True if any staff account exists (the demo loads only into an empty database)."""
    return db.session.scalar(select(User.id).limit(1)) is not None


def seed_reference(now: datetime | None = None) -> dict:
    """Create the reference rows a working helpdesk needs (missing ones only); commits; ids."""
    with workflows.atomic():
        return _reference((now or rules.utcnow()).year)


def seed(tickets: int = 2000, seed: int = 42, progress: bool = False, *,
         now: datetime | None = None) -> dict:
    """Load the demo dataset into an empty database, in one transaction; counts and seconds."""
    started = time.perf_counter()
    if has_data():
        raise DomainError(_("La base de datos ya tiene datos; la demo necesita una base vacía."))
    now = (now or rules.utcnow()).astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    with workflows.atomic():
        ref = _reference(now.year)
        staff = _seed_staff(now)
        plan = _plan(rng, now, ref, staff)
        _seed_customers(plan, max(50, tickets // 4))
        messages = _seed_tickets(plan, tickets, progress)
        for user in staff:
            user.last_assigned_at = plan.last_assigned.get(user.id)
        db.session.flush()
        _reset_sequences()
    with db.engine.begin() as conn:  # planner statistics: the queue's plans depend on them
        conn.exec_driver_sql("ANALYZE")
    return {"tickets": tickets, "customers": len(plan.customers),
            "agents": sum(spec.role is Role.AGENT for spec in STAFF),
            "seconds": round(time.perf_counter() - started, 2), "messages": messages}


# --- Reference rows -----------------------------------------------------------------------------


def _ensure(model, lookup: dict, **values):
    """The row matching `lookup`, or a new one with `values` added to the session."""
    row = db.session.scalar(select(model).filter_by(**lookup))
    if row is None:
        row = model(**lookup, **values)
        db.session.add(row)
    return row


def _reference(year: int) -> dict:
    teams = {name: _ensure(Team, {"name": name}, description=description, email=email,
                           strategy=strategy)
             for name, description, email, strategy in TEAMS}
    categories = {code: _ensure(Category, {"code": code}, name=name, description=description,
                                default_team=teams[team])
                  for code, name, team, description in CATEGORIES}
    for priority, (first, resolution) in SLA_TARGETS.items():
        _ensure(SlaPolicy, {"priority": priority}, first_response_minutes=first,
                resolution_minutes=resolution)
    calendar = _calendar(year)
    resolutions = {name: _ensure(ResolutionCategory, {"name": name}, description=text_)
                   for name, text_ in RESOLUTIONS}
    reasons = {name: _ensure(EscalationReason, {"name": name}, description=text_)
               for name, text_ in REASONS}
    for name, locale, code, body in TEMPLATES:
        _ensure(ResponseTemplate, {"name": name, "locale": locale}, category=categories[code],
                body=body)
    for spec in ROUTING_RULES:
        _routing_rule(spec, teams, categories)
    db.session.flush()
    _ensure(Setting, {"key": "routing.default_team_id"}, value=teams["Cuenta"].id)
    db.session.flush()
    return {
        "teams": {name: team.id for name, team in teams.items()},
        "categories": {code: category.id for code, category in categories.items()},
        "resolution_categories": {name: row.id for name, row in resolutions.items()},
        "escalation_reasons": {name: row.id for name, row in reasons.items()},
        "calendar": calendar.id,
    }


def _calendar(year: int) -> BusinessCalendar:
    calendar = _ensure(BusinessCalendar, {"name": CALENDAR_NAME}, timezone="Europe/Madrid",
                       hours=OFFICE_HOURS)
    known = {holiday.day for holiday in calendar.holidays}
    for day in (date(y, month, d) for y in (year, year + 1) for month, d, _n in HOLIDAYS):
        if day not in known:
            name = next(n for m, d, n in HOLIDAYS if (m, d) == (day.month, day.day))
            calendar.holidays.append(Holiday(day=day, name=name))
    return calendar


def _routing_rule(spec: dict, teams: dict, categories: dict) -> RoutingRule:
    values = {key: value for key, value in spec.items() if key not in ("name", "team",
                                                                        "category")}
    if "category" in spec:
        values["category"] = categories[spec["category"]]
    return _ensure(RoutingRule, {"name": spec["name"]}, team=teams[spec["team"]], **values)


# --- Staff --------------------------------------------------------------------------------------


def _seed_staff(now: datetime) -> list[User]:
    password_hash = workflows.hash_password(DEMO_PASSWORD)  # scrypt is slow: hash once
    teams = {team.name: team for team in db.session.scalars(select(Team))}
    categories = {c.code: c for c in db.session.scalars(select(Category))}
    since = now - timedelta(days=400)
    users = [
        User(email=spec.email, name=spec.name, role=spec.role, active=True, locale=spec.locale,
             timezone=spec.timezone, availability=spec.availability, capacity=spec.capacity,
             password_hash=password_hash, teams=[teams[name] for name in spec.teams],
             skills=[categories[code] for code in spec.skills], created_at=since,
             updated_at=since)
        for spec in STAFF
    ]
    supervisor = next(user for user in users if user.role is Role.SUPERVISOR)
    supervisor.supervised_teams = [teams[name] for name, *_rest in TEAMS]
    db.session.add_all(users)
    db.session.flush()
    return users


# --- The generation plan ------------------------------------------------------------------------


class Cust(NamedTuple):
    id: int
    first: str
    name: str
    locale: str
    plan: str
    country: str
    devices: tuple[str, ...]
    amount: str


@dataclass
class Plan:
    """What generation needs: the dice, the clock, reference ids and the id counters."""

    rng: random.Random
    now: datetime
    warn_share: float
    categories: dict[str, int]
    default_team: dict[str, int]
    strategy: dict[int, str]
    targets: dict[Priority, tuple[int, int]]
    resolutions: dict[str, int]
    reasons: dict[str, int]
    rule_specs: list[rules.RuleSpec]
    members: dict[int, list[tuple[int, str, frozenset[str]]]]
    supervisor: tuple[int, str]
    ids: dict[str, itertools.count]
    customers: list[Cust] = field(default_factory=list)
    pools: dict[tuple[int, str], list[tuple[int, str]]] = field(default_factory=dict)
    last_assigned: dict[int, datetime] = field(default_factory=dict)
    room: dict[int, int] = field(default_factory=dict)  # open tickets an agent may still get


def _plan(rng: random.Random, now: datetime, ref: dict, staff: list[User]) -> Plan:
    from . import queries

    teams = db.session.scalars(select(Team)).all()
    categories = db.session.scalars(select(Category)).all()
    members: dict[int, list] = {team.id: [] for team in teams}
    for user in staff:
        for team in user.teams:
            members[team.id].append((user.id, user.name, frozenset(c.code for c in user.skills)))
    policies = db.session.scalars(select(SlaPolicy)).all()
    supervisor = next(user for user in staff if user.role is Role.SUPERVISOR)
    return Plan(
        rng=rng, now=now, warn_share=current_app.config.get("HELPDESK_SLA_WARN_SHARE", 0.25),
        categories={c.code: c.id for c in categories},
        default_team={c.code: c.default_team_id for c in categories},
        strategy={team.id: team.strategy.value for team in teams},
        targets={p.priority: (p.first_response_minutes,
                              p.resolution_minutes or SLA_TARGETS[p.priority][1])
                 for p in policies},
        resolutions=ref["resolution_categories"], reasons=ref["escalation_reasons"],
        rule_specs=queries.routing_rule_specs(), members=members,
        supervisor=(supervisor.id, supervisor.name), ids=_next_ids(),
        room={user.id: int(user.capacity * OPEN_LOAD) for user in staff},
    )


def _next_ids() -> dict[str, itertools.count]:
    """Counters starting after the highest id of each bulk table (1 on an empty database)."""
    return {model.__tablename__: itertools.count(
                (db.session.scalar(select(func.max(model.id))) or 0) + 1)
            for model in BULK_TABLES}


def _pool(plan: Plan, team_id: int, code: str) -> list[tuple[int, str]]:
    """The team's agents who may take a ticket of this category (skills respected)."""
    key = (team_id, code)
    if key not in plan.pools:
        members = plan.members.get(team_id, [])
        pool = [(uid, name) for uid, name, skills in members if not skills or code in skills]
        plan.pools[key] = pool or [(uid, name) for uid, name, _s in members] or [plan.supervisor]
    return plan.pools[key]


# --- Bulk insertion -----------------------------------------------------------------------------


def _insert(model, rows: list[dict]) -> None:
    """executemany through the model's table, CHUNK rows at a time (column types still apply)."""
    stmt = insert(model.__table__)
    for start in range(0, len(rows), CHUNK):
        db.session.execute(stmt, rows[start:start + CHUNK])


def _reset_sequences() -> None:
    """After explicit ids, move PostgreSQL's sequences past them (later inserts collide else)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for model in BULK_TABLES:
        table = model.__tablename__
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
        ))


@contextmanager
def _progress(enabled: bool, total: int):
    """Yield an `advance(n)` callable: a progress bar on stderr, or nothing."""
    if not enabled:
        yield lambda n: None
        return
    with click.progressbar(length=total, label="Demo tickets", file=sys.stderr) as bar:
        yield bar.update


# --- Customers ----------------------------------------------------------------------------------


def _seed_customers(plan: Plan, count: int) -> None:
    customers, events = [], []
    for _i in range(count):
        row = _customer_row(plan)
        customers.append(row)
        events.extend(_account_events(plan, row))
    _insert(Customer, customers)
    events.sort(key=lambda event: event["occurred_at"])
    for event in events:
        event["id"] = next(plan.ids["account_events"])
    _insert(AccountEvent, events)


def _customer_row(plan: Plan) -> dict:
    rng, now = plan.rng, plan.now
    cid = next(plan.ids["customers"])
    first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
    name = f"{first} {last} {rng.choice(SURNAMES)}" if rng.random() < 0.4 else f"{first} {last}"
    country = PICK_COUNTRY(rng)
    locale = "en" if rng.random() < EN_SHARE.get(country, 0.0) else "es"
    subscription = PICK_SUBSCRIPTION(rng)
    billing = PICK_BILLING(rng)
    if subscription == "suspendida":
        billing = rng.choice(("tarjeta_rechazada", "pago_pendiente"))
    days = rng.randint(1, 28) if subscription == "en_prueba" else rng.randint(30, 2400)
    joined = now - timedelta(days=days, seconds=rng.randrange(DAY))
    devices = rng.sample(DEVICES, rng.choice((1, 1, 2, 2, 2, 3, 4)))
    plan_name = PICK_PLAN(rng)
    plan.customers.append(Cust(cid, first, name, locale, plan_name, country, tuple(devices),
                               _money(PRICES[plan_name], country)))
    return {
        "id": cid, "name": name, "locale": locale, "country": country, "plan": plan_name,
        "email": f"{ASCII_NAMES[first]}.{ASCII_NAMES[last]}{cid}@{rng.choice(MAIL_DOMAINS)}",
        "phone": f"{PHONE_PREFIX[country]}{rng.randrange(10_000_000, 100_000_000)}",
        "subscription_state": subscription, "billing_state": billing, "devices": devices,
        "member_since": joined.date(), "created_at": joined, "updated_at": joined,
    }


def _account_events(plan: Plan, customer: dict) -> list[dict]:
    rng, cust = plan.rng, plan.customers[-1]
    start = max(customer["created_at"], plan.now - timedelta(days=180))
    span = int((plan.now - start).total_seconds())
    kinds = [PICK_EVENT(rng) for _i in range(rng.randint(1, 4))]
    special = {"cancelada": "cancelacion", "suspendida": "pago_fallido",
               "reembolsado": "reembolso", "tarjeta_rechazada": "pago_fallido"}
    for state in (customer["subscription_state"], customer["billing_state"]):
        if state in special:
            kinds[-1] = special[state]
    return [{"customer_id": cust.id, "kind": kind, "description": _event_text(rng, kind, cust),
             "occurred_at": start + timedelta(seconds=rng.randrange(max(span, 1)))}
            for kind in kinds]


def _event_text(rng: random.Random, kind: str, cust: Cust) -> str:
    if kind == "pago":
        return f"Pago mensual de {cust.amount} procesado correctamente"
    if kind == "inicio_sesion":
        return f"Inicio de sesión desde {rng.choice(cust.devices)} " \
               f"({rng.choice(CITIES[cust.country])})"
    if kind == "dispositivo_nuevo":
        return f"Nuevo dispositivo registrado: {rng.choice(cust.devices)}"
    if kind == "cambio_plan":
        old = rng.choice([name for name, _w in PLANS if name != cust.plan])
        return f"Cambio de plan de {old} a {cust.plan}"
    if kind == "cancelacion":
        return "Suscripción cancelada por el cliente desde la web"
    if kind == "reembolso":
        return f"Reembolso de {cust.amount} emitido a la tarjeta del cliente"
    reason = rng.choice(("fondos insuficientes", "tarjeta caducada", "rechazado por el banco"))
    return f"Pago de {cust.amount} no procesado: {reason}"


# --- Tickets ------------------------------------------------------------------------------------

#: Tickets generated (and inserted) per round; also the progress bar's step.
TICKETS_PER_BATCH = 5_000
#: Agents start at most this share of their capacity busy, so new tickets can still be assigned.
OPEN_LOAD = 0.7
#: Share of tickets that get their audit trail (create, route, assign, status changes).
AUDIT_SHARE = 0.2
ESCALATION_SHARE = 0.03
RATING_SHARE = 0.65  # of resolved tickets the customer answered: ~60% of all resolved
ESCALATION_REASONS = {
    "acceso": ("Posible fraude o seguridad", "Cliente VIP"),
    "facturacion": ("Reembolso o excepción de facturación", "Posible fraude o seguridad"),
    "reproduccion": ("Requiere experiencia técnica", "Incidencia general de servicio"),
    "dispositivos": ("Requiere experiencia técnica", "Incidencia general de servicio"),
    "contenido": ("Cliente VIP",),
    "otros": ("Cliente VIP",),
}
ESCALATION_CONTEXT = {
    "Requiere experiencia técnica": "Probados los pasos básicos sin éxito; necesita nivel 2.",
    "Reembolso o excepción de facturación": "Reembolso fuera de política; requiere aprobación.",
    "Cliente VIP": "Cliente con varios años de antigüedad y plan {plan}; atención prioritaria.",
    "Posible fraude o seguridad": "Accesos desde ubicaciones que el cliente no reconoce.",
    "Incidencia general de servicio": "Varios clientes reportan lo mismo en {device}.",
}


@dataclass(slots=True)
class Draft:
    """One ticket while it is generated, before it becomes rows."""

    id: int
    status: TicketStatus
    priority: Priority
    original_priority: Priority
    channel: Channel
    code: str
    cust: Cust
    voice: Voice
    issue: Issue
    subject: str
    body: str
    slots: dict
    team_id: int | None = None
    why: str = "default"
    strategy: str = Strategy.LEAST_LOADED.value
    agent: tuple[int, str] | None = None
    created: datetime | None = None
    assigned: datetime | None = None
    first_at: datetime | None = None
    resolved_at: datetime | None = None
    paused_at: datetime | None = None
    due_first: datetime | None = None
    due_resolution: datetime | None = None
    late: bool = False
    resolution: str | None = None
    score: int | None = None
    escalation: str | None = None
    escalated_at: datetime | None = None


def _seed_tickets(plan: Plan, total: int, progress: bool) -> int:
    """Generate and insert `total` tickets with their threads, a batch at a time; messages."""
    messages = 0
    with _progress(progress, total) as advance:
        for done in range(0, total, TICKETS_PER_BATCH):
            size = min(TICKETS_PER_BATCH, total - done)
            batch = {model: [] for model in (Ticket, Message, AuditEntry, SatisfactionRating,
                                             Escalation)}
            for _i in range(size):
                _ticket(plan, batch)
            for model, rows in batch.items():  # parents first: foreign keys are enforced
                _insert(model, rows)
            messages += len(batch[Message])
            advance(size)
    return messages


def _ticket(plan: Plan, batch: dict[type, list[dict]]) -> None:
    draft = _draft(plan)
    _route(plan, draft)
    _schedule(plan, draft)
    _outcome(plan, draft)
    thread = _thread(plan, draft)
    batch[Ticket].append(_ticket_row(plan, draft, thread[-1][0]))
    _message_rows(plan, draft, thread, batch[Message])
    if draft.agent is not None:
        agent_id = draft.agent[0]
        if draft.assigned > plan.last_assigned.get(agent_id, draft.assigned - timedelta(1)):
            plan.last_assigned[agent_id] = draft.assigned
    if plan.rng.random() < AUDIT_SHARE:
        batch[AuditEntry].extend(_audit_rows(plan, draft))
    if draft.score is not None:
        batch[SatisfactionRating].append(_rating_row(plan, draft))
    if draft.escalation is not None:
        batch[Escalation].append(_escalation_row(plan, draft))


def _draft(plan: Plan) -> Draft:
    rng = plan.rng
    status, priority, channel = PICK_STATUS(rng), PICK_PRIORITY(rng), PICK_CHANNEL(rng)
    code = PICK_CATEGORY(rng)
    if channel is Channel.PHONE and priority is Priority.URGENT and code not in TECHNICAL:
        code = "reproduccion"  # urgent calls are technical: the team stays the category's
    cust = rng.choice(plan.customers)
    voice = VOICES[cust.locale]
    issue = rng.choice(voice.issues[code])
    device = rng.choice(cust.devices)
    if issue.tv and device not in TV_DEVICES:
        device = next((name for name in cust.devices if name in TV_DEVICES), "Smart TV")
    slots = {"device": device, "title": rng.choice(TITLES),
             "plan": cust.plan, "error": rng.choice(ERRORS), "amount": cust.amount,
             "first": cust.first, "city": rng.choice(CITIES[cust.country]),
             "digits": rng.randrange(1000, 10000)}
    parts = (rng.choice(voice.greetings), issue.problem, rng.choice(voice.details[code]),
             f"{rng.choice(voice.signoffs)}\n{cust.name}")
    body = "\n\n".join(part for part in parts if part).format_map(slots)
    return Draft(next(plan.ids["tickets"]), status, priority, priority, channel, code, cust,
                 voice, issue, issue.subject.format_map(slots), body, slots)


def _route(plan: Plan, d: Draft) -> None:
    """The routing rules decide team, priority and strategy, exactly as `route_ticket` does."""
    facts = rules.TicketFacts(
        category_id=plan.categories[d.code], priority=d.priority, channel=d.channel.value,
        plan=d.cust.plan, country=d.cust.country, language=d.cust.locale,
        text=f"{d.subject}\n{d.body}",
    )
    decision = rules.route(facts, plan.rule_specs, plan.default_team[d.code])
    d.team_id, d.priority = decision.team_id, decision.priority
    d.why = f"rule:{decision.rule_id}" if decision.rule_id else "default"
    if decision.strategy is not None:
        d.strategy = decision.strategy.value
    else:
        d.strategy = plan.strategy.get(d.team_id, d.strategy)
    if d.status is TicketStatus.NEW:
        return
    pool = _pool(plan, d.team_id, d.code)
    if d.status in (TicketStatus.OPEN, TicketStatus.PENDING):
        free = [agent for agent in pool if plan.room.get(agent[0], 0) > 0]
        if not free:  # everyone is near capacity: older work is done by now
            d.status = TicketStatus.RESOLVED
        else:
            pool = free
    d.agent = plan.rng.choice(pool)
    if d.status is not TicketStatus.RESOLVED:
        plan.room[d.agent[0]] -= 1


def _schedule(plan: Plan, d: Draft) -> None:
    """Creation, first response and resolution times that fit the status and the SLA."""
    rng, now = plan.rng, plan.now
    first_minutes, resolution_minutes = plan.targets[d.priority]
    target = first_minutes * 60
    late = rng.random() < 0.15
    delay = target * (rng.uniform(1.05, 2.5) if late else 0.03 + 0.9 * rng.random() ** 2)
    took = 0.0
    if d.status is TicketStatus.NEW:
        age = target * rng.uniform(0.02, 1.4)  # recent: some in time, some close, some late
    elif d.status is TicketStatus.RESOLVED:
        age = rng.uniform(0.5, 90.0) * DAY
        took = min(resolution_minutes * 60 * rng.uniform(0.15, 1.3), age - 60)
        delay = min(delay, took * 0.6)
    else:
        age = rng.uniform(1 / 24, 14.0 if d.status is TicketStatus.OPEN else 21.0) * DAY
        delay = min(delay, age * 0.8)
    d.created = created = now - timedelta(seconds=int(age))
    d.due_first = created + timedelta(minutes=first_minutes)
    d.due_resolution = created + timedelta(minutes=resolution_minutes)
    if d.status is TicketStatus.NEW:
        return
    delay = max(60.0, delay)
    d.late = delay > target
    d.first_at = created + timedelta(seconds=int(delay))
    d.assigned = created + timedelta(seconds=int(min(delay / 2, rng.uniform(5, 600))))
    if took:
        d.resolved_at = created + timedelta(seconds=int(took))


def _outcome(plan: Plan, d: Draft) -> None:
    """How a resolved ticket ended, its rating, and whether it was escalated."""
    rng = plan.rng
    if d.status is TicketStatus.RESOLVED:
        if d.code == "contenido" and rng.random() < 0.6:
            d.resolution = "Petición de contenido registrada"
        else:
            d.resolution = PICK_RESOLUTION(rng)
        if d.resolution != "Sin respuesta del cliente" and rng.random() < RATING_SHARE:
            d.score = (PICK_SCORE_LATE if d.late else PICK_SCORE)(rng)
    if d.agent is not None and rng.random() < ESCALATION_SHARE:
        d.escalation = rng.choice(ESCALATION_REASONS[d.code])


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A whole-second moment inside (start, end), away from both ends."""
    return start + timedelta(seconds=int((end - start).total_seconds() * rng.uniform(0.1, 0.9)))


def _at(entry: tuple) -> datetime:
    return entry[0]


def _thread(plan: Plan, d: Draft) -> list[tuple]:
    """The messages as (time, kind, author id, customer id, body), oldest first."""
    rng = plan.rng
    thread = [(d.created, MessageKind.CUSTOMER, None, d.cust.id, d.body)]
    if d.agent is None:
        return thread
    agent_id, agent_name = d.agent
    d.slots["agent"], d.slots["ticket"] = agent_name.split()[0], d.id
    if rng.random() < 0.5:
        thread.append((d.assigned, MessageKind.EVENT, None, None,
                       event_body("assign", to=agent_name)))
    if rng.random() < 0.25:
        thread.append((_between(rng, d.assigned, d.first_at), MessageKind.NOTE, agent_id, None,
                       d.issue.note.format_map(d.slots)))
    thread.extend(_replies(plan, d))
    if d.escalation is not None:  # before a pending ticket's question or the closing reply
        d.escalated_at = _between(rng, d.assigned, d.paused_at or d.resolved_at or plan.now)
        thread.append((d.escalated_at, MessageKind.EVENT, None, None,
                       event_body("escalate", to=plan.supervisor[1], reason=d.escalation)))
    thread.sort(key=_at)
    return thread


def _replies(plan: Plan, d: Draft) -> list[tuple]:
    """What follows the assignment: pending ends on a question, resolved on a closing reply."""
    rng, v = plan.rng, d.voice
    end = d.resolved_at or plan.now
    if d.status is TicketStatus.PENDING:
        if rng.random() < 0.35:
            later = _between(rng, d.first_at, end)
            d.paused_at = _between(rng, later, end)
            return [_reply(d, d.first_at, v.lead_first, d.issue.first),
                    _customer(d, later, rng.choice(v.follow)),
                    _reply(d, d.paused_at, v.lead_ask, v.ask[d.code])]
        d.paused_at = d.first_at
        return [_reply(d, d.first_at, v.lead_ask, v.ask[d.code])]
    if d.resolution == "Sin respuesta del cliente":
        thread = [_reply(d, d.first_at, v.lead_ask, v.ask[d.code])]
    elif rng.random() < 0.3:  # a question, and the customer's answer
        thread = [_reply(d, d.first_at, v.lead_ask, v.ask[d.code]),
                  _customer(d, _between(rng, d.first_at, end), v.answer[d.code])]
    else:
        thread = [_reply(d, d.first_at, v.lead_first, d.issue.first)]
        if rng.random() < 0.4:
            thread.append(_customer(d, _between(rng, d.first_at, end), rng.choice(v.follow)))
    if d.status is TicketStatus.RESOLVED:
        thread.append(_closing(d))
    return thread


def _reply(d: Draft, at: datetime, lead: str, text_: str) -> tuple:
    v = d.voice
    body = f"{v.hello}\n\n{lead}{text_}\n\n{v.sign}".format_map(d.slots)
    return (at, MessageKind.REPLY, d.agent[0], None, body)


def _customer(d: Draft, at: datetime, text_: str) -> tuple:
    return (at, MessageKind.CUSTOMER, None, d.cust.id, text_.format_map(d.slots))


def _closing(d: Draft) -> tuple:
    v = d.voice
    if d.resolution in v.close_special:
        middle = v.close_special[d.resolution]
    else:
        middle = f"{v.lead_close}{d.issue.close}\n\n{v.resolved_line}"
    body = f"{v.hello}\n\n{middle}\n\n{v.sign}".format_map(d.slots)
    return (d.resolved_at, MessageKind.REPLY, d.agent[0], None, body)


# --- Rows ---------------------------------------------------------------------------------------


def _ticket_row(plan: Plan, d: Draft, last_at: datetime) -> dict:
    first, resolution = plan.targets[d.priority]
    clock = rules.sla_clock(status=d.status, created=d.created, answered=d.first_at is not None,
                            first_minutes=first, resolution_minutes=resolution,
                            paused_minutes=0, warn_share=plan.warn_share, calendar=None)
    sla = rules.sla_state_at(plan.now, clock.warn_at, clock.running_due)  # as the sweep would
    resolved = d.resolution is not None
    return {
        "id": d.id, "subject": d.subject[:200], "status": d.status, "priority": d.priority,
        "channel": d.channel, "language": d.cust.locale, "customer_id": d.cust.id,
        "category_id": plan.categories[d.code], "team_id": d.team_id,
        "assignee_id": d.agent[0] if d.agent else None, "first_response_at": d.first_at,
        "resolved_at": d.resolved_at, "first_response_due_at": d.due_first,
        "resolution_due_at": d.due_resolution, "sla_state": sla, "sla_paused_at": d.paused_at,
        "sla_due_at": clock.running_due, "sla_warn_at": clock.warn_at, "sla_paused_minutes": 0,
        "escalation_level": 0 if d.escalation is None else 1,
        "resolution_category_id": plan.resolutions[d.resolution] if resolved else None,
        "closing_notes": d.issue.closing.format_map(d.slots) if resolved else None,
        "customer_confirmed": True if d.score is not None else None,
        "version": 1, "created_at": d.created, "updated_at": max(last_at, d.resolved_at or
                                                                   last_at),
    }


def _message_rows(plan: Plan, d: Draft, thread: list[tuple], out: list[dict]) -> None:
    ids, email = plan.ids["messages"], d.channel is Channel.EMAIL
    for at, kind, author_id, customer_id, body in thread:
        mid = next(ids)
        mail_id = None
        if email and kind is MessageKind.CUSTOMER:
            mail_id = f"<{mid}.{d.id}@mail.example.com>"
        elif email and kind is MessageKind.REPLY:
            mail_id = f"<ticket-{d.id}-{mid}@demo.bayit>"
        out.append({"id": mid, "ticket_id": d.id, "kind": kind, "author_id": author_id,
                    "customer_id": customer_id, "body": body, "email_message_id": mail_id,
                    "created_at": at})


def _audit_rows(plan: Plan, d: Draft) -> list[dict]:
    """The trail `create_ticket`, `route_ticket` and `assign_ticket` would have written."""
    trail = [(d.created, None, "create", None, None, None, d.channel.value),
             (d.created, None, "route", "team", None, d.team_id, d.why)]
    if d.priority is not d.original_priority:
        trail.append((d.created, None, "route", "priority", d.original_priority.value,
                      d.priority.value, d.why))
    if d.agent is not None:
        reason = f"auto:{d.strategy}:{d.why}"
        trail += [(d.assigned, None, "assign", "assignee", None, d.agent[0], reason),
                  (d.assigned, None, "status", "status", "new", "open", reason)]
        if d.paused_at is not None:
            trail.append((d.paused_at, d.agent[0], "status", "status", "open", "pending", None))
        if d.resolved_at is not None:
            trail.append((d.resolved_at, d.agent[0], "status", "status", "open", "resolved",
                          d.resolution))
    ids = plan.ids["audit_log"]
    return [{"id": next(ids), "entity": "tickets", "entity_id": d.id, "ticket_id": d.id,
             "actor_id": actor, "action": action, "field": name,
             "old_value": None if old is None else str(old),
             "new_value": None if new is None else str(new), "reason": reason, "created_at": at}
            for at, actor, action, name, old, new, reason in trail]


def _rating_row(plan: Plan, d: Draft) -> dict:
    rng = plan.rng
    at = min(plan.now, d.resolved_at + timedelta(seconds=rng.randint(600, 2 * DAY)))
    return {"id": next(plan.ids["satisfaction_ratings"]), "ticket_id": d.id, "score": d.score,
            "comment": rng.choice(RATING_COMMENTS[d.score]), "created_at": at}


def _escalation_row(plan: Plan, d: Draft) -> dict:
    return {"id": next(plan.ids["escalations"]), "ticket_id": d.id,
            "reason_id": plan.reasons[d.escalation], "from_team_id": d.team_id,
            "to_team_id": d.team_id, "to_user_id": plan.supervisor[0], "actor_id": d.agent[0],
            "level": 1, "context": ESCALATION_CONTEXT[d.escalation].format_map(d.slots),
            "created_at": d.escalated_at}
