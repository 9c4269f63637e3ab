"""The control commands that run inside the stack's process (its control endpoint).

Each takes the JSON body ``python -m infra.local`` posts to ``/_control/<name>`` and answers a
JSON object with a ``message``; an exception becomes a 400 naming the problem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infra.local.embedded import client
from infra.local.settings import ACCOUNT

if TYPE_CHECKING:
    from infra.local.ecs_sim import RolloutSimulator
    from infra.local.effects import Effects
    from infra.local.event_sources import EventSources
    from infra.local.faults import Faults
    from infra.local.outcomes import Outcomes


def _service(body: dict[str, Any]) -> tuple[str, str]:
    service = str(body["service"])
    cluster = str(body.get("cluster") or "demo")
    from botocore.exceptions import ClientError

    try:
        found = client("ecs").describe_services(cluster=cluster, services=[service])["services"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ClusterNotFoundException":
            raise ValueError(f"no cluster {cluster[:64]!r}") from None
        raise
    if not found:
        raise ValueError(f"no service {service!r} in cluster {cluster!r}")
    return cluster, service


def rollout_fail(simulator: RolloutSimulator, body: dict[str, Any]) -> dict[str, Any]:
    """The next rollout of ``service`` in ``cluster`` fails (the circuit breaker rolls back):
    its tasks fail their health checks, or exit with ``exit_code`` when one is given."""
    from infra.local.ecs_tasks import Failure

    cluster, service = _service(body)
    exit_code = body.get("exit_code")
    failure = Failure.exited(int(exit_code)) if exit_code is not None else None
    simulator.fail_next(cluster, service, failure)
    how = f"its tasks exit with code {exit_code}" if failure else "its tasks fail health checks"
    return {"ok": True, "message": f"the next rollout of {service} in {cluster} will fail: {how}"}


def rollout_crashloop(simulator: RolloutSimulator, body: dict[str, Any]) -> dict[str, Any]:
    """The next rollout of ``service`` in ``cluster`` crash-loops (ECS never calls it FAILED)."""
    cluster, service = _service(body)
    simulator.crashloop_next(cluster, service)
    return {
        "ok": True,
        "message": f"the next rollout of {service} in {cluster} will crash-loop "
        "(tasks exit with code 1; ECS never reports it failed)",
    }


def spend(body: dict[str, Any]) -> dict[str, Any]:
    """Set a budget's actual spend in the (in-process) embedded AWS."""
    from infra.local.demo.budgets import set_actual_spend

    set_actual_spend(str(body["budget"]), str(body.get("amount")), account_id=ACCOUNT)
    return {
        "ok": True,
        "message": f"budget {body['budget']} actual spend is now {body['amount']} USD",
    }


def tick(sources: EventSources, outcomes: Outcomes, body: dict[str, Any]) -> dict[str, Any]:
    """Run one scheduled handler once, as its schedule would (an asynchronous invocation); its
    result and the Slack posts it made."""
    import json
    import uuid

    name = str(body["name"])
    input_id = f"tick-{uuid.uuid4()}"
    outcome = sources.tick(name, input_id)
    if not outcome.ok:
        raise RuntimeError(f"{name} failed after {outcome.attempts} attempts: {outcome.reason}")
    return {
        "ok": True,
        "message": f"ran {name}: {json.dumps(outcome.result, default=str)}",
        "result": json.loads(json.dumps(outcome.result, default=str)),
        "input": input_id,
        "posts": outcomes.query({"inputs": [input_id]})["posts"],
    }


def faults(state: Faults, body: dict[str, Any]) -> dict[str, Any]:
    """``{"set": {...rates, seed}}`` puts faults in force, ``{"off": true}`` ends them; the
    settings and counters either way."""
    from infra.local.faults import FaultSettings

    if body.get("off"):
        state.off()
    elif body.get("set"):
        state.configure(FaultSettings.from_body(dict(body["set"])))
    return state.status()


def effects(state: Effects, body: dict[str, Any]) -> dict[str, Any]:
    """``{"reset": true}`` forgets them; the AWS calls opsbot's functions made either way."""
    if body.get("reset"):
        state.reset()
    answer = state.status()
    changes = len(answer["log"])
    return {**answer, "message": f"{sum(answer['calls'].values())} AWS calls, {changes} changes"}
