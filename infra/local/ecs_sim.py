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

``DescribeServices`` then returns the deployments with ``rolloutState``, ``rolloutStateReason``,
counts and timestamps, plus the service event messages ECS writes for these transitions. Only the
backend for the configured account and region is simulated; product code cannot tell the
difference because it only ever talks to moto over HTTP.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.core.utils import utcnow
from moto.ecs.models import EC2ContainerServiceBackend, Service
from moto.utilities.utils import get_partition

__all__ = ["RolloutSimulator"]

log = logging.getLogger(__name__)

DETAIL_TYPE = "ECS Deployment State Change"
IN_PROGRESS = "SERVICE_DEPLOYMENT_IN_PROGRESS"
COMPLETED = "SERVICE_DEPLOYMENT_COMPLETED"
FAILED = "SERVICE_DEPLOYMENT_FAILED"
# The FAILED event's reason as the event documentation gives it (singular "task") ...
FAILED_EVENT_REASON = "ECS deployment circuit breaker: task failed to start."
# ... and the deployment's rolloutStateReason as DescribeServices reports it (plural "tasks").
FAILED_ROLLOUT_REASON = "ECS deployment circuit breaker: tasks failed to start."
EMIT_DELAY_SECONDS = 0.005  # IN_PROGRESS goes out just after the UpdateService response
MAX_SERVICE_EVENTS = 100  # ECS keeps the 100 most recent service events

Emit = Callable[[dict[str, Any]], None]
Backend = EC2ContainerServiceBackend
UpdateService = Callable[[Backend, dict[str, Any]], Service]


def _deployment_id() -> str:
    """Return a deployment id shaped like ECS's (``ecs-svc/`` + 19 digits)."""
    return f"ecs-svc/{random.randint(10**18, 2**63 - 1)}"


def _iso(moment: datetime, *, millis: bool) -> str:
    """Format a naive-UTC datetime (moto's convention) as ISO-8601 with a ``Z`` suffix."""
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _deps(service: Service) -> list[dict[str, Any]]:
    """Return the service's deployment dicts (moto types their values as ``object``)."""
    return service.deployments


def _failure_threshold(desired: int) -> int:
    """Return the circuit breaker's failed-task threshold for a desired count."""
    return min(200, max(3, math.ceil(desired * 0.5)))


class _Timer:
    """A cancellable callback queued on a ``_Scheduler``."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _Scheduler:
    """One worker thread running callbacks in due-time order (so events never reorder)."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def call_later(self, delay: float, fn: Callable[[], None]) -> _Timer:
        timer = _Timer(fn)
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), timer))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ecs-sim", daemon=True)
                self._thread.start()
            self._cv.notify()
        return timer

    def stop(self) -> None:
        with self._cv:
            for _, _, timer in self._heap:
                timer.cancel()
            self._heap.clear()
            self._stopping = True
            self._cv.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        with self._cv:
            self._stopping = False
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cv:
                while True:
                    if self._stopping:
                        return
                    if not self._heap:
                        self._cv.wait()
                        continue
                    due = self._heap[0][0]
                    now = time.monotonic()
                    if due <= now:
                        timer = heapq.heappop(self._heap)[2]
                        break
                    self._cv.wait(due - now)
            if timer.cancelled:
                continue
            try:
                timer.fn()
            except Exception:
                log.exception("ecs rollout simulator callback failed")


@dataclass
class _Rollout:
    """The deployment a service is currently rolling out."""

    deployment_id: str
    fail: bool
    timer: _Timer | None = None


