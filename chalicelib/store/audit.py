"""The audit trail: who did what to which target, with what result.

Each entry is written twice in one transaction, with the same sort key (its time): under
``AUDIT#<environment>`` and under ``AUDIT#<environment>#<target name>``, so a read of one
environment, or of one target in it, is a single newest-first query that reads no more items
than its limit asks for (no filter, no paging through the partition). An entry that records
something done (``AuditEntry.done``: not a refused request, not a skipped reaction) is written
a third time, under ``HISTORY#<environment>#<target name>``: a target's history, which refusals
never crowd.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from chalicelib.records.audit import AuditEntry
from chalicelib.store.table import _AUDIT_TTL_SECONDS, Table, _epoch, _item, _plain, _ser

_FIXED = ("at", "actor", "action", "environment", "service", "target", "result")
_KEYS = ("pk", "sk", "expires_at")


def _partition(environment: str, service: str | None = None) -> str:
    return f"AUDIT#{environment}#{service}" if service else f"AUDIT#{environment}"


def _history(environment: str, service: str) -> str:
    return f"HISTORY#{environment}#{service}"


def _entry_to_item(entry: AuditEntry) -> dict[str, Any]:
    return {
        "pk": _partition(entry.environment),
        "sk": f"{entry.stamp}#{uuid.uuid4().hex[:8]}",
        "at": entry.stamp,
        "actor": entry.actor,
        "action": entry.action,
        "environment": entry.environment,
        "service": entry.service,
        "target": entry.target,
        "result": entry.result,
        "expires_at": _epoch(entry.at) + _AUDIT_TTL_SECONDS,
        **entry.extras(),
    }


def _item_to_entry(item: dict[str, Any]) -> AuditEntry:
    return _plain_to_entry(_plain(item))


def _plain_to_entry(plain: dict[str, Any]) -> AuditEntry:
    details = {k: v for k, v in plain.items() if k not in _FIXED and k not in _KEYS}
    return AuditEntry.of(
        at=datetime.fromisoformat(plain["at"]),
        actor=plain["actor"],
        action=plain["action"],
        environment=plain["environment"],
        target=plain["target"],
        result=plain["result"],
        **details,
    )


def audit_items(entry: AuditEntry) -> list[dict[str, Any]]:
    """The DynamoDB items of one entry (its environment's, its target's and, when it records
    something done, its target's history): for a transaction that writes it with others."""
    item = _entry_to_item(entry)
    items = [item, {**item, "pk": _partition(entry.environment, entry.service)}]
    if entry.done:
        items.append({**item, "pk": _history(entry.environment, entry.service)})
    return [_item(i) for i in items]


class AuditStore(Table):
    """The audit trail (see the module): an environment's, a target's, a target's history."""

    def append_audit(self, entry: AuditEntry) -> None:
        """Append one entry to the trail (its environment's and its target's partitions)."""
        self._ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self._table, "Item": i}} for i in audit_items(entry)
            ]
        )

    def audit(
        self,
        *,
        now: datetime,
        actor: str,
        action: str,
        environment: str,
        target: str,
        result: str,
        **details: Any,
    ) -> None:
        """Append one entry given by keywords (``AuditEntry.of``); details may be None."""
        self.append_audit(
            AuditEntry.of(
                at=now,
                actor=actor,
                action=action,
                environment=environment,
                target=target,
                result=result,
                **details,
            )
        )

    def audit_entries(
        self, *, environment: str, service: str | None, limit: int
    ) -> list[AuditEntry]:
        """Newest-first audit entries of one environment, optionally of one target: at most
        ``limit`` items read."""
        return self._newest(_partition(environment, service), limit)

    def audit_page(
        self, *, environments: list[str], service: str | None, limit: int, before: str | None
    ) -> tuple[list[AuditEntry], str | None]:
        """One page of the newest audit entries of these environments together (of one target
        in each, when ``service``), older than ``before`` (a position this returned): the
        entries and the position of the next page (None: no more)."""
        partitions = [_partition(environment, service) for environment in environments]
        items, after = self._newest_merged(partitions, limit, before)
        return [_plain_to_entry(item) for item in items], after

    def history_entries(self, *, environment: str, target: str, limit: int) -> list[AuditEntry]:
        """Newest-first entries of what was done to one target (``AuditEntry.done``): at most
        ``limit`` items read."""
        return self._newest(_history(environment, target), limit)

    def _newest(self, partition: str, limit: int) -> list[AuditEntry]:
        out: list[AuditEntry] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _ser(partition)},
            "ScanIndexForward": False,
        }
        while len(out) < limit:  # more than one page only when a page hits DynamoDB's 1 MB
            resp = self._ddb.query(**kwargs, Limit=limit - len(out))
            out.extend(_item_to_entry(item) for item in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return out[:limit]
