"""Slack: slash commands and interactive buttons, checked against the ops policy.

Every request must carry a valid Slack signature no older than five minutes (``verify``); a
forged or stale one is refused with 401 before anything is read. ``parse`` reads a command,
``commands`` answers it (a table of verbs), ``interactions`` acts on button presses.
"""

from __future__ import annotations

from chalicelib.chatops.commands import COMMANDS, handle_command, reply
from chalicelib.chatops.interactions import BUTTONS, handle_interaction
from chalicelib.chatops.parse import SlashCommand
from chalicelib.chatops.verify import verify

__all__ = [
    "BUTTONS",
    "COMMANDS",
    "SlashCommand",
    "handle_command",
    "handle_interaction",
    "reply",
    "verify",
]
