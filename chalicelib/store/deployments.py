"""Deployment records and the ECS-deployment index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.store.table import _DEPLOYMENT_TTL_SECONDS, Table, _epoch, _item


class DeploymentStore(Table):
    """Deployment records and the ECS-deployment index."""

    def put_deployment(self, record: dict[str, Any], *, now: datetime) -> None:
        """Create a deployment record; its id must be new."""
        attrs = {
            "pk": f"DEP#{record['id']}",
            "sk": "DEP",
            "expires_at": _epoch(now) + _DEPLOYMENT_TTL_SECONDS,
            **record,
        }
        self._ddb.put_item(
            TableName=self._table,
            Item=_item(attrs),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_deployment(self, deployment_id: str) -> dict[str, Any] | None:
        """A deployment record, or None."""
        record = self._get(f"DEP#{deployment_id}", "DEP")
        if record is not None:
            for key in ("task_definition", "previous_task_definition"):  # the contract lists them
                record.setdefault(key, None)
        return record

    def update_deployment(
        self,
        deployment_id: str,
        *,
        event: dict[str, Any] | None = None,
        expect_status: tuple[str, ...] = (),
        **fields: Any,
    ) -> bool:
        """Set fields and append an event; with ``expect_status``, only from those statuses.

        Returns False when the status condition did not hold (another worker got there first).
        """
        return self._update(
            f"DEP#{deployment_id}", "DEP", fields, event=event, expect_status=expect_status
        )

    def index_ecs_deployment(
        self, ecs_deployment_id: str, deployment_id: str, *, role: str, now: datetime
    ) -> None:
        """Remember which opsbot deployment an ECS deployment id belongs to."""
        self._put(
            {
                "pk": f"ECSDEP#{ecs_deployment_id}",
                "sk": "ECSDEP",
                "deployment_id": deployment_id,
                "role": role,
                "expires_at": _epoch(now) + 30 * 86400,
            }
        )

    def deployment_for_ecs(self, ecs_deployment_id: str) -> tuple[str, str] | None:
        """(opsbot deployment id, role "rollout"|"rollback") behind an ECS deployment id."""
        pointer = self._get(f"ECSDEP#{ecs_deployment_id}", "ECSDEP")
        if pointer is None:
            return None
        return pointer["deployment_id"], pointer.get("role", "rollout")