@dataclass
class _ServiceState:
    """What the simulator tracks per service."""

    backend: Backend
    service: Service
    stable_id: str | None = None  # last deployment that completed: the rollback target
    stable_task_definition: str | None = None
    rollout: _Rollout | None = None


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
        self._scheduler = _Scheduler()
        self._states: dict[tuple[str, str], _ServiceState] = {}
        self._fail_next: set[tuple[str, str]] = set()
        self._original: UpdateService | None = None
        self._patched: UpdateService | None = None

    # -- public interface -------------------------------------------------------------------

    def install(self) -> None:
        """Patch moto's ECS backend (in-process) so that UpdateService starts a rollout."""
        with self._lock:
            if self._patched is not None:
                return
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
                primary = self._primary(service)
                if primary is None or primary.get("rolloutState") != "IN_PROGRESS":
                    continue
                state = self._state(backend, service)
                self._complete(state, primary)
                settled += 1
        return settled

    def fail_next(self, cluster: str, service: str) -> None:
        """Make the next UpdateService-started rollout of that service fail (and roll back)."""
        with self._lock:
            self._fail_next.add((cluster.split("/")[-1], service.split("/")[-1]))

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
                [dict(d) for d in _deps(service)],  # moto mutates dicts in place
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
                self._fail_next.discard(key)
                self._start_rollout(state, new_td, fail=fail, announce=True)
            else:
                service.task_definition = current_td
                if desired_changed:
                    self._resize_primary(state)
                self._recount(state)
            return result

    def _td_arn(self, backend: Backend, td: str | None) -> str | None:
        """Return the full ARN for ``family``, ``family:rev`` or an ARN (as ECS reports it)."""
        if not td:
            return td
        try:
            return backend.describe_task_definition(td).arn
        except Exception:
            return td

    def _state(self, backend: Backend, service: Service) -> _ServiceState:
        key = (service.cluster_name, service.name)
        state = self._states.get(key)
        if state is None or state.service is not service:
            state = _ServiceState(backend=backend, service=service)
            primary = self._primary(service)
            if primary is not None:  # the deployment in place before we ever touched it
                state.stable_id = primary["id"]
                state.stable_task_definition = self._td_arn(backend, primary["taskDefinition"])
            self._states[key] = state
        return state

    @staticmethod
    def _primary(service: Service) -> dict[str, Any] | None:
        return next((d for d in _deps(service) if d.get("status") == "PRIMARY"), None)

    def _resize_primary(self, state: _ServiceState) -> None:
        """Keep the PRIMARY deployment's counts in line with a new desired count."""
        service = state.service
        desired = service.desired_count
        deployments = []
        for dep in _deps(service):
            if dep.get("status") == "PRIMARY":
                dep = dict(dep, desiredCount=desired, updatedAt=utcnow())
                rolling = state.rollout is not None and state.rollout.deployment_id == dep["id"]
                if rolling:
                    dep["runningCount"] = min(dep["runningCount"], desired)
                    dep["pendingCount"] = desired - dep["runningCount"]
                else:
                    dep["runningCount"], dep["pendingCount"] = desired, 0
            deployments.append(dep)
        service.deployments = deployments

    def _start_rollout(
        self,
        state: _ServiceState,
        task_definition: str | None,
        *,
        fail: bool,
        announce: bool,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Insert a new PRIMARY deployment, demote the rest and queue its settling.

        Returns its IN_PROGRESS event; with ``announce`` that event is also queued to go out a
        few ms later (never from inside the request: ``emit`` may call back into this server).
        """
        service = state.service
        now = utcnow()
        if state.rollout is not None and state.rollout.timer is not None:
            state.rollout.timer.cancel()  # superseded: only the latest rollout completes
        demoted = [
            dict(d, status="ACTIVE", updatedAt=now) if d.get("status") == "PRIMARY" else d
            for d in _deps(service)
        ]
        template = self._primary(service) or (_deps(service) or [{}])[0]
        dep_id = _deployment_id()
        desired = service.desired_count
        deployment = dict(
            template,
            createdAt=now,
            desiredCount=desired,
            failedTasks=0,
            id=dep_id,
            launchType=service.launch_type,
            pendingCount=desired,
            rolloutState="IN_PROGRESS",
            rolloutStateReason=reason or f"ECS deployment {dep_id} in progress.",
            runningCount=0,
            platformVersion=service.platform_version,
            networkConfiguration=service.network_configuration or None,
            platformFamily="EC2" if service.launch_type == "EC2" else "FARGATE",
            status="PRIMARY",
            taskDefinition=task_definition,
            updatedAt=now,
        )
        service.task_definition = task_definition
        service.deployments = [deployment, *demoted]
        self._recount(state)
        rollout = _Rollout(deployment_id=dep_id, fail=fail)
        state.rollout = rollout
        event = self._event(state, "INFO", IN_PROGRESS, deployment)
        if announce:  # queued before the settle timer, so it always goes out first
            self._scheduler.call_later(EMIT_DELAY_SECONDS, lambda: self._send([event]))
        key = (service.cluster_name, service.name)
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
            deployment = next((d for d in _deps(service) if d["id"] == dep_id), None)
            if not registered or deployment is None:
                state.rollout = None
                return
            if state.rollout.fail:
                events = self._fail(state, deployment)
            else:
                events = self._complete(state, deployment)
        self._send(events)

    def _complete(self, state: _ServiceState, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        service = state.service
        desired = service.desired_count
        done = dict(
            deployment,
            desiredCount=desired,
            runningCount=desired,
            pendingCount=0,
            rolloutState="COMPLETED",
            rolloutStateReason=f"ECS deployment {deployment['id']} completed.",
            updatedAt=utcnow(),
        )
        service.deployments = [done]  # every older deployment is drained
        self._recount(state)
        state.stable_id, state.stable_task_definition = done["id"], done["taskDefinition"]
        state.rollout = None
        self._service_event(state, f"(deployment {done['id']}) deployment completed.")
        self._service_event(state, "has reached a steady state.")
        return [self._event(state, "INFO", COMPLETED, done)]

    def _fail(self, state: _ServiceState, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        service = state.service
        now = utcnow()
        failed = dict(
            deployment,
            failedTasks=_failure_threshold(service.desired_count),
            runningCount=0,
            pendingCount=0,
            rolloutState="FAILED",
            rolloutStateReason=FAILED_ROLLOUT_REASON,
            updatedAt=now,
        )
        service.deployments = [failed if d is deployment else d for d in _deps(service)]
        state.rollout = None
        self._recount(state)
        self._service_event(
            state, f"(deployment {failed['id']}) deployment failed: tasks failed to start."
        )
        events = [self._event(state, "ERROR", FAILED, failed, reason=FAILED_EVENT_REASON)]
        if state.stable_id is None or state.stable_task_definition is None:
            return events  # nothing completed before: the breaker just stops the deployment
        target_id = state.stable_id
        self._service_event(state, f"rolling back to deployment {target_id}.")
        rollback_event = self._start_rollout(
            state,
            state.stable_task_definition,
            fail=False,
            announce=False,  # goes out right after FAILED, from this timer thread
            reason=f"ECS deployment circuit breaker: rolling back to deploymentId {target_id}.",
        )
        return [*events, rollback_event]

    # -- helpers ----------------------------------------------------------------------------

    def _recount(self, state: _ServiceState) -> None:
        """Set the service's (and its cluster's) task counts from its deployments."""
        service = state.service
        running = sum(int(d.get("runningCount") or 0) for d in _deps(service))
        pending = sum(int(d.get("pendingCount") or 0) for d in _deps(service))
        cluster = state.backend.clusters.get(service.cluster_name)
        if cluster is not None:
            cluster.running_tasks_count += running - service.running_count
            cluster.pending_tasks_count += pending - service.pending_count
        service.running_count, service.pending_count = running, pending

    def _service_event(self, state: _ServiceState, message: str) -> None:
        """Prepend a DescribeServices ``events`` entry, worded as ECS words it."""
        service = state.service
        entry = {
            "id": str(uuid.uuid4()),
            "createdAt": utcnow(),
            "message": f"(service {service.name}) {message}",
        }
        service.events = [entry, *service.events][:MAX_SERVICE_EVENTS]

    def _event(
        self,
        state: _ServiceState,
        event_type: str,
        event_name: str,
        deployment: dict[str, Any],
        *,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Build the event exactly as EventBridge delivers it to a target."""
        service = state.service
        partition = get_partition(self._region)
        arn = (
            f"arn:{partition}:ecs:{self._region}:{self._account_id}"
            f":service/{service.cluster_name}/{service.name}"
        )
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": DETAIL_TYPE,
            "source": "aws.ecs",
            "account": self._account_id,
            "time": _iso(utcnow(), millis=False),
            "region": self._region,
            "resources": [arn],
            "detail": {
                "eventType": event_type,
                "eventName": event_name,
                "deploymentId": deployment["id"],
                "updatedAt": _iso(deployment["updatedAt"], millis=True),
                "reason": reason or deployment["rolloutStateReason"],
            },
        }

    def _send(self, events: list[dict[str, Any]]) -> None:
        """Hand events to ``emit`` in order, outside the lock."""
        for event in events:
            try:
                self._emit(event)
            except Exception:
                log.exception("ecs rollout simulator emit failed")
