"""Simulate ECS rolling-update deployments for the local stack, because moto does not.

moto's ``UpdateService`` only swaps the service's task definition (storing the string it was
given, e.g. ``family:rev``) and leaves ``deployments`` untouched, so nothing ever rolls out and
no deployment events exist. ``RolloutSimulator`` wraps moto's in-process ECS backend so that the
HTTP API behaves like ECS with the rolling update (``ECS``) deployment controller, following the
AWS documentation:

* "Deploy Amazon ECS services by replacing tasks": a task definition change or
  ``forceNewDeployment`` creates a new ``PRIMARY`` deployment (``rolloutState`` ``IN_PROGRESS``)
  that is already in the ``UpdateService`` response; earlier deployments become ``ACTIVE`` and
  are drained once the new one reaches steady state (``COMPLETED``). A desired-count-only update
  starts no deployment.
* "How the Amazon ECS deployment circuit breaker detects failures": a failing deployment goes
  ``FAILED`` (failure threshold ``0.5 * desiredCount`` bounded to 3..200) and, with rollback on,
  the service rolls back to the last deployment that completed, as a new ``PRIMARY`` deployment.
* "Amazon ECS service deployment state change events": each transition is handed to ``emit`` as
  the EventBridge event (detail-type ``ECS Deployment State Change``), with the documented
  ``eventType``/``eventName``/``reason`` values.
* Tasks (``ecs_tasks``): a completed deployment runs its desired count of RUNNING tasks and the
  scheduler stops the older ones; a failing one's tasks stop (failed health checks, or an exited
  essential container with its exit code) before the circuit breaker trips; a crash-looping one
  (``crashloop_next``) starts a task that exits with code 1 every ``crash_seconds`` and is never
  settled (the circuit breaker does not count tasks that crash after they started). Each stop is
  handed to ``emit`` as its "ECS Task State Change" event.

``DescribeServices`` then returns the deployments with ``rolloutState``, ``rolloutStateReason``,
counts and timestamps, plus the service event messages ECS writes for these transitions. Only the
backend for the configured account and region is simulated; product code cannot tell the
difference because it only ever talks to moto over HTTP.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from moto.ecs.models import EC2ContainerServiceBackend, Service

from infra.local import ecs_deployments as deps
from infra.local import ecs_tasks
from infra.local.ecs_deployments import Rollout, ServiceState
from infra.local.ecs_events import (
    COMPLETED,
    FAILED,
    FAILED_EVENT_REASON,
    IN_PROGRESS,
    deployment_event,
    task_event,
)
from infra.local.ecs_tasks import Failure
from infra.local.scheduler import Scheduler

__all__ = ["RolloutSimulator"]

log = logging.getLogger(__name__)

EMIT_DELAY_SECONDS = 0.005  # IN_PROGRESS goes out just after the UpdateService response
MAX_CRASHES = 200  # a crash loop stops starting tasks after this many (the deploy has ended)

Emit = Callable[[dict[str, Any]], None]
Backend = EC2ContainerServiceBackend
UpdateService = Callable[[Backend, dict[str, Any]], Service]


class RolloutSimulator:
    """Make moto's ECS ``UpdateService`` roll out like the ECS rolling-update controller."""

    def __init__(
        self,
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        emit: Callable[[dict[str, Any]], None],
        rollout_seconds: float = 3.0,
    ) -> None:
        self._account_id = account_id
        self._region = region
        self._emit = emit
        self._rollout_seconds = max(rollout_seconds, EMIT_DELAY_SECONDS)
        self._lock = threading.RLock()
        self._scheduler = Scheduler("ecs-sim")
        self._states: dict[tuple[str, str], ServiceState] = {}
        self._crash_seconds = max(self._rollout_seconds / 3, 0.2)
        self._fail_next: dict[tuple[str, str], Failure | None] = {}
        self._crash_next: set[tuple[str, str]] = set()
        self._original: UpdateService | None = None
        self._patched: UpdateService | None = None

    # -- public interface -------------------------------------------------------------------

    def install(self) -> None:
        """Patch moto's ECS backend (in-process) so that UpdateService starts a rollout."""
        with self._lock:
            if self._patched is not None:
                return
            ecs_tasks.hold_running()
            original: UpdateService = EC2ContainerServiceBackend.update_service

            def update_service(backend: Backend, service_properties: dict[str, Any]) -> Service:
                return self._update_service(original, backend, service_properties)

            update_service.__wrapped__ = original  # type: ignore[attr-defined]
            self._original, self._patched = original, update_service
            EC2ContainerServiceBackend.update_service = update_service  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        """Restore moto's own UpdateService (rollouts already under way still finish)."""
        with self._lock:
            if self._patched is None or self._original is None:
                return
            if EC2ContainerServiceBackend.update_service is self._patched:
                EC2ContainerServiceBackend.update_service = self._original  # type: ignore[method-assign,assignment]
            self._original = self._patched = None
            ecs_tasks.release_running()

    def settle_existing(self) -> int:
        """Complete, silently, the first deployment of every service created before install.

        moto leaves a new service's first deployment IN_PROGRESS with no task running; ECS
        would have started its tasks long before anyone looks. Returns how many were settled.
        """
        from moto.ecs.models import ecs_backends

        backend = ecs_backends[self._account_id][self._region]
        settled = 0
        with self._lock:
            for service in list(backend.services.values()):
                primary = deps.primary(service)
                if primary is None or primary.get("rolloutState") != "IN_PROGRESS":
                    continue
                state = self._state(backend, service)
                ecs_tasks.replace_older(state, deps.complete(state, primary))
                settled += 1
        return settled

    def fail_next(self, cluster: str, service: str, failure: Failure | None = None) -> None:
        """Make the next UpdateService-started rollout of that service fail (and roll back);
        its tasks die as ``failure`` says (by default they fail their health checks)."""
        with self._lock:
            self._fail_next[(cluster.split("/")[-1], service.split("/")[-1])] = failure

    def crashloop_next(self, cluster: str, service: str) -> None:
        """Make the next UpdateService-started rollout of that service crash-loop: a new task
        exits with code 1 every ``crash_seconds``, and ECS never reports the rollout FAILED."""
        with self._lock:
            self._crash_next.add((cluster.split("/")[-1], service.split("/")[-1]))

    def stop(self) -> None:
        """Cancel pending timers; deployments stay as they are."""
        self._scheduler.stop()
        with self._lock:
            for state in self._states.values():
                state.rollout = None

    # -- UpdateService ----------------------------------------------------------------------

    def _update_service(
        self, original: UpdateService, backend: Backend, props: dict[str, Any]
    ) -> Service:
        if backend.account_id != self._account_id or backend.region_name != self._region:
            return original(backend, props)
        requested_td = props.get("task_definition")
        force = bool(props.get("force_new_deployment"))
        desired_changed = props.get("desired_count") is not None
        with self._lock:
            try:
                service = backend._get_service(
                    props.get("cluster") or "default", str(props["service"]).split("/")[-1]
                )
            except Exception:
                return original(backend, props)  # let moto raise its own error
            if service.deployment_controller.get("type", "ECS") != "ECS":
                return original(backend, props)
            cluster = backend.clusters[service.cluster_name]
            before = (
                [dict(d) for d in deps.deployments(service)],  # moto mutates dicts in place
                service.task_definition,
                service.desired_count,
                service.running_count,
                service.pending_count,
                cluster.running_tasks_count,
                cluster.pending_tasks_count,
            )
            try:
                result = original(backend, props)
            except Exception:
                (
                    service.deployments,
                    service.task_definition,
                    service.desired_count,
                    service.running_count,
                    service.pending_count,
                    cluster.running_tasks_count,
                    cluster.pending_tasks_count,
                ) = before
                raise
            # moto rewrites deployments[0] in place on forceNewDeployment: undo that.
            service.deployments = before[0]
            service.running_count, service.pending_count = before[3], before[4]
            cluster.running_tasks_count, cluster.pending_tasks_count = before[5], before[6]

            current_td = self._td_arn(backend, before[1])
            new_td = self._td_arn(backend, requested_td) if requested_td else current_td
            state = self._state(backend, service)
            if force or (requested_td and new_td != current_td):
                key = (service.cluster_name, service.name)
                fail = key in self._fail_next
                failure = self._fail_next.pop(key, None)
                crash = key in self._crash_next
                self._crash_next.discard(key)
                self._start_rollout(
                    state, new_td, fail=fail, announce=True, failure=failure, crash=crash
                )
            else:
                service.task_definition = current_td
                if desired_changed:
                    deps.resize_primary(state)
                    primary = deps.primary(service)
                    if primary is not None and primary.get("rolloutState") == "COMPLETED":
                        ecs_tasks.resize(state, primary, service.desired_count)
                deps.recount(state)
            return result

    def _td_arn(self, backend: Backend, td: str | None) -> str | None:
        """Return the full ARN for ``family``, ``family:rev`` or an ARN (as ECS reports it)."""
        if not td:
            return td
        try:
            return backend.describe_task_definition(td).arn
        except Exception:
            return td

    def _state(self, backend: Backend, service: Service) -> ServiceState:
        key = (service.cluster_name, service.name)
        state = self._states.get(key)
        if state is None or state.service is not service:
            state = ServiceState(backend=backend, service=service)
            primary = deps.primary(service)
            if primary is not None:  # the deployment in place before we ever touched it
                state.stable_id = primary["id"]
                state.stable_task_definition = self._td_arn(backend, primary["taskDefinition"])
            self._states[key] = state
        return state

    def _start_rollout(
        self,
        state: ServiceState,
        task_definition: str | None,
        *,
        fail: bool,
        announce: bool,
        reason: str | None = None,
        failure: Failure | None = None,
        crash: bool = False,
    ) -> dict[str, Any]:
        """Start a new PRIMARY deployment and queue its settling; its IN_PROGRESS event.

        With ``announce`` that event is also queued to go out a few ms later (never from inside
        the request: ``emit`` may call back into this server).
        """
        if state.rollout is not None and state.rollout.timer is not None:
            state.rollout.timer.cancel()  # superseded: only the latest rollout completes
        deployment = deps.new_primary(state, task_definition, reason=reason)
        dep_id = deployment["id"]
        rollout = Rollout(deployment_id=dep_id, fail=fail, failure=failure, crash=crash)
        state.rollout = rollout
        event = self._event(state, "INFO", IN_PROGRESS, deployment)
        if announce:  # queued before the settle timer, so it always goes out first
            self._scheduler.call_later(EMIT_DELAY_SECONDS, lambda: self._send([event]))
        key = (state.service.cluster_name, state.service.name)
        if crash:
            rollout.timer = self._scheduler.call_later(
                self._crash_seconds, lambda: self._crash(key, dep_id, 1)
            )
        else:
            rollout.timer = self._scheduler.call_later(
                self._rollout_seconds, lambda: self._settle(key, dep_id)
            )
        return event

    # -- timer side -------------------------------------------------------------------------

    def _settle(self, key: tuple[str, str], dep_id: str) -> None:
        """Finish the rollout of ``dep_id``: complete it, or fail it and roll back."""
        with self._lock:
            state = self._states.get(key)
            if state is None or state.rollout is None or state.rollout.deployment_id != dep_id:
                return
            service = state.service
            registered = (
                state.backend.services.get(f"{key[0]}:{key[1]}") is service
                and service.status == "ACTIVE"
            )
            deployment = next((d for d in deps.deployments(service) if d["id"] == dep_id), None)
            if not registered or deployment is None:
                state.rollout = None
                return
            if state.rollout.fail:
                events = self._fail(state, deployment)
            else:
                events = self._complete(state, deployment)
        self._send(events)

    def _crash(self, key: tuple[str, str], dep_id: str, n: int) -> None:
        """One more task of a crash-looping rollout starts and exits with code 1."""
        with self._lock:
            state = self._states.get(key)
            if state is None or state.rollout is None or state.rollout.deployment_id != dep_id:
                return  # superseded (rolled back): the loop ends
            deployment = next(
                (d for d in deps.deployments(state.service) if d["id"] == dep_id), None
            )
            if deployment is None:
                return
            (task,) = ecs_tasks.run(state, deployment, 1)
            deps.service_event(state, f"has started 1 tasks: (task {task.id}).")
            ecs_tasks.fail(state, task, Failure.exited(1))
            deployment["failedTasks"] = int(deployment.get("failedTasks") or 0) + 1
            events = [self._task_event(task)]
            if n < MAX_CRASHES:
                state.rollout.timer = self._scheduler.call_later(
                    self._crash_seconds, lambda: self._crash(key, dep_id, n + 1)
                )
        self._send(events)

    def _complete(self, state: ServiceState, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        done = deps.complete(state, deployment)
        stopped = ecs_tasks.replace_older(state, done)
        return [
            *(self._task_event(t) for t in stopped),
            self._event(state, "INFO", COMPLETED, done),
        ]

    def _fail(self, state: ServiceState, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        failure = state.rollout.failure if state.rollout is not None else None
        if failure is None:
            balancers = state.service.load_balancers or [{}]
            failure = Failure.health_checks(balancers[0].get("targetGroupArn"))
        tasks = ecs_tasks.run(
            state, deployment, deps.failure_threshold(state.service.desired_count)
        )
        for task in tasks:
            ecs_tasks.fail(state, task, failure)
            deps.service_event(state, f"(task {task.id}) {failure.service_message}.")
        failed = deps.fail(state, deployment)
        events = [
            *(self._task_event(t) for t in tasks),
            self._event(state, "ERROR", FAILED, failed, reason=FAILED_EVENT_REASON),
        ]
        if state.stable_id is None or state.stable_task_definition is None:
            return events  # nothing completed before: the breaker just stops the deployment
        target_id = state.stable_id
        deps.service_event(state, f"rolling back to deployment {target_id}.")
        rollback_event = self._start_rollout(
            state,
            state.stable_task_definition,
            fail=False,
            announce=False,  # goes out right after FAILED, from this timer thread
            reason=f"ECS deployment circuit breaker: rolling back to deploymentId {target_id}.",
        )
        return [*events, rollback_event]

    # -- events -----------------------------------------------------------------------------

    def _event(
        self,
        state: ServiceState,
        event_type: str,
        event_name: str,
        deployment: dict[str, Any],
        *,
        reason: str | None = None,
    ) -> dict[str, Any]:
        return deployment_event(
            account_id=self._account_id,
            region=self._region,
            cluster=state.service.cluster_name,
            service=state.service.name,
            event_type=event_type,
            event_name=event_name,
            deployment=deployment,
            reason=reason,
        )

    def _task_event(self, task: Any) -> dict[str, Any]:
        return task_event(account_id=self._account_id, region=self._region, task=task)

    def _send(self, events: list[dict[str, Any]]) -> None:
        """Hand events to ``emit`` in order, outside the lock."""
        for event in events:
            try:
                self._emit(event)
            except Exception:
                log.exception("ecs rollout simulator emit failed")
