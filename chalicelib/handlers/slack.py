"""Slack endpoints: slash commands and interactive buttons, both Slack-signed."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from chalice import Blueprint

from chalicelib.handlers.http import guarded, json_response, public_url
from chalicelib.handlers.lazy import chatops, parameters, wiring

bp = Blueprint(__name__)

# Slack posts form encoding; anything else still reaches the signature check (401), not a 415.
FORM = ["application/x-www-form-urlencoded", "application/json", "text/plain"]


def _verified_body(kind: str) -> bytes:
    """The raw body, once its signature verified and it is known not to be a replay."""
    request = bp.current_request
    raw = request.raw_body or b""
    body = raw.encode() if isinstance(raw, str) else raw
    signed = chatops.verify(
        secret=parameters.slack_signing_secret(),
        body=body,
        headers=dict(request.headers),
        now=time.time(),
    )
    chatops.receive_once(wiring.get_deps(), signed, kind=kind)
    return body


@bp.route("/slack/commands", methods=["POST"], content_types=FORM)
@guarded
def slack_command() -> Any:
    """A slash command: verify, answer within Slack's three seconds."""
    command = chatops.SlashCommand.parse(_verified_body("command"))
    command = replace(command, base_url=public_url(bp.current_request))
    return json_response(chatops.handle_command(wiring.get_deps(), command))


@bp.route("/slack/interactions", methods=["POST"], content_types=FORM)
@guarded
def slack_interaction() -> Any:
    """A button press: verify, act, answer through the response_url."""
    body = _verified_body("interaction")
    return json_response(chatops.handle_interaction(wiring.get_deps(), body))
