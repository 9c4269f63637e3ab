"""Idempotency keys: the first answer to a (principal, key), kept for 24 hours.

One item per principal and key. A request claims it with a conditional put of an in-progress
marker (with a hash of the request and a short lease); the answer is saved on it when the request
is done. A repeat finds either the saved answer (replayed as it is), a marker still in progress
(a concurrent duplicate), or a different request hash (the key reused for something else). A
marker whose lease ran out (its request died) may be taken over by a retry of the same request.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from chalicelib.store.table import Table, _epoch, _item, _ser

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
#: How long an in-progress marker blocks a retry. No answer can come later: API Gateway gives up
#: on its integration after 29 s, and the API function's timeout is at most this (a test checks
#: every stage in .chalice/config.json), so a marker older than this belongs to a dead request.
IN_PROGRESS_LEASE_SECONDS = 30

_IN_PROGRESS = "in_progress"
_DONE = "done"


class ClaimOutcome(StrEnum):
    """What a claim on an idempotency key found."""

    CLAIMED = "claimed"  # first use (or a dead first attempt): go ahead, then save or release
    REPLAY = "replay"  # answered before: send ``saved``
    IN_PROGRESS = "in_progress"  # the same request is being served right now
    MISMATCH = "mismatch"  # the key was used for a different request


@dataclass(frozen=True)
class SavedResponse:
    """An answer exactly as it was sent: status, headers and the body's bytes (as text)."""

    status: int
    body: str
    headers: dict[str, str | list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class IdempotencyClaim:
    """The outcome of ``claim_idempotency``; ``owner`` identifies a CLAIMED marker."""

    outcome: ClaimOutcome
    owner: str = ""
    saved: SavedResponse | None = None
    retry_after: int = 0  # IN_PROGRESS: seconds until a dead first attempt's lease runs out
    resumed: bool = False  # CLAIMED over a dead attempt at the same request (its lease ran out)


def _pk(principal: str, key: str) -> str:
    digest = hashlib.sha256(f"{principal}\n{key}".encode()).hexdigest()
    return f"IDEM#{digest}"


_SK = "IDEM"


class IdempotencyStore(Table):
    """Claim, save and release idempotency keys."""

    def claim_idempotency(
        self, *, principal: str, key: str, request_hash: str, now: datetime
    ) -> IdempotencyClaim:
        """Claim ``key`` for ``principal``'s request, or say what an earlier use left."""
        owner = secrets.token_hex(8)
        at = _epoch(now)
        try:
            old = self._ddb.put_item(
                TableName=self._table,
                ReturnValues="ALL_OLD",
                Item=_item(
                    {
                        "pk": _pk(principal, key),
                        "sk": _SK,
                        "principal": principal,
                        "request_hash": request_hash,
                        "state": _IN_PROGRESS,
                        "owner": owner,
                        "lease_until": at + IN_PROGRESS_LEASE_SECONDS,
                        "created_at": at,
                        "expires_at": at + IDEMPOTENCY_TTL_SECONDS,
                    }
                ),
                # free, expired (TTL deletes lazily), or a dead attempt at the same request
                ConditionExpression=(
                    "attribute_not_exists(pk) OR expires_at < :now OR "
                    "(#state = :in_progress AND lease_until < :now AND request_hash = :hash)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":now": _ser(at),
                    ":in_progress": _ser(_IN_PROGRESS),
                    ":hash": _ser(request_hash),
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return self._existing(principal=principal, key=key, request_hash=request_hash, now=now)
        before = old.get("Attributes") or {}
        resumed = before.get("state", {}).get("S") == _IN_PROGRESS  # a dead attempt's claim
        return IdempotencyClaim(ClaimOutcome.CLAIMED, owner=owner, resumed=resumed)

    def _existing(
        self, *, principal: str, key: str, request_hash: str, now: datetime
    ) -> IdempotencyClaim:
        item = self._ddb.get_item(
            TableName=self._table,
            Key=_item({"pk": _pk(principal, key), "sk": _SK}),
            ConsistentRead=True,
        ).get("Item")
        if item is None:  # expired and deleted in between: claim again
            return self.claim_idempotency(
                principal=principal, key=key, request_hash=request_hash, now=now
            )
        if item["request_hash"]["S"] != request_hash:
            return IdempotencyClaim(ClaimOutcome.MISMATCH)
        if item["state"]["S"] != _DONE:
            lease_until = int(item.get("lease_until", {}).get("N", "0"))
            left = max(1, lease_until - _epoch(now) + 1)
            return IdempotencyClaim(ClaimOutcome.IN_PROGRESS, retry_after=left)
        saved = json.loads(item["response"]["S"])
        return IdempotencyClaim(
            ClaimOutcome.REPLAY,
            saved=SavedResponse(
                status=int(saved["status"]), body=str(saved["body"]), headers=saved["headers"]
            ),
        )

    def save_idempotent_response(
        self, *, principal: str, key: str, owner: str, response: SavedResponse
    ) -> bool:
        """Save the answer on the marker ``owner`` claimed; False if it was taken over."""
        saved = {"status": response.status, "headers": response.headers, "body": response.body}
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": _pk(principal, key), "sk": _SK}),
                UpdateExpression="SET #state = :done, #response = :response REMOVE lease_until",
                ConditionExpression="#owner = :owner AND #state = :in_progress",
                ExpressionAttributeNames={
                    "#state": "state",
                    "#response": "response",
                    "#owner": "owner",
                },
                ExpressionAttributeValues={
                    ":done": _ser(_DONE),
                    ":response": _ser(json.dumps(saved, separators=(",", ":"))),
                    ":owner": _ser(owner),
                    ":in_progress": _ser(_IN_PROGRESS),
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release_idempotency(self, *, principal: str, key: str, owner: str) -> bool:
        """Drop the marker ``owner`` claimed (the answer is not worth keeping): a retry runs."""
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key=_item({"pk": _pk(principal, key), "sk": _SK}),
                ConditionExpression="#owner = :owner AND #state = :in_progress",
                ExpressionAttributeNames={"#owner": "owner", "#state": "state"},
                ExpressionAttributeValues={
                    ":owner": _ser(owner),
                    ":in_progress": _ser(_IN_PROGRESS),
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True
