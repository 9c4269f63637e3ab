"""A deploy accepted but never handed to the worker does not block its service.

The REST Lambda dies (a ``Crash``: a BaseException, which product code cannot catch) at the SQS
send, after the lock and the record were written together. The next request for the service,
or the sweeper a minute later, hands the stuck deployment to the worker again; it then runs to
its end and the service is free. A lock whose holder does not exist (left by older code) is
taken over once it is older than the staleness.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import deploys
from chalicelib.core.errors import Conflict
from chalicelib.domain.holders import STALE_SECONDS
from chalicelib.domain.messages import DeployStart
from chalicelib.records.deployment import Deployment
from chalicelib.records.target import Target
from tests.functional.conftest import REGISTRY, World
from tests.functional.test_approvals import posts as posts
from tests.functional.test_deploy_routes import call
from tests.functional.test_deploy_routes import client as client

LOCK = Target.service("demo", "web").lock


class Crash(BaseException):
    """The Lambda died: nothing in it can catch this."""


@pytest.fixture
def crash_at_send(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The next ``deploy.start`` send dies before it reaches SQS."""
    send = world.deps.queue.send
    armed = [True]

    def dying(message: Any, **kwargs: Any) -> Any:
        if armed and isinstance(message, DeployStart):
            armed.clear()
            raise Crash("killed at sqs.SendMessage")
        return send(message, **kwargs)

    monkeypatch.setattr(world.deps.queue, "send", dying)
    yield


def starts(world: World, deployment_id: str) -> int:
    return sum(
        1
        for body, _ in world.work()
        if body["kind"] == "deploy.start" and body["deployment_id"] == deployment_id
    )


def stuck_deploy(world: World) -> str:
    """A deploy of web 2.0 whose REST Lambda died at the SQS send: its id."""
    with pytest.raises(Crash):
        world.request(tag="2.0")
    [listed] = world.store.recent_deployments(environment="demo", service="web", limit=5)
    assert listed.status == "queued" and world.lock_holder("web") == listed.id
    assert starts(world, listed.id) == 0  # nothing will ever start it by itself
    return listed.id


def run_to_success(world: World, deployment_id: str) -> None:
    """The worker takes the start (as SQS delivers it), ECS completes the rollout."""
    assert starts(world, deployment_id) >= 1
    deploys.start_deploy(world.deps, deployment_id)
    ecs_id = world.ecs_rollouts.complete("web")
    assert world.ecs_says("SERVICE_DEPLOYMENT_COMPLETED", ecs_id) == "succeeded"


def test_a_request_finding_a_stuck_deploy_hands_it_to_the_worker_and_it_succeeds(
    world: World, crash_at_send: None, client: Client
) -> None:
    first = stuck_deploy(world)

    # at once: it may still be on its way; a plain 409, nothing re-sent
    status, body = call(
        client, "POST", "/deployments", {"environment": "demo", "service": "web", "tag": "1.0"}
    )
    assert status == 409 and body["error"]["holder"] == first
    assert "handed" not in body["error"]["message"] and starts(world, first) == 0

    world.clock.advance(STALE_SECONDS + 1)
    status, body = call(
        client, "POST", "/deployments", {"environment": "demo", "service": "web", "tag": "1.0"}
    )
    assert status == 409 and body["error"]["holder"] == first
    message = body["error"]["message"]
    assert f"web in demo is busy with {first}: it was accepted 31 s ago" in message
    assert "it has been handed to the worker again" in message
    assert starts(world, first) == 1
    assert world.record(first).events[-1].message == "handed to the worker again (alice)"
    assert any(e["result"] == "handed_to_worker_again" for e in world.audit("web"))

    # a third request right after: already handed; not sent twice
    call(client, "POST", "/deployments", {"environment": "demo", "service": "web", "tag": "1.0"})
    assert starts(world, first) == 1

    run_to_success(world, first)
    done = world.record(first)
    assert done.status == "succeeded"
    image = world.task_definition(world.service_task_definition("web"))["containerDefinitions"][0]
    assert image["image"] == f"{REGISTRY}/web@{done.image_digest}"
    assert world.lock_holder("web") is None
    status, body = call(
        client, "POST", "/deployments", {"environment": "demo", "service": "web", "tag": "1.0"}
    )
    assert status == 202 and body["status"] == "queued"


def test_the_sweeper_hands_a_stuck_deploy_to_the_worker_without_anyone_asking(
    world: World, crash_at_send: None
) -> None:
    first = stuck_deploy(world)
    assert deploys.sweep(world.deps) == []  # not stale yet
    world.clock.advance(STALE_SECONDS + 1)

    [found] = deploys.sweep(world.deps)
    assert (found["target"], found["holder"]) == ("demo/web", first)
    assert found["outcome"] == "handed_to_worker_again"
    assert deploys.sweep(world.deps) == []  # just handed: not again within the staleness
    assert starts(world, first) == 1
    # the record and the audit trail say who did it
    assert world.record(first).events[-1].message == "handed to the worker again (schedule:sweeper)"
    handed = [e for e in world.audit("web") if e["result"] == "handed_to_worker_again"]
    assert [e["actor"] for e in handed] == ["schedule:sweeper"]

    run_to_success(world, first)
    assert world.record(first).status == "succeeded"
    assert world.lock_holder("web") is None
    assert deploys.sweep(world.deps) == []


