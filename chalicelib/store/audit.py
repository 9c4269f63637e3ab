"""The audit trail: who did what to which target, with what result."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from chalicelib.store.table import _AUDIT_TTL_SECONDS, Table, _epoch, _plain, _ser


class AuditStore(Table):
    """The audit trail: who did what to which target, with what result."""

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
        """Append one audit entry: who did what to which target, with what result."""
        at = now.isoformat().replace("+00:00", "Z")
        service = target.split("/", 1)[1] if "/" in target else target
        self._put(
            {
                "pk": f"AUDIT#{environment}",
                "sk": f"{at}#{uuid.uuid4().hex[:8]}",
                "at": at,
                "actor": actor,
                "action": action,
                "environment": environment,
                "service": service,
                "target": target,
                "result": result,
                "expires_at": _epoch(now) + _AUDIT_TTL_SECONDS,
                **{k: v for k, v in details.items() if v is not None},
            }
        )

    def audit_entries(
        self, *, environment: str, service: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Newest-first audit entries of one environment, optionally of one service."""
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _ser(f"AUDIT#{environment}")},
            "ScanIndexForward": False,
        }
        if service:
            kwargs["FilterExpression"] = "#svc = :svc"
            kwargs["ExpressionAttributeNames"] = {"#svc": "service"}
            kwargs["ExpressionAttributeValues"][":svc"] = _ser(service)
        while len(out) < limit:
            resp = self._ddb.query(**kwargs, Limit=max(limit * 2, 25))
            for item in resp.get("Items", []):
                entry = _plain(item)
                for key in ("pk", "sk", "expires_at"):
                    entry.pop(key, None)
                out.append(entry)
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return out[:limit]
