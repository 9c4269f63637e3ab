"""Early abort of a crash loop: ECS "Task State Change" events (a task STOPPED) of a rollout's
tasks are counted, and once ``deploy.abort_after_task_failures`` distinct tasks of the new
revision have failed, the rollout is rolled back without waiting for the circuit breaker
(which can take half an hour, and does not count tasks that crash after they started).

The count is a set of task ARNs on the deployment item (a DynamoDB ADD): a duplicated or
redelivered event adds nothing; the rollback itself is claimed once (``begin_rollback``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.core.observability import count, logger
from chalicelib.deploys.explain import cause, explain_failure, failed
from chalicelib.deploys.rollback import begin_rollback
from chalicelib.records.status import DeploymentPhase, DeploymentStatus

if TYPE_CHECKING:
    from chalicelib.deps import Deps


def on_task_stopped(deps: Deps, task: dict[str, Any]) -> str:
    """A task stopped (the DescribeTasks shape, as the event carries it): count it against
    its rollout, and roll the rollout back once the threshold is reached; what was done."""
    started_by = str(task.get("startedBy") or "")
    ref = deps.store.deployment_for_ecs(started_by) if started_by else None
    if ref is None:
        return "ignored: not an opsbot deployment"
    if ref.role != DeploymentPhase.ROLLOUT:
        return "ignored: a task of a rollback"
    logger().set_correlation_id(ref.deployment_id)
    deployment = deps.store.get_deployment(ref.deployment_id)
    if (
        deployment is None
        or deployment.status != DeploymentStatus.IN_PROGRESS
        or deployment.phase != DeploymentPhase.ROLLOUT
    ):
        return "ignored: deployment not rolling out"
    if not failed(task):
        return f"ignored: {task.get('stoppedReason') or 'stopped on purpose'}"
    revision = task.get("taskDefinitionArn")
    if revision and deployment.task_definition and revision != deployment.task_definition:
        return "ignored: a task of another revision"
    env = deps.policy.environment(deployment.environment)
    threshold = deps.policy.deploy.abort_threshold(env.services.get(deployment.service))
    if threshold is None:
        return "ignored: no abort threshold"
    stopped = deps.store.note_stopped_task(
        deployment.id, str(task["taskArn"]), ecs_deployment_id=started_by
    )
    if stopped is None:
        return "ignored: deployment not rolling out"
    if stopped < threshold:
        return f"counted: {stopped} of {threshold} tasks stopped"
    deps = deps.acting_for(deployment.actor, deployment.id)
    ecs = deps.aws("ecs", env)
    lead = f"aborted after {stopped} tasks stopped"
    explanation = explain_failure(ecs, env, deployment, lead=lead)
    if explanation is None or not explanation.startswith(lead):  # none read: this one says
        explanation = f"{lead}: {cause(task)}"
    began = begin_rollback(
        deps,
        deployment,
        env,
        ecs,
        f"its tasks keep stopping (abort_after_task_failures: {threshold})",
        explanation=explanation,
        title="Deploy aborted, rolling back",
    )
    if not began:
        return "ignored: the rollback has begun"
    count("DeploymentsAborted", environment=deployment.environment, service=deployment.service)
    return "rolling back"
