"""The message catalogue: one module per service, plus upstream customers and downstream channels.

``COMMANDS[service]`` and ``EVENTS[service]`` list each service's messages; the topic registry in
:mod:`contracts.topics` places them on topics.
"""

from __future__ import annotations

from contracts.base import Command, Event, Message
from contracts.catalogue import (
    approvals,
    casework,
    channels,
    complaints,
    contacts,
    customers,
    msp,
    notifications,
    operations,
    referrals,
    rejections,
)

COMMANDS: dict[str, tuple[type[Command], ...]] = {
    "referrals": referrals.COMMANDS,
    "approvals": approvals.COMMANDS,
    "notifications": (*notifications.COMMANDS, *msp.COMMANDS),
    "complaints": complaints.COMMANDS,
    "contacts": contacts.COMMANDS,
    "casework": casework.COMMANDS,
}

EVENTS: dict[str, tuple[type[Event], ...]] = {
    "referrals": referrals.EVENTS,
    "approvals": approvals.EVENTS,
    "notifications": (*notifications.EVENTS, *msp.EVENTS),
    "complaints": complaints.EVENTS,
    "contacts": contacts.EVENTS,
    "casework": casework.EVENTS,
}

#: Every message class in the catalogue, in a stable order.
ALL_MESSAGES: tuple[type[Message], ...] = (
    *(cls for svc in COMMANDS.values() for cls in svc),
    *(cls for svc in EVENTS.values() for cls in svc),
    *customers.EVENTS,
    *channels.DISPATCHES.values(),
    *channels.RECEIPTS,
    *channels.CHANNEL_ERRORS,
    *rejections.MESSAGES,
    *operations.MESSAGES,
)

__all__ = [
    "ALL_MESSAGES",
    "COMMANDS",
    "EVENTS",
    "approvals",
    "casework",
    "channels",
    "complaints",
    "contacts",
    "customers",
    "msp",
    "notifications",
    "operations",
    "referrals",
    "rejections",
]
