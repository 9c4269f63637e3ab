"""Each signed Slack request is carried out once: a repeat of its signature is a replay.

Slack does not retry slash commands or interactivity payloads, so the same (timestamp,
signature) received twice inside the five-minute window was captured and sent again: it is
refused with 401 and nothing is done. The check runs only after the signature verified (an
unsigned flood writes nothing) and costs one conditional PutItem; when the state table cannot
answer, the request is refused with 503 (nothing done) rather than carried out unchecked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.aws.errors import describe
from chalicelib.chatops.verify import MAX_AGE_SECONDS
from chalicelib.core.errors import DependencyUnavailable, Unauthorized
from chalicelib.core.observability import count, logger

if TYPE_CHECKING:
    from chalicelib.chatops.verify import SignedRequest
    from chalicelib.deps import Deps

#: How long past the end of its signature's window a request is remembered (clock skew).
KEEP_MARGIN_SECONDS = 60
REPLAY_MESSAGE = "this Slack request was already received (a replay); nothing was done"


def receive_once(deps: Deps, signed: SignedRequest, *, kind: str) -> None:
    """Record a verified request (``kind``: ``command`` or ``interaction``); Unauthorized if it
    was received before, DependencyUnavailable if the state table could not record it."""
    # a timestamp may be up to MAX_AGE_SECONDS ahead of now too: keep it until it is stale
    keep_until = signed.timestamp + MAX_AGE_SECONDS + KEEP_MARGIN_SECONDS
    try:
        first = deps.store.record_slack_request(signed.signature, keep_until=keep_until)
    except (BotoCoreError, ClientError) as exc:
        logger().error(
            "could not record a Slack request; refused it",
            extra={"slack_request": kind, "error": describe(exc)},
        )
        raise DependencyUnavailable(
            "DynamoDB is unavailable (opsbot cannot check that this Slack request is not a "
            "replay); nothing was done: try again shortly",
            dependencies=["dynamodb"],
        ) from exc
    if not first:
        logger().warning(
            "replayed Slack request refused",
            extra={"slack_request": kind, "request_timestamp": signed.timestamp},
        )
        count("SlackRequestsReplayed", kind=kind)
        raise Unauthorized(REPLAY_MESSAGE)
