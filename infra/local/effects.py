"""What opsbot's functions did to the embedded AWS: per-operation call counts and a log of the
calls that change capacity or what a service runs (for the load test and game days).

A botocore ``after-call`` hook on every client counts each AWS call an invocation made that
AWS answered with success (a call refused by an injected fault or never made because the
invocation crashed is not counted; botocore's retries of one call count once). The calls that
change something the load test checks (``RECORDED``) are also logged with their parameters, the
invocation's function, its input (the REST request id, the SNS message id, the EventBridge
event id, the SQS message ids) and, for UpdateService, the ECS deployment it made PRIMARY.
Only invocations the local runtime runs are seen; the stack's own calls never are.

It is also a ``lambda_runtime`` listener: it counts the invocations of each function. And it
estimates the DynamoDB write capacity the functions consumed (``wcu``), as on-demand bills it:
one unit per KB of each item a PutItem, UpdateItem or DeleteItem writes (a conditional write
that fails consumes it too), one per item of a BatchWriteItem, two per item of a
TransactWriteItems.

Read through the control endpoint: ``/_control/effects`` answers
``{"calls": {...}, "log": [...], "invocations": {...}, "wcu": {...}}``.
"""

from __future__ import annotations

import functools
import json
import math
import threading
import time
from collections import Counter
from typing import Any

from infra.local.lambda_runtime import Invocation, current

# service.Operation whose calls are logged one by one
RECORDED = (
    "ecs.RegisterTaskDefinition",
    "ecs.UpdateService",
    "auto-scaling.SetDesiredCapacity",
    "application-auto-scaling.RegisterScalableTarget",
)
_KEPT_PARAMS = ("cluster", "service", "taskDefinition", "desiredCount", "forceNewDeployment")
_PARAMS = "opsbot_effects_params"
_DDB_SINGLE = ("PutItem", "UpdateItem", "DeleteItem")


def write_units(operation: str, params: dict[str, Any]) -> int:
    """The write capacity units a DynamoDB call consumes (0 for a read), from its parameters:
    1 per KB of each item written, doubled in a transaction."""

    def units(item: Any) -> int:
        return max(1, math.ceil(len(json.dumps(item, default=str)) / 1024))

    if operation in _DDB_SINGLE:
        return units(params.get("Item") or params.get("Key") or {})
    if operation == "BatchWriteItem":
        return sum(
            units(next(iter(request.values()), {}))
            for requests in (params.get("RequestItems") or {}).values()
            for request in requests
        )
    if operation == "TransactWriteItems":
        parts: list[dict[str, Any]] = [
            next(iter(part.values()), {}) for part in params.get("TransactItems") or []
        ]
        return 2 * sum(units(op.get("Item") or op.get("Key") or {}) for op in parts)
    return 0


class Effects:
    """The calls opsbot's functions made, since the stack started (or ``reset``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()  # "function service.Operation" -> calls
        self._log: list[dict[str, Any]] = []
        self._invocations: Counter[str] = Counter()  # function -> invocations
        self._wcu: Counter[str] = Counter()  # function -> DynamoDB write units

    def reset(self) -> None:
        """Forget what was counted and logged."""
        with self._lock:
            self._calls.clear()
            self._log.clear()
            self._invocations.clear()
            self._wcu.clear()

    def status(self) -> dict[str, Any]:
        """The counts per function and operation, and the log of ``RECORDED`` calls."""
        with self._lock:
            return {
                "calls": dict(sorted(self._calls.items())),
                "log": list(self._log),
                "invocations": dict(sorted(self._invocations.items())),
                "wcu": dict(sorted(self._wcu.items())),
            }

    # -- the invocation listener (lambda_runtime.listeners) --------------------------------

    def started(self, invocation: Invocation) -> None:
        """Count the invocation."""
        with self._lock:
            self._invocations[invocation.function] += 1

    def returning(self, invocation: Invocation) -> None:
        """Nothing to do."""

    def ended(self, invocation: Invocation) -> None:
        """Nothing to do."""

    def install(self) -> None:
        """Hook every botocore client created from now on in this process (idempotent)."""
        from botocore.session import Session

        if getattr(Session.create_client, "_opsbot_effects", None) is self:
            return
        original = Session.create_client
        effects = self

        @functools.wraps(original)
        def create_client(session: Session, *args: Any, **kwargs: Any) -> Any:
            made = original(session, *args, **kwargs)
            events = made.meta.events
            events.register(
                "before-parameter-build", effects._params, unique_id="opsbot-effects-params"
            )
            events.register("after-call", effects._after_call, unique_id="opsbot-effects-call")
            return made

        create_client._opsbot_effects = self  # type: ignore[attr-defined]
        Session.create_client = create_client  # type: ignore[method-assign,assignment]

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if current() is not None:
            context[_PARAMS] = dict(params)

    def _after_call(
        self,
        http_response: Any,
        parsed: dict[str, Any],
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        invocation = current()
        if invocation is None or http_response is None:
            return
        op = f"{model.service_model.service_id.hyphenize()}.{model.name}"
        refused = (parsed.get("Error") or {}).get("Code") if isinstance(parsed, dict) else None
        if op.startswith("dynamodb.") and refused in (None, "ConditionalCheckFailedException"):
            units = write_units(model.name, context.get(_PARAMS) or {})
            if units:
                with self._lock:
                    self._wcu[invocation.function] += units
        if http_response.status_code >= 300:
            return
        with self._lock:
            self._calls[f"{invocation.function} {op}"] += 1
        if op not in RECORDED:
            return
        params = context.get(_PARAMS) or {}
        entry: dict[str, Any] = {
            "at": time.time(),
            "function": invocation.function,
            "request_id": invocation.request_id,
            "input": invocation.input_id,
            "op": op,
            **{k: params[k] for k in _KEPT_PARAMS if k in params},
        }
        if op == "ecs.RegisterTaskDefinition":
            tags = {t.get("key"): t.get("value") for t in params.get("tags", [])}
            entry["deployment"] = tags.get("opsbot:deployment")
            entry["arn"] = parsed.get("taskDefinition", {}).get("taskDefinitionArn")
        elif op == "ecs.UpdateService":
            found = [d for d in parsed.get("service", {}).get("deployments", []) if d.get("status")]
            primary: dict[str, Any] = next((d for d in found if d["status"] == "PRIMARY"), {})
            entry["ecs_deployment"] = primary.get("id")
        elif op == "auto-scaling.SetDesiredCapacity":
            entry["group"] = params.get("AutoScalingGroupName")
            entry["desiredCount"] = params.get("DesiredCapacity")
        with self._lock:
            self._log.append(entry)
