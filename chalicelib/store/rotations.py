"""Certificate rotation records and the new-certificate index.

Items keep the shape they always had: times as ISO-8601 text, but ``retry_after`` and
``lease_until`` as epoch seconds (conditions compare them with numbers), ``lease_until`` 0 when
no swap holds the rotation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.core.clock import iso
from chalicelib.records.status import ROTATION_ENDED, RotationStatus
from chalicelib.store.table import _ROTATION_TTL_SECONDS, Table, _epoch, _item, _ser

if TYPE_CHECKING:  # imported where used (a function that reads no rotation never loads it)
    from chalicelib.records.rotation import Rotation

_CLEARED: dict[str, Any] = {"lease_until": 0}  # what a field set back to None is written as


class RotationStore(Table):
    """Certificate rotation records and the new-certificate index."""

    def create_rotation(self, rotation: Rotation, *, now: datetime) -> bool:
        """Record a new rotation of ``rotation.old_certificate_arn``; False if one is in flight.

        A rotation may replace an earlier one only when that one ended (``completed`` or
        ``failed``) and its ``retry_after`` has passed: two checks running at once never start
        two rotations of one certificate.
        """
        attrs = {
            "pk": _pk(rotation.old_certificate_arn),
            "sk": "ROTATION",
            "expires_at": _epoch(now) + _ROTATION_TTL_SECONDS,
            **_attrs(rotation),
        }
        done, failed = ROTATION_ENDED
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=_item(attrs),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (#st IN (:done, :failed) AND #ra < :now)"
                ),
                ExpressionAttributeNames={"#st": "status", "#ra": "retry_after"},
                ExpressionAttributeValues={
                    ":done": _ser(done.value),
                    ":failed": _ser(failed.value),
                    ":now": _ser(_epoch(now)),
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get_rotation(self, old_certificate_arn: str) -> Rotation | None:
        """The rotation of a certificate (the latest one), or None."""
        item = self._get(_pk(old_certificate_arn), "ROTATION")
        return _rotation(item) if item is not None else None

    def update_rotation(
        self,
        rotation: Rotation,
        *,
        since: Rotation,
        expect_status: tuple[RotationStatus, ...] = (),
        or_lease_expired: tuple[RotationStatus, datetime] | None = None,
    ) -> bool:
        """Write what changed from ``since`` to ``rotation``; with ``expect_status``, only from
        those statuses.

        ``or_lease_expired=(status, now)`` also allows the update from ``status`` once its
        ``lease_until`` is before ``now`` (a step that died half-way). Returns False when the
        condition did not hold (another invocation got there first).
        """
        before, after = _attrs(since), _attrs(rotation)
        fields = {
            key: _CLEARED[key] if value is None else value
            for key, value in after.items()
            if value != before.get(key) and (value is not None or key in _CLEARED)
        }
        lease = (
            (or_lease_expired[0].value, _epoch(or_lease_expired[1]))
            if or_lease_expired is not None
            else None
        )
        return self._update(
            _pk(rotation.old_certificate_arn),
            "ROTATION",
            fields,
            expect_status=tuple(s.value for s in expect_status),
            or_lease_expired=lease,
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


def _pk(old_certificate_arn: str) -> str:
    return f"ROTATION#{old_certificate_arn}"


def _attrs(rotation: Rotation) -> dict[str, Any]:
    """The item's attributes (keys and TTL aside); None for what the item does not hold."""
    r = rotation
    return {
        "environment": r.environment,
        "domain": r.domain,
        "names": list(r.names),
        "old_certificate_arn": r.old_certificate_arn,
        "old_not_after": iso(r.old_not_after),
        "old_type": r.old_type,
        "usages": [
            {
                "load_balancer": u.load_balancer,
                "listener_arn": u.listener_arn,
                "port": u.port,
                "protocol": u.protocol,
                "default": u.default,
            }
            for u in r.usages
        ],
        "attempt": r.attempt,
        "status": r.status.value,
        "requested_at": iso(r.requested_at),
        "updated_at": iso(r.updated_at),
        "actor": r.actor,
        "new_certificate_arn": r.new_certificate_arn,
        "validation_records": [
            {"name": v.name, "type": v.type, "value": v.value, "zone": v.zone, "zone_id": v.zone_id}
            for v in r.validation_records
        ]
        or None,
        "last_error": r.last_error,
        "reason": r.reason,
        "failed_at": _iso(r.failed_at),
        "retry_after": _epoch(r.retry_after) if r.retry_after else None,
        "completed_at": _iso(r.completed_at),
        "new_not_after": _iso(r.new_not_after),
        "swapped": list(r.swapped) or None,
        "lease_until": _epoch(r.lease_until) if r.lease_until else None,
    }


def _rotation(item: dict[str, Any]) -> Rotation:
    """The typed record of a rotation item (as ``Table._get`` returns it)."""
    from chalicelib.records.rotation import Rotation, Usage, ValidationRecord

    return Rotation(
        environment=str(item["environment"]),
        domain=str(item["domain"]),
        names=tuple(map(str, item.get("names") or [item["domain"]])),
        old_certificate_arn=str(item["old_certificate_arn"]),
        old_not_after=_time(item["old_not_after"]),
        usages=tuple(
            Usage(
                load_balancer=str(u["load_balancer"]),
                listener_arn=str(u.get("listener_arn", "")),
                port=int(u.get("port", 0)),
                protocol=str(u.get("protocol", "")),
                default=bool(u.get("default", True)),
            )
            for u in item.get("usages") or []
        ),
        status=RotationStatus(item["status"]),
        requested_at=_time(item["requested_at"]),
        updated_at=_time(item.get("updated_at") or item["requested_at"]),
        actor=str(item.get("actor", "")),
        attempt=int(item.get("attempt", 1)),
        old_type=item.get("old_type"),
        new_certificate_arn=item.get("new_certificate_arn"),
        validation_records=tuple(
            ValidationRecord(
                name=str(v["name"]),
                type=str(v["type"]),
                value=str(v["value"]),
                zone=str(v["zone"]),
                zone_id=str(v["zone_id"]),
            )
            for v in item.get("validation_records") or []
        ),
        last_error=item.get("last_error"),
        reason=item.get("reason"),
        failed_at=_maybe_time(item.get("failed_at")),
        retry_after=_from_epoch(item.get("retry_after")),
        completed_at=_maybe_time(item.get("completed_at")),
        new_not_after=_maybe_time(item.get("new_not_after")),
        swapped=tuple(map(str, item.get("swapped") or [])),
        lease_until=_from_epoch(item.get("lease_until")),
    )


def _iso(at: datetime | None) -> str | None:
    return iso(at) if at is not None else None


def _time(text: str) -> datetime:
    return datetime.fromisoformat(str(text))


def _maybe_time(text: str | None) -> datetime | None:
    return _time(text) if text else None


def _from_epoch(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(int(epoch), UTC) if epoch else None
