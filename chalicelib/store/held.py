"""The alarm reactions the blast-radius caps held, and their way to being applied.

Items ``HELD#<env>#<bucket>`` / ``<target label>#<claim>`` (``HeldReaction``), written held by
``CapStore.hold_automated``. Each moves by conditional writes only, each recorded before the
side effect it guards, so a worker that dies anywhere resumes on redelivery:

- ``held`` -> ``approved`` (``approve_held``): who approved it, and for a scaling step the count
  it was at then and the count it is to be set to (``approved_from``, ``approved_to``), computed
  once: a redelivery sets that count again (idempotent), never a second step;
- a forced new deployment has no count to compare: ``forcing_since`` (``held_forcing``) is
  recorded on the approved item before it is forced, so a redelivery asks ECS whether it was;
- ``approved`` -> ``applied`` (``finish_held``): what was done, in one transaction with its audit
  entry, so the entry is written once however often the work runs;
- ``held`` -> ``skipped`` (``finish_held``): not applied (its alarm had recovered), with its
  audit entry.
"""

from __future__ import annotations

from typing import Any

from chalicelib.records.audit import AuditEntry
from chalicelib.records.guards import HeldReaction
from chalicelib.store.audit import audit_items
from chalicelib.store.table import Condition, Table, _item, _plain, _ser

HELD_FIELDS = (
    "rule",
    "state",
    "alarm",
    "target",
    "at",
    "reason",
    "before",
    "after",
    "status",
    "changed",
)
_LATER_FIELDS = ("approved_by", "approved_from", "approved_to", "outcome")


def held_pk(environment: str, bucket: str) -> str:
    """The partition of the reactions held in ``environment`` in the minute ``bucket``."""
    return f"HELD#{environment}#{bucket}"


def _held_of(environment: str, bucket: str, raw: dict[str, Any]) -> HeldReaction:
    plain = _plain(raw)
    fields: dict[str, Any] = {name: plain.get(name) for name in HELD_FIELDS + _LATER_FIELDS}
    return HeldReaction(environment=environment, bucket=bucket, key=plain["sk"], **fields)


class HeldStore(Table):
    """The held reactions of an environment's minute: read, approved, applied or skipped."""

    def held_reactions(self, environment: str, bucket: str) -> list[HeldReaction]:
        """Every reaction held in ``environment`` in the minute ``bucket`` (all pages)."""
        out: list[HeldReaction] = []
        after: str | None = None
        while True:
            page, after = self.held_page(environment, bucket, after=after, limit=None)
            out.extend(page)
            if after is None:
                return out

    def held_page(
        self, environment: str, bucket: str, *, after: str | None, limit: int | None
    ) -> tuple[list[HeldReaction], str | None]:
        """One page of the minute's held reactions, from the one after the key ``after``; and
        the key to start the next page after (None: this was the last page)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _ser(held_pk(environment, bucket))},
            "ConsistentRead": True,
        }
        if limit is not None:
            kwargs["Limit"] = limit
        if after is not None:
            kwargs["ExclusiveStartKey"] = _item({"pk": held_pk(environment, bucket), "sk": after})
        resp = self._ddb.query(**kwargs)
        page = [_held_of(environment, bucket, raw) for raw in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return page, (_plain(last)["sk"] if last else None)

    def approve_held(
        self, held: HeldReaction, *, by: str, count_from: int | None, count_to: int | None
    ) -> bool:
        """``held`` -> ``approved`` by ``by``, with the count it is to be set to (None for a
        change that is no count); False when it is no longer held."""
        values: dict[str, Any] = {":approved": "approved", ":held": "held", ":by": by}
        sets = "#s = :approved, approved_by = :by"
        if count_from is not None and count_to is not None:
            sets += ", approved_from = :from, approved_to = :to"
            values.update({":from": count_from, ":to": count_to})
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": held_pk(held.environment, held.bucket), "sk": held.key}),
                UpdateExpression=f"SET {sets}",
                ConditionExpression="#s = :held",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={k: _ser(v) for k, v in values.items()},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def held_forcing(self, held: HeldReaction, at: int) -> int | None:
        """Record that the approved reaction is forcing a new deployment since ``at`` (epoch
        seconds): None, or the time an earlier attempt recorded (it may have forced it)."""
        approved = Condition("#s = :approved", {"#s": "status"}, {":approved": "approved"})
        return self._forcing_since(held_pk(held.environment, held.bucket), held.key, at, approved)

    def finish_held(
        self,
        held: HeldReaction,
        *,
        status: str,
        was: str,
        outcome: str,
        audit: AuditEntry | None,
    ) -> bool:
        """``was`` -> ``status`` (``applied`` or ``skipped``) with what was done, and its audit
        entry, in one transaction; False when another run finished it first."""
        update: Any = {
            "Update": {
                "TableName": self._table,
                "Key": _item({"pk": held_pk(held.environment, held.bucket), "sk": held.key}),
                "UpdateExpression": "SET #s = :status, outcome = :outcome",
                "ConditionExpression": "#s = :was",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {
                    ":status": _ser(status),
                    ":outcome": _ser(outcome[:800]),
                    ":was": _ser(was),
                },
            }
        }
        puts = audit_items(audit) if audit is not None else []
        writes = [update, *({"Put": {"TableName": self._table, "Item": i}} for i in puts)]
        try:
            self._ddb.transact_write_items(TransactItems=writes)
        except self._ddb.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise
        return True
