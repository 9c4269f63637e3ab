"""A service's tasks as ECS runs and stops them, in moto's ECS backend (moto runs none for a
service), so that ListTasks/DescribeTasks read them as they read ECS's.

What moto lacks, supplied here:

* moto's ``RunTask`` fails for an ``awsvpc`` task definition (it reads an ENI attribute its EC2
  model does not have), and a service never runs a task: tasks are built here as moto's own
  ``Task`` objects (one container per container definition, ``startedBy`` the ECS deployment id
  and ``group`` ``service:<name>``, as ECS sets them) and put in the backend's task table.
* moto's tasks drift from RUNNING towards STOPPED each time they are described (its state
  manager's default for ``ecs::task``); ``hold_running`` makes that transition manual with no
  end, so a task stays RUNNING until it is stopped (``moto_api.state_manager``, its own API).
* ``StopTask`` sets ``stoppedReason`` only: ``stop`` adds ``stopCode``, the stop times and each
  container's ``lastStatus``, ``exitCode`` and ``reason``, as DescribeTasks shows them.
"""

from __future__ import annotations

import types
import uuid
from dataclasses import dataclass
from typing import Any

from moto.core.utils import utcnow
from moto.ecs.models import Container, Task

from infra.local.ecs_deployments import ServiceState

# The stopped reasons and codes ECS gives ("Stopped tasks errors", AWS documentation).
EXITED = "Essential container in task exited"
ELB_HEALTH = "Task failed ELB health checks in (target-group {target_group})"
CONTAINER_HEALTH = "Task failed container health checks"
SCALING = "Scaling activity initiated by (deployment {deployment})"


@dataclass(frozen=True)
class Failure:
    """How the tasks of a failing rollout die."""

    reason: str
    stop_code: str
    exit_code: int | None
    service_message: str  # the service event ECS writes for each ("(task id) ...")

    @classmethod
    def exited(cls, exit_code: int = 1) -> Failure:
        """The essential container exits with ``exit_code`` (a crash)."""
        return cls(EXITED, "EssentialContainerExited", exit_code, "has stopped: essential exited")

    @classmethod
    def health_checks(cls, target_group: str | None) -> Failure:
        """The task fails its ELB health checks (with a target group) or its container's."""
        if target_group:
            reason = ELB_HEALTH.format(target_group=target_group)
            return cls(reason, "ServiceSchedulerInitiated", 143, "failed ELB health checks")
        return cls(
            CONTAINER_HEALTH, "ServiceSchedulerInitiated", 137, "failed container health checks"
        )


def hold_running() -> None:
    """Keep moto's tasks in the status they were put in (see the module)."""
    from moto.moto_api import state_manager

    state_manager.set_transition(
        model_name="ecs::task", transition={"progression": "manual", "times": 2**62}
    )


def release_running() -> None:
    """Give moto its own task transitions back."""
    from moto.moto_api import state_manager

    state_manager.unset_transition(model_name="ecs::task")


def run(state: ServiceState, deployment: dict[str, Any], count: int) -> list[Task]:
    """Start ``count`` RUNNING tasks of ``deployment`` (its task definition, its id as
    ``startedBy``)."""
    backend, service = state.backend, state.service
    definition = backend.describe_task_definition(str(deployment["taskDefinition"]))
    cluster = backend.clusters[service.cluster_name]
    # moto's Task builds an ENI for awsvpc (and fails): give it the definition without one
    shape = types.SimpleNamespace(
        arn=definition.arn,
        container_definitions=definition.container_definitions,
        network_mode="none",
    )
    started = []
    for _ in range(count):
        task = Task(
            cluster,
            shape,  # type: ignore[arg-type]
            None,
            None,
            backend=backend,
            group=f"service:{service.name}",
            launch_type=service.launch_type or "FARGATE",
            started_by=str(deployment["id"]),
            platform_version=service.platform_version,
        )
        task.containers = [_container(task, shape, c) for c in definition.container_definitions]
        now = utcnow()
        _set(task, started_at=now, created_at=now)
        task.network_configuration = service.network_configuration or {}
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        started.append(task)
    return started


def _container(task: Task, shape: Any, definition: dict[str, Any]) -> Container:
    one = types.SimpleNamespace(arn=shape.arn, container_definitions=[definition])
    container = Container(one)  # type: ignore[abstract,arg-type]
    container.task_arn = task.task_arn
    arn_prefix = task.task_arn.split(":task/")[0]
    container.container_arn = f"{arn_prefix}:container/{task.cluster_name}/{task.id}/{uuid.uuid4()}"
    container.last_status = "RUNNING"
    return container


def running(state: ServiceState, *, started_by: str | None = None) -> list[Task]:
    """The service's RUNNING tasks (of one deployment, with ``started_by``)."""
    tasks = state.backend.tasks.get(state.service.cluster_name, {}).values()
    return [
        t
        for t in tasks
        if t.group == f"service:{state.service.name}"
        and t.desired_status == "RUNNING"
        and (started_by is None or t.started_by == started_by)
    ]


def stop(
    state: ServiceState,
    task: Task,
    *,
    reason: str,
    stop_code: str,
    exit_code: int | None,
    container_reason: str | None = None,
) -> Task:
    """Stop a task as ECS reports it: stopped reason and code, the essential container's exit
    code (the others exit 0), the stop times."""
    backend = state.backend
    backend.stop_task(state.service.cluster_name, task.task_arn, reason)
    now = utcnow()
    _set(task, stop_code=stop_code, stopping_at=now, execution_stopped_at=now, stopped_at=now)
    for index, container in enumerate(task.containers):
        container.last_status = "STOPPED"
        _set(container, exitCode=exit_code if index == 0 else 0)
        if index == 0 and container_reason:
            _set(container, reason=container_reason)
    return task


def _set(thing: object, **attributes: object) -> None:
    """Give a moto object the attributes ECS reports and moto's model lacks (its serializer
    reads them by their API names)."""
    for name, value in attributes.items():
        setattr(thing, name, value)


def fail(state: ServiceState, task: Task, failure: Failure) -> Task:
    """Stop a task of a failing rollout the way ``failure`` says."""
    return stop(
        state,
        task,
        reason=failure.reason,
        stop_code=failure.stop_code,
        exit_code=failure.exit_code,
    )


def replace_older(state: ServiceState, deployment: dict[str, Any]) -> list[Task]:
    """The deployment reached steady state: it runs ``desiredCount`` tasks, and every task of
    an older deployment is stopped by the scheduler; the tasks stopped."""
    mine = running(state, started_by=str(deployment["id"]))
    wanted = int(deployment.get("desiredCount") or 0)
    if len(mine) < wanted:
        run(state, deployment, wanted - len(mine))
    stopped = []
    why = SCALING.format(deployment=deployment["id"])
    for task in running(state):
        if task.started_by != deployment["id"]:
            stopped.append(
                stop(state, task, reason=why, stop_code="ServiceSchedulerInitiated", exit_code=0)
            )
    return stopped


def resize(state: ServiceState, deployment: dict[str, Any], desired: int) -> None:
    """A completed deployment follows a new desired count (scale-in stops are not announced:
    no rule of opsbot's would take them)."""
    mine = running(state, started_by=str(deployment["id"]))
    if len(mine) < desired:
        run(state, deployment, desired - len(mine))
    for task in mine[desired:]:
        stop(
            state,
            task,
            reason=SCALING.format(deployment=deployment["id"]),
            stop_code="ServiceSchedulerInitiated",
            exit_code=0,
        )
