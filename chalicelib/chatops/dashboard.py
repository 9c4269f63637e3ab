"""``/opsbot dashboard``: an ephemeral link to the web dashboard, signed in read-only for an
hour (a token minted for the sender, stored hashed; see ``status.dashboard``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.core.errors import InvalidRequest
from chalicelib.status import dashboard

if TYPE_CHECKING:
    from chalicelib.chatops.parse import SlashCommand
    from chalicelib.deps import Deps


def dashboard_reply(deps: Deps, actor: str, command: SlashCommand) -> dict[str, Any]:
    """The reply: a link carrying a new read-only token (ephemeral: only the sender sees it)."""
    if command.args:
        raise InvalidRequest("usage: dashboard", fields={"text": "dashboard"})
    token = dashboard.mint_read_token(deps, actor)
    link = dashboard.dashboard_link(command.base_url or "", token)
    readable = ", ".join(deps.policy.readable(actor))
    minutes = dashboard.LIFETIME_SECONDS // 60
    return {
        "response_type": "ephemeral",
        "text": (
            f"<{link}|Open the opsbot dashboard> (read-only: {readable}; valid for {minutes} "
            "minutes; the link signs you in, so do not share it)"
        ),
    }
