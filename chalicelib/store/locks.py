"""Leased locks and cooldown windows.

A cooldown window may have an owner (``claim_cooldown(owner=...)``): the one change it was
claimed for, under a key stable across that change's attempts. A retry of that change finds
the window its own and claims it again (its end unchanged); any other claimant finds it taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from chalicelib.store.table import Table, _epoch, _item, _plain, _ser

BATCH_GET = 100  # BatchGetItem reads at most 100 items per call


@dataclass(frozen=True)
class LockResult:
    """Outcome of a lock attempt: who holds it now."""

    acquired: bool
    holder: str
    expires_at: int


class LockHolder(NamedTuple):
    """Who holds a lock, until when and since when (epoch seconds; ``taken_at`` None for a
    lock written before locks recorded it)."""

    owner: str
    lease_until: int
    taken_at: int | None = None


# Free to take: nobody holds it, its lease ran out, the owner takes it again, or (``:over``)
# the holder a caller found stale is still the one holding it.
_TAKEABLE = "attribute_not_exists(pk) OR lease_until < :now OR #o = :owner OR #o = :over"


def _lock_put(
    table: str, name: str, owner: str, *, expires: int, now: datetime, over: str | None
) -> dict[str, Any]:
    """The conditional Put that takes lock ``name`` for ``owner`` (PutItem or a transaction's)."""
    return {
        "TableName": table,
        "Item": _item(
            {
                "pk": f"LOCK#{name}",
                "sk": "LOCK",
                "owner": owner,
                "lease_until": expires,
                "taken_at": _epoch(now),
                "expires_at": expires + 86400,
            }
        ),
        "ConditionExpression": _TAKEABLE,
        "ExpressionAttributeNames": {"#o": "owner"},
        "ExpressionAttributeValues": {
            ":now": _ser(_epoch(now)),
            ":owner": _ser(owner),
            ":over": _ser(over or owner),
        },
    }


class CooldownClaim(NamedTuple):
    """Outcome of claiming a cooldown window: ``claimed`` it, or not; the window ends ``until``."""

    claimed: bool
    until: int


class LockStore(Table):
    """Leased locks (one holder at a time) and cooldown windows."""

    def acquire_lock(
        self,
        name: str,
        owner: str,
        *,
        lease_seconds: int,
        now: datetime,
        over: str | None = None,
    ) -> LockResult:
        """Take the lock ``name`` for ``owner`` unless someone else holds an unexpired lease
        (``over``: a holder found stale, taken over only if it still holds it)."""
        expires = _epoch(now) + lease_seconds
        put = _lock_put(self._table, name, owner, expires=expires, now=now, over=over)
        try:
            self._ddb.put_item(**put)
        except self._ddb.exceptions.ConditionalCheckFailedException:
            holder = self.lock_holder(name)
            if holder is None:  # released in between: try once more
                return self.acquire_lock(name, owner, lease_seconds=lease_seconds, now=now)
            return LockResult(False, holder[0], holder[1])
        return LockResult(True, owner, expires)

    def lock_holder(self, name: str) -> LockHolder | None:
        """Who holds a lock, until when and since when, or None when free."""
        lock = self._get(f"LOCK#{name}", "LOCK")
        if lock is None:
            return None
        taken = lock.get("taken_at")
        return LockHolder(lock["owner"], int(lock["lease_until"]), int(taken) if taken else None)

    def lock_holders(self, names: list[str]) -> dict[str, LockHolder]:
        """``lock_holder`` of several locks: one consistent BatchGetItem per 100; the held ones."""
        out: dict[str, LockHolder] = {}
        for start in range(0, len(names), BATCH_GET):
            keys = [
                _item({"pk": f"LOCK#{n}", "sk": "LOCK"}) for n in names[start : start + BATCH_GET]
            ]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:  # what DynamoDB left unprocessed, asked for again
                resp = self._ddb.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self._table, []):
                    lock = _plain(item)
                    taken = lock.get("taken_at")
                    out[str(lock["pk"]).removeprefix("LOCK#")] = LockHolder(
                        lock["owner"], int(lock["lease_until"]), int(taken) if taken else None
                    )
                request = dict(resp.get("UnprocessedKeys") or {})
        return out

    def release_lock(self, name: str, owner: str) -> bool:
        """Release the lock if ``owner`` still holds it."""
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key=_item({"pk": f"LOCK#{name}", "sk": "LOCK"}),
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": _ser(owner)},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def renew_lock(self, name: str, owner: str, *, lease_seconds: int, now: datetime) -> bool:
        """Extend ``owner``'s lease on ``name`` to ``lease_seconds`` from ``now`` (or take it
        back when it has lapsed and is free). False when someone else holds it."""
        expires = _epoch(now) + lease_seconds
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": f"LOCK#{name}", "sk": "LOCK"}),
                UpdateExpression="SET #o = :owner, lease_until = :until, expires_at = :ttl",
                ConditionExpression="attribute_not_exists(pk) OR #o = :owner OR lease_until < :now",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={
                    ":owner": _ser(owner),
                    ":until": _ser(expires),
                    ":ttl": _ser(expires + 86400),
                    ":now": _ser(_epoch(now)),
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def claim_cooldown(
        self, key: str, *, seconds: int, now: datetime, note: str = "", owner: str = ""
    ) -> CooldownClaim:
        """Claim the cooldown window ``key`` if it is free, or if ``owner`` (when given) is the
        one that claimed it (claimed again, until when it first was); else say until when it is
        taken."""
        until = _epoch(now) + seconds
        if seconds <= 0:  # no window at all: always free, nothing to remember
            return CooldownClaim(True, until)
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=_item(
                    {
                        "pk": f"COOLDOWN#{key}",
                        "sk": "COOLDOWN",
                        "until": until,
                        "note": note,
                        "owner": owner,
                        "expires_at": until + 3600,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR #u < :now",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues={":now": _ser(_epoch(now))},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            window = self._get(f"COOLDOWN#{key}", "COOLDOWN")
            if window is None:
                return CooldownClaim(False, until)
            ours = bool(owner) and window.get("owner") == owner
            return CooldownClaim(ours, int(window["until"]))
        return CooldownClaim(True, until)

    def cooldown_until(self, key: str, *, now: datetime) -> int | None:
        """When the cooldown window ``key`` ends (epoch seconds), or None when it is free."""
        window = self._get(f"COOLDOWN#{key}", "COOLDOWN")
        if window is None or int(window["until"]) < _epoch(now):
            return None
        return int(window["until"])

    def release_cooldown(self, key: str) -> None:
        """Give a claimed cooldown window back (the action it guarded did nothing)."""
        self._ddb.delete_item(
            TableName=self._table, Key=_item({"pk": f"COOLDOWN#{key}", "sk": "COOLDOWN"})
        )
