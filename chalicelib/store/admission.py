"""Admitting a deployment: its service lock and its record written in one transaction.

A Lambda can die at any AWS call. Taking the lock and then writing the record (two calls) could
leave a lock whose holder does not exist; one TransactWriteItems cannot. The lock item also
says since when it is held (``taken_at``), so a lock left by older code (or by a holder that
ended without letting go) can be told stale and taken over, conditionally on its holder.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.records.status import DeploymentStatus
from chalicelib.store.deployments import (
    _CLAIM_NAMES,
    _START_FREE,
    _creation_puts,
    _event_item,
    _key,
    _settable,
)
from chalicelib.store.locks import LockResult, LockStore, _lock_put
from chalicelib.store.table import Condition, _epoch

if TYPE_CHECKING:
    from chalicelib.records.deployment import Deployment, DeploymentEvent


class AdmissionStore(LockStore):
    """Lock and record together; a stuck start noted before it is handed out again."""

    def admit_deployment(
        self,
        deployment: Deployment,
        *,
        lock: str,
        lease_seconds: int,
        now: datetime,
        over: str | None = None,
    ) -> LockResult | None:
        """Take ``lock`` for a new deployment and create its record, all or nothing. The lock
        result (not acquired: who holds it); None when the record exists already."""
        expires = _epoch(now) + lease_seconds
        items = [_lock_put(self._table, lock, deployment.id, expires=expires, now=now, over=over)]
        items += _creation_puts(self._table, deployment, now)
        return self._transact(lock, [{"Put": i} for i in items], deployment.id, expires, now)

    def admit_approved(
        self,
        deployment_id: str,
        *,
        lock: str,
        lease_seconds: int,
        now: datetime,
        event: DeploymentEvent,
        over: str | None = None,
        **fields: object,
    ) -> LockResult | None:
        """Take ``lock`` for a deployment awaiting approval and record it ``queued`` (with
        ``fields``), all or nothing. The lock result; None when it no longer awaits approval."""
        expires = _epoch(now) + lease_seconds
        put = _lock_put(self._table, lock, deployment_id, expires=expires, now=now, over=over)
        fields["status"] = DeploymentStatus.QUEUED
        update = self._update_input(
            *_key(deployment_id),
            _settable(fields),
            event=_event_item(event),
            expect_status=(str(DeploymentStatus.AWAITING_APPROVAL),),
        )
        items = [{"Put": put}, {"Update": {"TableName": self._table, **(update or {})}}]
        return self._transact(lock, items, deployment_id, expires, now)

    def _transact(
        self, lock: str, items: list[dict[str, Any]], owner: str, expires: int, now: datetime
    ) -> LockResult | None:
        """Run a transaction whose first item takes ``lock``: why it was cancelled, if it was."""
        try:
            self._ddb.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except self._ddb.exceptions.TransactionCanceledException as exc:
            codes = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if codes and codes[0] == "ConditionalCheckFailed":
                holder = self.lock_holder(lock)
                if holder is None:  # released in between: once more
                    return self._transact(lock, items, owner, expires, now)
                return LockResult(False, holder.owner, holder.lease_until)
            if "ConditionalCheckFailed" in codes:
                return None
            raise
        return LockResult(True, owner, expires)

    def note_handed_again(
        self, deployment_id: str, *, seen_updated_at: str, now: datetime, event: DeploymentEvent
    ) -> bool:
        """Record that a stuck start is handed to the worker again, before it is sent: only
        while its start is still free to take (queued, or a start whose lease ran out) and
        nobody has touched it since ``seen_updated_at`` (so of racing callers one sends it)."""
        values = {
            ":now": _epoch(now),
            ":queued": "queued",
            ":running": "in_progress",
            ":seen": seen_updated_at,
        }
        condition = Condition(
            f"({_START_FREE}) AND #ua = :seen", {**_CLAIM_NAMES, "#ua": "updated_at"}, values
        )
        return self._update(
            *_key(deployment_id),
            {"updated_at": event.at},
            event=_event_item(event),
            condition=condition,
        )
