"""Slack buttons (``block_actions``): act on each press, answer through the response_url."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chalicelib import deploys
from chalicelib.alarms import held
from chalicelib.chatops.parse import check_origin, form_fields, principal
from chalicelib.core.errors import InvalidRequest, OpsError
from chalicelib.core.slack import escape
from chalicelib.domain.base import LooseModel
from chalicelib.domain.messages import SlackReply

if TYPE_CHECKING:
    from chalicelib.deps import Deps


class SlackUser(LooseModel):
    """``user`` of an interaction payload."""

    id: str


class SlackTeam(LooseModel):
    """``team`` of an interaction payload: the workspace."""

    id: str


class SlackAction(LooseModel):
    """One element of ``actions``: which button, with which value."""

    action_id: str
    value: str = ""


class Interaction(LooseModel):
    """The parts of a ``block_actions`` payload opsbot uses."""

    user: SlackUser
    team: SlackTeam | None = None
    actions: list[SlackAction] = []
    response_url: str | None = None


def parse_interaction(raw: str) -> Interaction:
    """Parse the ``payload`` field; InvalidRequest if it is not a block_actions payload."""
    try:
        return Interaction.model_validate_json(raw)
    except (ValidationError, ValueError, RecursionError):
        raise InvalidRequest(
            "not a Slack interaction payload", fields={"payload": "not a block_actions payload"}
        ) from None


def _rollback(deps: Deps, actor: str, user: str, value: str, response_url: str | None) -> str:
    record = deploys.request_rollback(
        deps, actor=actor, deployment_id=value, reason="Slack button", notify_url=response_url
    )
    return f"<@{user}> is rolling back `{escape(value)}` (`{record.id}`)."


def _approve(deps: Deps, actor: str, user: str, value: str, response_url: str | None) -> str:
    record = deploys.approve(deps, actor=actor, deployment_id=value, response_url=response_url)
    return f"You approved `{escape(record.id)}`: it is queued to deploy."


def _deny(deps: Deps, actor: str, user: str, value: str, response_url: str | None) -> str:
    record = deploys.deny(deps, actor=actor, deployment_id=value, response_url=response_url)
    return f"You denied `{escape(record.id)}`: nothing was deployed."


def _approve_held(deps: Deps, actor: str, user: str, value: str, response_url: str | None) -> str:
    return held.request_apply(deps, actor=actor, value=value)


BUTTONS: dict[str, Callable[[Deps, str, str, str, str | None], str]] = {
    held.APPROVE_HELD: _approve_held,  # the held alarm reactions' summary (alarms.held)
    "rollback": _rollback,
    "approve": _approve,  # the approval message's buttons (deploys.approval_message)
    "deny": _deny,
}


def press(deps: Deps, user: str, action: SlackAction, response_url: str | None) -> str:
    """One button press by a Slack user: what happened, in a line."""
    try:
        actor = principal(deps, user)
        button = BUTTONS.get(action.action_id)
        if button is None:
            return f"Unknown button `{escape(action.action_id[:40])}`."
        return button(deps, actor, user, action.value, response_url)
    except OpsError as exc:
        return f":no_entry: {escape(exc.message)}"


def handle_interaction(deps: Deps, body: bytes) -> dict[str, Any]:
    """A button press (block_actions): act, then answer through the response_url."""
    interaction = parse_interaction(form_fields(body).get("payload", ""))
    response_url = interaction.response_url or None
    team = interaction.team.id if interaction.team else None
    check_origin(deps, team_id=team, response_url=response_url)
    results = [press(deps, interaction.user.id, a, response_url) for a in interaction.actions]
    if response_url and results:
        # Slack wants the ack within 3 s: the reply goes through the work queue, not inline.
        reply = {
            "response_type": "ephemeral",
            "replace_original": False,
            "text": "\n".join(results),
        }
        deps.queue.send(SlackReply(url=response_url, payload=reply))
    return {"results": results}
