"""A deploy's dry run as the REST API shows it (``POST /deployments`` with ``dry_run``: 200)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.status.dry_run import Check, DryRun, ImageRef


def _image(ref: ImageRef) -> dict[str, Any]:
    return {"image": ref.image, "tag": ref.tag, "digest": ref.digest}


def _check(check: Check) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": check.name,
        "result": str(check.result),
        "detail": check.detail,
    }
    if check.holder is not None:
        body["holder"] = check.holder
    if check.approvers is not None:
        body["approvers"] = list(check.approvers)
    return body


def dry_run_body(result: DryRun) -> dict[str, Any]:
    """The 200 answer: images now and requested, the task-definition diff, the checks."""
    return {
        "dry_run": True,
        "environment": result.environment,
        "service": result.service,
        "outcome": str(result.outcome),
        "from_environment": result.from_environment,
        "from_task_definition": result.from_task_definition,
        "current": {**_image(result.current), "task_definition": result.current_task_definition},
        "requested": _image(result.requested),
        "task_definition_diff": [dict(c) for c in result.changes],
        "checks": [_check(c) for c in result.checks],
    }
