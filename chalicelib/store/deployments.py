"""Deployment records and the ECS-deployment index: ``Deployment`` in and out, items inside."""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Any

from chalicelib.records.deployment import Deployment, DeploymentEvent, EcsDeploymentRef
from chalicelib.records.status import DeploymentPhase, DeploymentStatus
from chalicelib.store.table import _DEPLOYMENT_TTL_SECONDS, Table, _epoch, _item

_ECS_INDEX_TTL_SECONDS = 30 * 86400
_FIELDS = frozenset(f.name for f in dataclass_fields(Deployment))
_SETTABLE = _FIELDS - {"id", "events"}  # events are appended, one at a time


def _event_item(event: DeploymentEvent) -> dict[str, str]:
    return {"at": event.at, "status": str(event.status), "message": event.message}


def _deployment_item(deployment: Deployment) -> dict[str, Any]:
    """The attributes of a deployment item (None values are left out when written)."""
    attrs: dict[str, Any] = {name: getattr(deployment, name) for name in sorted(_FIELDS)}
    attrs["status"] = str(deployment.status)
    attrs["phase"] = str(deployment.phase) if deployment.phase else None
    attrs["events"] = [_event_item(e) for e in deployment.events]
    return attrs


def _deployment(attrs: dict[str, Any]) -> Deployment:
    """A deployment item (keys and TTL already gone) as a ``Deployment``."""
    known = {k: v for k, v in attrs.items() if k in _FIELDS}
    known["status"] = DeploymentStatus(known["status"])
    if known.get("phase"):
        known["phase"] = DeploymentPhase(known["phase"])
    known["timeout_seconds"] = int(known["timeout_seconds"])
    known["events"] = [
        DeploymentEvent(at=e["at"], status=DeploymentStatus(e["status"]), message=e["message"])
        for e in known.get("events", [])
    ]
    return Deployment(**known)


def _field_value(value: object) -> object:
    return str(value) if isinstance(value, DeploymentStatus | DeploymentPhase) else value


class DeploymentStore(Table):
    """Deployment records and the ECS-deployment index."""

    def put_deployment(self, deployment: Deployment, *, now: datetime) -> None:
        """Create a deployment record; its id must be new."""
        attrs = {
            "pk": f"DEP#{deployment.id}",
            "sk": "DEP",
            "expires_at": _epoch(now) + _DEPLOYMENT_TTL_SECONDS,
            **_deployment_item(deployment),
        }
        self._ddb.put_item(
            TableName=self._table,
            Item=_item(attrs),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_deployment(self, deployment_id: str) -> Deployment | None:
        """A deployment record, or None."""
        attrs = self._get(f"DEP#{deployment_id}", "DEP")
        return _deployment(attrs) if attrs is not None else None

    def update_deployment(
        self,
        deployment_id: str,
        *,
        event: DeploymentEvent | None = None,
        expect_status: tuple[DeploymentStatus, ...] = (),
        **fields: object,
    ) -> bool:
        """Set fields of a deployment (by their ``Deployment`` names) and append an event; with
        ``expect_status``, only from those statuses.

        Returns False when the status condition did not hold (another worker got there first).
        """
        unknown = set(fields) - _SETTABLE
        if unknown:
            raise TypeError(f"not settable deployment fields: {sorted(unknown)}")
        return self._update(
            f"DEP#{deployment_id}",
            "DEP",
            {k: _field_value(v) for k, v in fields.items()},
            event=_event_item(event) if event is not None else None,
            expect_status=tuple(str(s) for s in expect_status),
        )

    def index_ecs_deployment(
        self, ecs_deployment_id: str, ref: EcsDeploymentRef, *, now: datetime
    ) -> None:
        """Remember which opsbot deployment (and phase) an ECS deployment id belongs to."""
        self._put(
            {
                "pk": f"ECSDEP#{ecs_deployment_id}",
                "sk": "ECSDEP",
                "deployment_id": ref.deployment_id,
                "role": str(ref.role),
                "expires_at": _epoch(now) + _ECS_INDEX_TTL_SECONDS,
            }
        )

    def deployment_for_ecs(self, ecs_deployment_id: str) -> EcsDeploymentRef | None:
        """The opsbot deployment, and its phase, behind an ECS deployment id."""
        pointer = self._get(f"ECSDEP#{ecs_deployment_id}", "ECSDEP")
        if pointer is None:
            return None
        return EcsDeploymentRef(
            deployment_id=str(pointer["deployment_id"]),
            role=DeploymentPhase(pointer.get("role", DeploymentPhase.ROLLOUT)),
        )
