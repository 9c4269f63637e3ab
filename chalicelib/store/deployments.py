"""Deployment records and the ECS-deployment index: ``Deployment`` in and out, items inside.

Each deployment is also listed, in the same transaction that creates it, under
``DEPLIST#<environment>`` and ``DEPLIST#<environment>#<service>`` (sort key: its creation time
and id; the item holds only the id), so the newest deployments of an environment or a service are
one query plus one consistent read per deployment, with no GSI and no scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.records.status import DeploymentPhase, DeploymentStatus, StartStep
from chalicelib.store.table import (
    _DEPLOYMENT_TTL_SECONDS,
    Condition,
    Table,
    _epoch,
    _item,
)

if TYPE_CHECKING:  # imported where used: a function that never reads a deployment (the alarm
    # function: every sub-store is mixed into ``Store``) does not load the records' module
    from chalicelib.records.deployment import Deployment, DeploymentEvent, EcsDeploymentRef

_ECS_INDEX_TTL_SECONDS = 30 * 86400


@cache
def _fields() -> frozenset[str]:
    """The fields of ``Deployment``."""
    from chalicelib.records.deployment import Deployment

    return frozenset(f.name for f in dataclass_fields(Deployment))


@cache
def _settable_fields() -> frozenset[str]:
    """The fields an update may set: events are appended, one at a time."""
    return _fields() - {"id", "events"}


def _event_item(event: DeploymentEvent) -> dict[str, str]:
    return {"at": event.at, "status": str(event.status), "message": event.message}


def _deployment_item(deployment: Deployment) -> dict[str, Any]:
    """The attributes of a deployment item (None values are left out when written)."""
    attrs: dict[str, Any] = {name: getattr(deployment, name) for name in sorted(_fields())}
    attrs["status"] = str(deployment.status)
    attrs["phase"] = str(deployment.phase) if deployment.phase else None
    attrs["events"] = [_event_item(e) for e in deployment.events]
    return attrs


def _deployment(attrs: dict[str, Any]) -> Deployment:
    """A deployment item (keys and TTL already gone) as a ``Deployment``."""
    from chalicelib.records.deployment import Deployment, DeploymentEvent

    known = {k: v for k, v in attrs.items() if k in _fields()}
    known["status"] = DeploymentStatus(known["status"])
    if known.get("phase"):
        known["phase"] = DeploymentPhase(known["phase"])
    if known.get("step"):
        known["step"] = StartStep(known["step"])
    known["timeout_seconds"] = int(known["timeout_seconds"])
    known["events"] = [
        DeploymentEvent(at=e["at"], status=DeploymentStatus(e["status"]), message=e["message"])
        for e in known.get("events", [])
    ]
    return Deployment(**known)


def _field_value(value: object) -> object:
    if isinstance(value, DeploymentStatus | DeploymentPhase | StartStep):
        return str(value)
    return value


# Free to take: nobody holds the deployment's lease, or it has run out.
_LEASE_FREE = "(attribute_not_exists(#lu) OR #lu < :now)"
# A deployment whose start has not finished (no rollout phase yet) that is free to take.
_START_FREE = f"attribute_not_exists(#ph) AND (#st = :queued OR (#st = :running AND {_LEASE_FREE}))"
# A rollout free to roll back, or a rollback whose start did not finish and is free to take.
_ROLLBACK_FREE = (
    f"#st = :running AND (#ph = :rollout OR (#ph = :rollback AND {_LEASE_FREE} "
    "AND attribute_not_exists(rollback_ecs_deployment_id)))"
)
_CLAIM_NAMES = {"#lu": "lease_until", "#ph": "phase", "#st": "status"}


@dataclass(frozen=True)
class DeploymentUpdate:
    """One update of a deployment, for ``DeploymentStore.update_deployments`` (together)."""

    deployment_id: str
    fields: dict[str, object]
    event: DeploymentEvent | None = None
    expect_status: tuple[DeploymentStatus, ...] = field(default=())


def _key(deployment_id: str) -> tuple[str, str]:
    return f"DEP#{deployment_id}", "DEP"


def _list_partition(environment: str, service: str | None) -> str:
    return f"DEPLIST#{environment}#{service}" if service else f"DEPLIST#{environment}"


def _settable(fields: dict[str, object]) -> dict[str, object]:
    unknown = set(fields) - _settable_fields()
    if unknown:
        raise TypeError(f"not settable deployment fields: {sorted(unknown)}")
    return {k: _field_value(v) for k, v in fields.items()}


def _creation_puts(table: str, deployment: Deployment, now: datetime) -> list[dict[str, Any]]:
    """The Puts that create a deployment (conditional on its id being new) and list it."""
    attrs = {
        "pk": f"DEP#{deployment.id}",
        "sk": "DEP",
        "expires_at": _epoch(now) + _DEPLOYMENT_TTL_SECONDS,
        **_deployment_item(deployment),
    }
    listed = [
        {
            "pk": _list_partition(deployment.environment, service),
            "sk": f"{deployment.created_at}#{deployment.id}",
            "deployment_id": deployment.id,
            "expires_at": attrs["expires_at"],
        }
        for service in (None, deployment.service)
    ]
    new = {
        "TableName": table,
        "Item": _item(attrs),
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    return [new, *({"TableName": table, "Item": _item(i)} for i in listed)]


class DeploymentStore(Table):
    """Deployment records and the ECS-deployment index."""

    def put_deployment(self, deployment: Deployment, *, now: datetime) -> None:
        """Create a deployment record; its id must be new."""
        puts = _creation_puts(self._table, deployment, now)
        self._ddb.transact_write_items(TransactItems=[{"Put": p} for p in puts])  # type: ignore[typeddict-item]

    def get_deployment(self, deployment_id: str) -> Deployment | None:
        """A deployment record, or None."""
        attrs = self._get(f"DEP#{deployment_id}", "DEP")
        return _deployment(attrs) if attrs is not None else None

    def recent_deployments(
        self, *, environment: str, service: str | None, limit: int
    ) -> list[Deployment]:
        """The newest ``limit`` deployments of an environment (or of one service in it)."""
        return self.deployment_page(
            environments=[environment], service=service, limit=limit, before=None
        )[0]

    def deployment_page(
        self, *, environments: list[str], service: str | None, limit: int, before: str | None
    ) -> tuple[list[Deployment], str | None]:
        """One page of the newest deployments of these environments together (of one service
        in each, when ``service``), older than ``before`` (a position this returned): one query
        per list, then each deployment of the page read consistently. The deployments and the
        position of the next page (None: no more)."""
        partitions = [_list_partition(environment, service) for environment in environments]
        listed, after = self._newest_merged(partitions, limit, before)
        found = (self.get_deployment(str(item["deployment_id"])) for item in listed)
        return [record for record in found if record is not None], after

    def update_deployment(
        self,
        deployment_id: str,
        *,
        event: DeploymentEvent | None = None,
        expect_status: tuple[DeploymentStatus, ...] = (),
        owner: str | None = None,
        **fields: object,
    ) -> bool:
        """Set fields of a deployment (by their ``Deployment`` names) and append an event; with
        ``expect_status``, only from those statuses; with ``owner``, only while that invocation
        holds the deployment's lease (a checkpoint of the one driving it).

        Returns False when the condition did not hold (another worker got there first).
        """
        condition = None
        if owner is not None:
            condition = Condition("#lo = :lo", {"#lo": "lease_owner"}, {":lo": owner})
        return self._update(
            *_key(deployment_id),
            _settable(fields),
            event=_event_item(event) if event is not None else None,
            expect_status=tuple(str(s) for s in expect_status),
            condition=condition,
        )

    def claim_start(
        self, deployment_id: str, *, owner: str, lease_until: int, now: datetime, **fields: object
    ) -> bool:
        """Take a deployment's start for ``owner`` (``in_progress``, leased until
        ``lease_until``): a queued one, or one whose start a dead invocation left unfinished
        (its lease run out). False when it has started its rollout, ended, or is leased."""
        values = {":now": _epoch(now), ":queued": "queued", ":running": "in_progress"}
        fields.update(status=DeploymentStatus.IN_PROGRESS, lease_owner=owner)
        fields["lease_until"] = lease_until
        return self._claim(deployment_id, fields, Condition(_START_FREE, _CLAIM_NAMES, values))

    def claim_rollback(
        self, deployment_id: str, *, owner: str, lease_until: int, now: datetime, **fields: object
    ) -> bool:
        """Take the rollback of an in-progress rollout for ``owner`` (phase ``rollback``, leased
        until ``lease_until``), or a rollback whose start a dead invocation left unfinished.
        False when another has it (one rollback, however many FAILED events)."""
        values = {
            ":now": _epoch(now),
            ":running": "in_progress",
            ":rollout": "rollout",
            ":rollback": "rollback",
        }
        fields.update(phase=DeploymentPhase.ROLLBACK, lease_owner=owner, lease_until=lease_until)
        return self._claim(deployment_id, fields, Condition(_ROLLBACK_FREE, _CLAIM_NAMES, values))

    def _claim(self, deployment_id: str, fields: dict[str, object], condition: Condition) -> bool:
        from chalicelib.records.deployment import DeploymentEvent

        event = fields.pop("event", None)
        return self._update(
            *_key(deployment_id),
            _settable(fields),
            event=_event_item(event) if isinstance(event, DeploymentEvent) else None,
            condition=condition,
        )

    def update_deployments(self, *updates: DeploymentUpdate) -> bool:
        """Several deployment updates in one transaction: all or none. False when a status
        condition did not hold (nothing was written)."""
        items = []
        for update in updates:
            request = self._update_input(
                *_key(update.deployment_id),
                _settable(update.fields),
                event=_event_item(update.event) if update.event is not None else None,
                expect_status=tuple(str(s) for s in update.expect_status),
            )
            if request is not None:
                items.append({"Update": {"TableName": self._table, **request}})
        try:
            self._ddb.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except self._ddb.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                return False
            raise
        return True

    def note_stopped_task(
        self, deployment_id: str, task_arn: str, *, ecs_deployment_id: str
    ) -> int | None:
        """Count a stopped task of a deployment's rollout (of ECS deployment
        ``ecs_deployment_id``): its ARN is ADDed to the item's set of stopped tasks, so a
        redelivered or duplicated event changes nothing. How many distinct tasks stopped, or
        None when the deployment no longer rolls that ECS deployment out."""
        try:
            resp = self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": _key(deployment_id)[0], "sk": _key(deployment_id)[1]}),
                UpdateExpression="ADD #tasks :task",
                ConditionExpression="#st = :running AND #ph = :rollout AND #ecs = :ecs",
                ExpressionAttributeNames={
                    "#tasks": "stopped_tasks",
                    "#st": "status",
                    "#ph": "phase",
                    "#ecs": "ecs_deployment_id",
                },
                ExpressionAttributeValues={
                    ":task": {"SS": [task_arn]},
                    ":running": {"S": str(DeploymentStatus.IN_PROGRESS)},
                    ":rollout": {"S": str(DeploymentPhase.ROLLOUT)},
                    ":ecs": {"S": ecs_deployment_id},
                },
                # ALL_NEW: a repeat changes nothing, and UPDATED_NEW may then leave the set out
                ReturnValues="ALL_NEW",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return None
        return len(resp.get("Attributes", {}).get("stopped_tasks", {}).get("SS", []))

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
        from chalicelib.records.deployment import EcsDeploymentRef

        pointer = self._get(f"ECSDEP#{ecs_deployment_id}", "ECSDEP")
        if pointer is None:
            return None
        return EcsDeploymentRef(
            deployment_id=str(pointer["deployment_id"]),
            role=DeploymentPhase(pointer.get("role", DeploymentPhase.ROLLOUT)),
        )
