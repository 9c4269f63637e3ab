"""``/opsbot freeze ENV REASON`` and ``/opsbot unfreeze ENV``: the environment-wide brake."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import guards
from chalicelib.core.errors import InvalidRequest
from chalicelib.core.slack import escape

if TYPE_CHECKING:
    from chalicelib.chatops.parse import SlashCommand
    from chalicelib.deps import Deps

FREEZE_USAGE = "freeze ENV REASON"
UNFREEZE_USAGE = "unfreeze ENV"


def _reply(text: str) -> dict[str, Any]:
    return {"response_type": "in_channel", "text": text}


def freeze_command(deps: Deps, actor: str, command: SlashCommand) -> dict[str, Any]:
    """Freeze the named environment, giving the rest of the line as the reason."""
    args = command.args
    if len(args) < 2:
        raise InvalidRequest(
            f"name the environment and say why: {FREEZE_USAGE}", fields={"text": FREEZE_USAGE}
        )
    reason = " ".join(args[1:])
    if len(reason) > guards.MAX_REASON:
        raise InvalidRequest(
            f"the reason is longer than {guards.MAX_REASON} characters",
            fields={"reason": "too long", "text": FREEZE_USAGE},
        )
    frozen = guards.freeze(deps, actor=actor, environment=args[0], reason=reason)
    return _reply(
        f":ice_cube: <@{command.user_id}> froze *{escape(frozen.environment)}*: "
        f"{escape(reason)}\nNo deploys, rollbacks or scaling there, and alarm reactions change "
        f"nothing, until `{deps.policy.slack.command} unfreeze {escape(frozen.environment)}`."
    )


def unfreeze_command(deps: Deps, actor: str, command: SlashCommand) -> dict[str, Any]:
    """End the named environment's freeze."""
    if len(command.args) != 1:
        raise InvalidRequest(f"usage: {UNFREEZE_USAGE}", fields={"text": UNFREEZE_USAGE})
    thawed = guards.unfreeze(deps, actor=actor, environment=command.args[0])
    return _reply(
        f"<@{command.user_id}> unfroze *{escape(thawed.environment)}*: deploys, rollbacks, "
        "scaling and alarm reactions work again."
    )
