"""Certificate rotation records and the new-certificate index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.store.table import _ROTATION_TTL_SECONDS, Table, _epoch, _item, _ser


class RotationStore(Table):
    """Certificate rotation records and the new-certificate index."""

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
