"""Blast-radius caps: a per-environment, per-minute counter of automated changes, and the
reactions it held.

Items (``bucket`` is the UTC minute, ``2026-12-06T20:15``):

- ``CAP#<env>`` / ``<bucket>``: ``n`` (changes admitted) and ``targets`` (a string set of the
  targets changed) in that minute;
- ``CAPCLAIM#<claim>`` / ``CAP``: the decision for one reaction of one alarm state change
  (``admitted`` or ``held``), whatever attempt or redelivery asks again; an admitted scaling
  step records with it the count it sets, ``count_from`` -> ``count_to`` (``recorded_step``:
  a retry sets that count, never a second step); an admitted forced new deployment records
  ``forcing_since`` before it is forced (``claim_forcing``);
- ``HELD#<env>#<bucket>`` / ``<target label>#<claim>``: a held reaction (``HeldReaction``;
  approved and applied through ``store.held``).

A reaction is admitted by one transaction: its claim (``attribute_not_exists``) and the
counter's ``ADD n :one, targets :t`` under ``n < cap AND (target already counted OR
size(targets) < cap)``. Over a cap, one transaction writes its claim as ``held``, the held
item and its audit entry (``alarm_reaction`` / ``held_by_cap``). Either way a redelivery or a
retry after a crash finds the claim and keeps its decision: never a second slot, never held
and applied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.records.audit import AuditEntry
from chalicelib.records.guards import CapDecision, HeldReaction
from chalicelib.store.audit import audit_items
from chalicelib.store.held import HELD_FIELDS, held_pk
from chalicelib.store.table import Condition, Table, _epoch, _item, _ser

_TTL_SECONDS = 2 * 86400
_HELD_TTL_SECONDS = 30 * 86400


def _claim_put(
    table: str,
    claim: str,
    decision: str,
    reason: str,
    expires: int,
    bucket: str | None = None,
    **counts: int | None,
) -> dict[str, Any]:
    recorded: dict[str, Any] = {k: v for k, v in counts.items() if v is not None}
    if bucket is not None:
        recorded["bucket"] = bucket
    return {
        "Put": {
            "TableName": table,
            "Item": _item(
                {
                    "pk": f"CAPCLAIM#{claim}",
                    "sk": "CAP",
                    "decision": decision,
                    "reason": reason,
                    "expires_at": expires,
                    **recorded,
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


class CapStore(Table):
    """The cap counter, each reaction's decision, the held reactions."""

    def admit_automated(
        self,
        *,
        claim: str,
        environment: str,
        target: str,
        now: datetime,
        max_changes: int,
        max_targets: int,
        count_from: int | None = None,
        count_to: int | None = None,
    ) -> CapDecision | None:
        """Take one slot of ``environment``'s caps this minute for ``target``, once per
        ``claim``: admitted (first or again), the earlier decision of this claim, or None when
        the caps are full (nothing written: hold it with ``hold_automated``). A scaling step
        records the count it sets (``count_from`` -> ``count_to``) with its claim."""
        if max_changes <= 0 or max_targets <= 0:
            return self._decided(claim)
        expires = _epoch(now) + _TTL_SECONDS
        counter: Any = {
            "Update": {
                "TableName": self._table,
                "Key": _item({"pk": f"CAP#{environment}", "sk": bucket_of(now)}),
                "UpdateExpression": "ADD #n :one, #t :target SET expires_at = :ttl",
                "ConditionExpression": "(attribute_not_exists(#n) OR #n < :changes) AND "
                "(attribute_not_exists(#t) OR contains(#t, :name) OR size(#t) < :targets)",
                "ExpressionAttributeNames": {"#n": "n", "#t": "targets"},
                "ExpressionAttributeValues": {
                    ":one": _ser(1),
                    ":target": {"SS": [target]},
                    ":name": _ser(target),
                    ":changes": _ser(max_changes),
                    ":targets": _ser(max_targets),
                    ":ttl": _ser(expires),
                },
            }
        }
        put: Any = _claim_put(
            self._table, claim, "admitted", "", expires, bucket_of(now),
            count_from=count_from, count_to=count_to,
        )  # fmt: skip
        try:
            self._ddb.transact_write_items(TransactItems=[put, counter])
        except self._ddb.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons") or []
            codes = [r.get("Code") for r in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                return self._decided(claim)
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                return None
            raise
        return CapDecision(admitted=True, reason="", first=True, bucket=bucket_of(now))

    def _decided(self, claim: str) -> CapDecision | None:
        found = self._get(f"CAPCLAIM#{claim}", "CAP")
        if found is None:
            return None
        admitted, reason = found["decision"] == "admitted", found.get("reason", "")
        return CapDecision(admitted, reason, first=False, bucket=found.get("bucket"))

    def recorded_step(self, claim: str) -> tuple[int, int] | None:
        """The count the admitted reaction ``claim`` recorded it sets (from, to), or None (not
        admitted, or not a scaling step)."""
        found = self._get(f"CAPCLAIM#{claim}", "CAP")
        if found is None or found["decision"] != "admitted" or "count_to" not in found:
            return None
        return int(found["count_from"]), int(found["count_to"])

    def claim_forcing(self, claim: str, at: int) -> int | None:
        """Record that the admitted reaction ``claim`` is forcing a new deployment since ``at``
        (epoch seconds): None, or the time an earlier attempt recorded (it may have forced it)."""
        admitted = Condition("#d = :admitted", {"#d": "decision"}, {":admitted": "admitted"})
        return self._forcing_since(f"CAPCLAIM#{claim}", "CAP", at, admitted)

    def cap_usage(self, environment: str, now: datetime) -> tuple[int, int]:
        """(changes admitted, distinct targets changed) in ``environment`` this minute."""
        found = self._get(f"CAP#{environment}", bucket_of(now)) or {}
        return int(found.get("n", 0)), len(found.get("targets", []))

    def hold_automated(self, *, claim: str, held: HeldReaction, audit: AuditEntry) -> CapDecision:
        """Record a reaction the caps held, with its audit entry, in one transaction; the
        decision an earlier attempt of the same claim made if there was one."""
        expires = int(datetime.fromisoformat(held.at).timestamp()) + _HELD_TTL_SECONDS
        item = {
            "pk": held_pk(held.environment, held.bucket),
            "sk": held.key,
            **{name: getattr(held, name) for name in HELD_FIELDS},
            "expires_at": expires,
        }
        writes: list[Any] = [
            _claim_put(self._table, claim, "held", held.reason, expires),
            {"Put": {"TableName": self._table, "Item": _item(item)}},
            *({"Put": {"TableName": self._table, "Item": i}} for i in audit_items(audit)),
        ]
        try:
            self._ddb.transact_write_items(TransactItems=writes)
        except self._ddb.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                earlier = self._decided(claim)
                if earlier is not None:
                    return earlier
            raise
        return CapDecision(admitted=False, reason=held.reason, first=True)


def bucket_of(now: datetime) -> str:
    """The UTC minute of ``now``: ``2026-12-06T20:15``."""
    return now.strftime("%Y-%m-%dT%H:%M")
