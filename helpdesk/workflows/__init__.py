"""Every change of state: tickets, assignment, the ticket's life, people, configuration, the
job outbox. One module per capability; everything callers use is re-exported here.

Each function validates, mutates, writes the audit row, flushes and returns. None commits: the
caller (a view, a job, a command) commits once, with `atomic()`. Refusals raise DomainError.
"""

from ..errors import CapacityExceeded, Conflict, DomainError, InvalidTransition
from .assignment import (
    assign_ticket,
    assign_waiting,
    auto_assign,
    reassign_ticket,
    reassign_tickets,
    recount_open_tickets,
    route_ticket,
    sweep_waiting,
    take_ticket,
    ticket_facts,
)
from .base import (
    BODY_MAX,
    NOTE_MAX,
    PASSWORD_MIN,
    REPLY_MAX,
    SUBJECT_MAX,
    add_event,
    atomic,
    audit,
    clean_text,
    ensure_fresh,
    touch,
)
from .configuration import (
    move_rule,
    set_default_team,
    set_rules_enabled,
)
from .customers import change_customer_email
from .lifecycle import (
    apply_targets,
    change_priority,
    change_status,
    notify_breaches,
    set_status,
    sweep_sla_states,
)
from .notify import (
    mail_email_changed,
    mail_notice,
    send_reply,
)
from .outbox import (
    INTENT_HANDLERS,
    enqueue_intent,
    intent_handler,
    run_intent,
    schedule,
    schedule_waiting,
    sweep_outbox,
)
from .people import (
    create_user,
    hash_password,
    mark_notifications_read,
    may_set_availability,
    set_availability,
    set_locale,
    set_password,
    set_team_members,
    update_agent_profile,
    update_user,
)
from .tickets import (
    add_customer_message,
    add_note,
    add_reply,
    create_ticket,
    update_ticket_details,
)

__all__ = [
    "update_user",
    "set_password",
    "update_agent_profile",
    "set_team_members",
    "BODY_MAX",
    "CapacityExceeded",
    "Conflict",
    "DomainError",
    "INTENT_HANDLERS",
    "InvalidTransition",
    "NOTE_MAX",
    "PASSWORD_MIN",
    "REPLY_MAX",
    "SUBJECT_MAX",
    "add_customer_message",
    "add_event",
    "add_note",
    "add_reply",
    "apply_targets",
    "assign_ticket",
    "assign_waiting",
    "atomic",
    "audit",
    "auto_assign",
    "change_customer_email",
    "change_priority",
    "change_status",
    "clean_text",
    "create_ticket",
    "create_user",
    "enqueue_intent",
    "ensure_fresh",
    "hash_password",
    "intent_handler",
    "mail_email_changed",
    "mail_notice",
    "mark_notifications_read",
    "may_set_availability",
    "move_rule",
    "notify_breaches",
    "reassign_ticket",
    "reassign_tickets",
    "recount_open_tickets",
    "route_ticket",
    "run_intent",
    "schedule",
    "schedule_waiting",
    "send_reply",
    "set_availability",
    "set_default_team",
    "set_locale",
    "set_rules_enabled",
    "set_status",
    "sweep_outbox",
    "sweep_sla_states",
    "sweep_waiting",
    "take_ticket",
    "ticket_facts",
    "touch",
    "update_ticket_details",
]
