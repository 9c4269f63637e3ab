"""DynamoDB state: deployments, locks, cooldowns, certificate rotations, audit.

One table, keys ``pk``/``sk``, TTL on ``expires_at`` (epoch seconds). Every state change that
can race is a conditional write; nothing here reads the clock by itself.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_AUDIT_TTL_SECONDS = 400 * 86400
_DEPLOYMENT_TTL_SECONDS = 400 * 86400
_ROTATION_TTL_SECONDS = 400 * 86400


def _ser(value: Any) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    return dict(TypeSerializer().serialize(value))


def _item(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser(v) for k, v in attrs.items() if v is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    out = {k: des.deserialize(v) for k, v in item.items()}
    plain: dict[str, Any] = json.loads(json.dumps(out, default=_num))
    return plain


def _num(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


@dataclass(frozen=True)
class LockResult:
    """Outcome of a lock attempt: who holds it now."""

    acquired: bool
    holder: str
    expires_at: int


class Store:
    """Typed access to the state table."""

    def __init__(self, *, ddb: DynamoDBClient, table: str) -> None:
        self._ddb = ddb
        self._table = table

    # -- deployments -------------------------------------------------------------------------

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """One item as a plain dict without its keys and TTL, or None."""
        resp = self._ddb.get_item(
            TableName=self._table, Key=_item({"pk": pk, "sk": sk}), ConsistentRead=True
        )
        item = resp.get("Item")
        if item is None:
            return None
        record = _plain(item)
        for key in ("pk", "sk", "expires_at"):
            record.pop(key, None)
        return record

    def _put(self, attrs: dict[str, Any]) -> None:
        """Write one item as given (pointers and marks that may simply be overwritten)."""
        self._ddb.put_item(TableName=self._table, Item=_item(attrs))

    def _update(
        self,
        pk: str,
        sk: str,
        fields: dict[str, Any],
        *,
        event: dict[str, Any] | None = None,
        expect_status: tuple[str, ...] = (),
        or_lease_expired: tuple[str, int] | None = None,
    ) -> bool:
        """SET ``fields`` (and append ``event`` to ``events``) if the item exists and, when
        given, its status is one of ``expect_status`` or is ``or_lease_expired[0]`` with a
        ``lease_until`` before ``or_lease_expired[1]``. False when the condition did not hold."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        for i, (key, value) in enumerate(fields.items()):
            names[f"#f{i}"] = key
            values[f":f{i}"] = _ser(value)
            sets.append(f"#f{i} = :f{i}")
        if event is not None:
            names["#ev"] = "events"
            values[":ev"] = _ser([event])
            values[":empty"] = _ser([])
            sets.append("#ev = list_append(if_not_exists(#ev, :empty), :ev)")
        if not sets:
            return True
        allowed: list[str] = []
        if expect_status:
            names["#st"] = "status"
            keys = []
            for i, status in enumerate(expect_status):
                values[f":s{i}"] = _ser(status)
                keys.append(f":s{i}")
            allowed.append(f"#st IN ({', '.join(keys)})")
        if or_lease_expired is not None:
            names["#st"] = "status"
            names["#lu"] = "lease_until"
            values[":leased"] = _ser(or_lease_expired[0])
            values[":now"] = _ser(or_lease_expired[1])
            allowed.append("(#st = :leased AND #lu < :now)")
        condition = "attribute_exists(pk)"
        if allowed:
            condition += f" AND ({' OR '.join(allowed)})"
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": pk, "sk": sk}),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

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

    # -- locks -------------------------------------------------------------------------------

    def acquire_lock(
        self, name: str, owner: str, *, lease_seconds: int, now: datetime
    ) -> LockResult:
        """Take the lock ``name`` for ``owner`` unless someone else holds an unexpired lease."""
        expires = _epoch(now) + lease_seconds
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=_item(
                    {
                        "pk": f"LOCK#{name}",
                        "sk": "LOCK",
                        "owner": owner,
                        "lease_until": expires,
                        "expires_at": expires + 86400,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR lease_until < :now OR #o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":now": _ser(_epoch(now)), ":owner": _ser(owner)},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            holder = self.lock_holder(name)
            if holder is None:  # released in between: try once more
                return self.acquire_lock(name, owner, lease_seconds=lease_seconds, now=now)
            return LockResult(False, holder[0], holder[1])
        return LockResult(True, owner, expires)

    def lock_holder(self, name: str) -> tuple[str, int] | None:
        """(owner, lease_until) of a lock, or None when free."""
        lock = self._get(f"LOCK#{name}", "LOCK")
        if lock is None:
            return None
        return lock["owner"], int(lock["lease_until"])

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

    # -- cooldowns ---------------------------------------------------------------------------

    def claim_cooldown(
        self, key: str, *, seconds: int, now: datetime, note: str = ""
    ) -> tuple[bool, int]:
        """Claim the cooldown window ``key``: (True, until) if free, else (False, current until)."""
        until = _epoch(now) + seconds
        if seconds <= 0:  # no window at all: always free, nothing to remember
            return True, until
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=_item(
                    {
                        "pk": f"COOLDOWN#{key}",
                        "sk": "COOLDOWN",
                        "until": until,
                        "note": note,
                        "expires_at": until + 3600,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR #u < :now",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues={":now": _ser(_epoch(now))},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            window = self._get(f"COOLDOWN#{key}", "COOLDOWN")
            return False, int(window["until"]) if window else until
        return True, until

    def release_cooldown(self, key: str) -> None:
        """Give a claimed cooldown window back (the action it guarded did nothing)."""
        self._ddb.delete_item(
            TableName=self._table, Key=_item({"pk": f"COOLDOWN#{key}", "sk": "COOLDOWN"})
        )

    # -- certificate rotations ---------------------------------------------------------------

    def create_rotation(self, record: dict[str, Any], *, now: datetime) -> bool:
        """Record a new rotation of ``record["old_certificate_arn"]``; False if one is in flight.

        A rotation may replace an earlier one only when that one ended (``completed`` or
        ``failed``) and its ``retry_after`` (epoch seconds) has passed: two checks running at
        once never start two rotations of one certificate.
        """
        attrs = {
            "pk": f"ROTATION#{record['old_certificate_arn']}",
            "sk": "ROTATION",
            "expires_at": _epoch(now) + _ROTATION_TTL_SECONDS,
            **record,
        }
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=_item(attrs),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (#st IN (:done, :failed) AND #ra < :now)"
                ),
                ExpressionAttributeNames={"#st": "status", "#ra": "retry_after"},
                ExpressionAttributeValues={
                    ":done": _ser("completed"),
                    ":failed": _ser("failed"),
                    ":now": _ser(_epoch(now)),
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get_rotation(self, old_certificate_arn: str) -> dict[str, Any] | None:
        """The rotation of a certificate (the latest one), or None."""
        return self._get(f"ROTATION#{old_certificate_arn}", "ROTATION")

    def update_rotation(
        self,
        old_certificate_arn: str,
        *,
        expect_status: tuple[str, ...] = (),
        or_lease_expired: tuple[str, int] | None = None,
        **fields: Any,
    ) -> bool:
        """Set fields of a rotation; with ``expect_status``, only from those statuses.

        ``or_lease_expired=(status, now)`` also allows the update from ``status`` once its
        ``lease_until`` (epoch seconds) is before ``now`` (a step that died half-way). Returns
        False when the condition did not hold (another invocation got there first).
        """
        return self._update(
            f"ROTATION#{old_certificate_arn}",
            "ROTATION",
            fields,
            expect_status=expect_status,
            or_lease_expired=or_lease_expired,
        )

    def index_rotation(
        self, new_certificate_arn: str, old_certificate_arn: str, *, now: datetime
    ) -> None:
        """Remember which rotation a newly requested certificate belongs to."""
        self._put(
            {
                "pk": f"ROTATIONBYNEW#{new_certificate_arn}",
                "sk": "ROTATIONBYNEW",
                "old_certificate_arn": old_certificate_arn,
                "expires_at": _epoch(now) + _ROTATION_TTL_SECONDS,
            }
        )

    def rotation_for_certificate(self, new_certificate_arn: str) -> str | None:
        """The old certificate ARN of the rotation that requested ``new_certificate_arn``."""
        pointer = self._get(f"ROTATIONBYNEW#{new_certificate_arn}", "ROTATIONBYNEW")
        return str(pointer["old_certificate_arn"]) if pointer else None

    # -- audit -------------------------------------------------------------------------------

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

    def ping(self) -> None:
        """Cheapest call that proves the table answers."""
        self._ddb.get_item(TableName=self._table, Key=_item({"pk": "HEALTH", "sk": "HEALTH"}))
