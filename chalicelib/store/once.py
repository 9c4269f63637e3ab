"""Exactly-once processing of redelivered input: Powertools idempotency on the state table.

SNS, EventBridge and asynchronous Lambda invocations deliver at least once. ``once`` runs a
piece of work once per key: the first delivery records ``INPROGRESS`` (a conditional write), runs
it and records ``COMPLETED`` with its result; a later delivery of the same key gets that result
back and runs nothing. Work that raises deletes its record, so the retry Lambda makes runs it
again; a delivery that arrives while another still runs it gets ``DeliveryInProgress`` (raise it:
Lambda retries later). An invocation that dies mid-way leaves ``INPROGRESS`` until its Lambda
deadline (the context's remaining time), after which a retry runs it again.

Records: ``pk`` ``IDEMPOTENCY#<scope>``, ``sk`` ``<scope>#<hash of the key>``, ``expires_at`` the
table's TTL. One persistence layer per scope and ``Store`` (so once per process), on the
store's own DynamoDB client. Powertools is imported on first use only (cold start).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from chalicelib.store.table import Table

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.hook import IdempotentHookFunction
    from aws_lambda_powertools.utilities.typing import LambdaContext

T = TypeVar("T")

EXPIRES_AFTER_SECONDS = 24 * 3600  # past Lambda's and EventBridge's retry windows
FALLBACK_DEADLINE_MS = 120_000  # in-progress lease when no Lambda context is given
# What the persistence layer does on the state table (the functions' policies allow these).
DYNAMODB_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)


class DeliveryInProgress(RuntimeError):
    """Another invocation is processing this delivery right now: raise it so Lambda retries."""


@dataclass(frozen=True)
class Once(Generic[T]):
    """What ``once`` returns: the work's result, and whether it was a duplicate (not run)."""

    value: T
    duplicate: bool


class _Deadline:
    """A stand-in Lambda context (tests, direct calls): a fixed in-progress lease."""

    def get_remaining_time_in_millis(self) -> int:
        return FALLBACK_DEADLINE_MS


class OnceStore(Table):
    """``once``: exactly-once processing of a keyed delivery."""

    _layers_lock = threading.Lock()

    def _layer(self, scope: str) -> DynamoDBPersistenceLayer:
        layers: dict[str, DynamoDBPersistenceLayer] = self.__dict__.setdefault("_layers", {})
        with self._layers_lock:
            if scope not in layers:
                from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

                layers[scope] = DynamoDBPersistenceLayer(
                    table_name=self._table,
                    key_attr="pk",
                    sort_key_attr="sk",
                    static_pk_value=f"IDEMPOTENCY#{scope}",
                    expiry_attr="expires_at",
                    boto3_client=self._ddb,
                )
            return layers[scope]

    def once(
        self,
        scope: str,
        key: dict[str, Any],
        work: Callable[[], T],
        *,
        context: Any = None,
        expires_after_seconds: int = EXPIRES_AFTER_SECONDS,
    ) -> Once[T]:
        """Run ``work`` unless ``key`` was already processed in ``scope``; its result must be
        JSON-serialisable (a duplicate gets the first run's result back)."""
        from aws_lambda_powertools.utilities.idempotency import (
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
        )

        duplicate = False

        def replayed(response: Any, record: Any) -> Any:
            nonlocal duplicate
            duplicate = True
            return response

        def run(*, delivery: dict[str, Any]) -> dict[str, Any]:
            return {"value": work()}

        deadline = context if hasattr(context, "get_remaining_time_in_millis") else _Deadline()
        config = IdempotencyConfig(
            raise_on_no_idempotency_key=True,
            expires_after_seconds=expires_after_seconds,
            lambda_context=cast("LambdaContext", deadline),
            response_hook=cast("IdempotentHookFunction", replayed),
        )
        guarded = idempotent_function(
            run,
            data_keyword_argument="delivery",
            persistence_store=self._layer(scope),
            config=config,
            key_prefix=scope,
        )
        try:
            result = guarded(delivery=key)
        except IdempotencyAlreadyInProgressError as exc:
            raise DeliveryInProgress(f"{scope} {key} is being processed already") from exc
        value = cast("T", (result or {}).get("value"))
        return Once(value=value, duplicate=duplicate)
