"""Slack: slash commands and interactive buttons, checked against the ops policy.

Every request must carry a valid Slack signature no older than five minutes (``verify``); a
forged or stale one is refused with 401 before anything is read, and so is a replay of one
already received (``receive_once``). ``parse`` reads a command, ``commands`` answers it (a
table of verbs), ``interactions`` acts on button presses.
"""

from __future__ import annotations

from chalicelib.chatops.commands import COMMANDS, handle_command, reply
from chalicelib.chatops.interactions import BUTTONS, handle_interaction
from chalicelib.chatops.parse import SlashCommand
from chalicelib.chatops.replay import receive_once
from chalicelib.chatops.verify import SignedRequest, verify

__all__ = [
    "BUTTONS",
    "COMMANDS",
    "SignedRequest",
    "SlashCommand",
    "handle_command",
    "handle_interaction",
    "receive_once",
    "reply",
    "verify",
]