def test_a_lock_whose_holder_does_not_exist_is_taken_over_once_stale(world: World) -> None:
    # older code took the lock, then died before it wrote the deployment
    world.store.acquire_lock(LOCK, "dep-ghost", lease_seconds=540, now=world.clock())
    with pytest.raises(Conflict) as info:
        world.request(tag="2.0")  # it may be writing its record right now
    assert info.value.details["holder"] == "dep-ghost"

    world.clock.advance(STALE_SECONDS + 1)
    record = world.request(tag="2.0")
    assert record.status == "queued" and world.lock_holder("web") == record.id
    stale = [e for e in world.audit("web") if e["result"] == "stale"]
    assert stale and "dep-ghost does not exist" in stale[0]["reason"]
    run_to_success(world, record.id)
    assert world.record(record.id).status == "succeeded"


def test_the_sweeper_releases_a_lock_whose_holder_has_ended(world: World) -> None:
    record = world.request(tag="2.0")
    run_to_success(world, record.id)
    # a finish that died between its terminal write and letting go of the lock
    world.store.acquire_lock(LOCK, record.id, lease_seconds=540, now=world.clock())

    [found] = deploys.sweep(world.deps)
    assert (found["holder"], found["outcome"]) == (record.id, "released")
    assert world.lock_holder("web") is None


def test_scaling_takes_over_a_stale_lock(world: World) -> None:
    world.store.acquire_lock(LOCK, "dep-ghost", lease_seconds=540, now=world.clock())
    world.clock.advance(STALE_SECONDS + 1)
    scaled = deploys_scale(world, 3)
    assert scaled == "scaled" and world.lock_holder("web") is None


def approved_but_never_sent(world: World, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """A deploy of web 2.0 that lena approved, whose Lambda died at the start's SQS send."""
    asked = world.request(tag="2.0")  # demo is protected here: it awaits approval
    send = world.deps.queue.send

    def dying(message: Any, **kwargs: Any) -> Any:
        if isinstance(message, DeployStart):
            raise Crash("killed at sqs.SendMessage")
        return send(message, **kwargs)

    monkeypatch.setattr(world.deps.queue, "send", dying)
    with pytest.raises(Crash):
        deploys.approve(world.deps, actor="lena", deployment_id=asked.id)
    monkeypatch.setattr(world.deps.queue, "send", send)
    return asked


def test_an_approved_deploy_that_never_reached_the_worker_is_handed_again(
    world: World, posts: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = approved_but_never_sent(world, monkeypatch)
    approved = world.record(asked.id)
    assert approved.status == "queued" and approved.approved_by == "lena"
    assert world.lock_holder("web") == asked.id  # lock and decision: one transaction

    world.clock.advance(STALE_SECONDS + 1)
    [found] = deploys.sweep(world.deps)
    assert (found["holder"], found["outcome"]) == (asked.id, "handed_to_worker_again")
    run_to_success(world, asked.id)
    assert world.record(asked.id).status == "succeeded"
    assert world.lock_holder("web") is None


def deploys_scale(world: World, desired: int) -> str:
    from chalicelib import scaling

    env = world.deps.policy.environment("demo")
    outcome = scaling.scale_ecs_service(
        world.deps, env, "web", desired=desired, actor="alice", why="t"
    )
    return str(outcome.result)


def test_the_approver_retrying_after_a_crash_resumes_their_approval_at_once(
    world: World, posts: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The approve died after its write and before the start was sent: the same approver's
    retry with its Idempotency-Key (``again``: it re-runs the dead attempt) answers as the first
    would have and hands the start to the worker now, instead of a 409 "no longer awaits
    approval" and a wait for the sweeper. A new approve (another key) is still a 409."""
    asked = approved_but_never_sent(world, monkeypatch)
    announced = len(posts)

    with pytest.raises(Conflict, match="no longer awaits approval: approved by lena"):
        deploys.approve(world.deps, actor="lena", deployment_id=asked.id)  # a new request
    again = deploys.approve(world.deps, actor="lena", deployment_id=asked.id, again=True)
    assert (again.status, again.approved_by) == ("queued", "lena")
    assert starts(world, asked.id) == 1 and len(posts) == announced  # said once
    run_to_success(world, asked.id)
    assert world.record(asked.id).status == "succeeded"

    # a re-run by another approver, or of the other decision, is still a conflict
    with pytest.raises(Conflict, match="approved by lena"):
        deploys.approve(world.deps, actor="liam", deployment_id=asked.id, again=True)
    with pytest.raises(Conflict, match="approved by lena"):
        deploys.deny(world.deps, actor="lena", deployment_id=asked.id, again=True)
    # and a re-run once it has run changes nothing
    done = deploys.approve(world.deps, actor="lena", deployment_id=asked.id, again=True)
    assert done.status == "succeeded" and starts(world, asked.id) == 1


def test_the_sweeper_reads_every_lock_in_batches_not_one_read_per_service(
    world: World, crash_at_send: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = stuck_deploy(world)
    world.clock.advance(STALE_SECONDS + 1)
    store = world.deps.store
    batches: list[list[str]] = []
    single: list[str] = []
    batch_read, single_read = store.lock_holders, store.lock_holder

    def batch(names: list[str]) -> Any:
        batches.append(names)
        return batch_read(names)

    def one(name: str) -> Any:
        single.append(name)
        return single_read(name)

    monkeypatch.setattr(store, "lock_holders", batch)
    monkeypatch.setattr(store, "lock_holder", one)

    [found] = deploys.sweep(world.deps)
    assert found["holder"] == first
    every = {
        Target.service(env, service).lock
        for env, spec in world.deps.policy.environments.items()
        for service in spec.services
    }
    assert [set(b) for b in batches] == [every]  # one batch of every service's lock
    assert single == []  # no read per service
