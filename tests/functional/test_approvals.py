"""Four-eyes approvals against moto in process: the request waits without a lock, decisions are
conditional writes (two approvers at once make one decision), and an unanswered one expires."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from chalicelib import deploys
from chalicelib.core.errors import Conflict, Forbidden, NotFound
from chalicelib.domain.messages import ApprovalExpiry
from chalicelib.domain.policy import parse_policy
from chalicelib.records.deployment import Deployment
from chalicelib.records.target import Target
from tests.functional.conftest import POLICY, World

PROTECTED: dict[str, Any] = copy.deepcopy(POLICY)
PROTECTED["environments"]["demo"]["approval"] = {
    "actions": ["deploy", "rollback"],
    "approvers": "lead",
    "expires_after_minutes": 30,
}
PROTECTED["roles"]["lead"] = ["read", "approve"]
PROTECTED["roles"]["approver-only"] = ["approve"]
PROTECTED["people"].update(
    {
        "lena": {"slack_user": "U0LENA", "roles": {"demo": "lead"}},
        "liam": {"roles": {"demo": "lead"}},
        "olga": {"roles": {"demo": "approver-only"}},  # holds approve, but not the approvers role
    }
)


@pytest.fixture
def posts(world: World, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The protected policy in force; what would be posted to Slack (webhook or reply URL)."""
    world.deps.policy = parse_policy(PROTECTED, __file__)
    return world.slack_posts(monkeypatch)


def _kinds(world: World) -> list[str]:
    return [body["kind"] for body, _ in world.work()]


def _results(world: World, deployment_id: str) -> list[tuple[str, str, str]]:
    """(actor, action, result) of the deployment's audit entries, sorted (the test clock stands
    still, so entries made at one instant have no order)."""
    return sorted(
        (e["actor"], e["action"], e["result"])
        for e in world.audit("web")
        if e.get("deployment_id") == deployment_id
    )


def _asked(world: World) -> Deployment:
    return world.request("web", tag="2.0")  # by alice (admin: may deploy, may not approve)


def test_a_protected_deploy_waits_without_lock_or_ecs(
    world: World, posts: list[dict[str, Any]]
) -> None:
    record = _asked(world)
    assert record.status == "awaiting_approval"
    assert record.requested_by == "alice" and record.image_digest
    assert record.current_image and record.current_image.endswith("/web:1.0")
    assert world.lock_holder("web") is None
    assert world.ecs_rollouts.update_calls == []
    [(expiry, delay)] = world.work()
    assert expiry == {
        "kind": "approval.expiry",
        "deployment_id": record.id,
        "deadline": expiry["deadline"],
    }
    assert delay == 900  # 30 minutes: SQS delays at most 15, the rest in steps
    [message] = posts
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [(e["type"], e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("button", "approve", record.id),
        ("button", "deny", record.id),
    ]
    assert _results(world, record.id) == [("alice", "deploy", "awaiting_approval")]
    assert "Approval needed" in world.notifications()[-1]  # email, same facts


def test_the_requester_and_those_without_approve_are_refused(
    world: World, posts: list[dict[str, Any]]
) -> None:
    record = _asked(world)
    for actor, why in (
        ("alice", "alice asked for"),
        ("victor", "victor may not approve"),
        ("olga", "olga may not approve"),
    ):
        with pytest.raises(Forbidden) as info:
            deploys.approve(world.deps, actor=actor, deployment_id=record.id)
        assert why in info.value.message
    with pytest.raises(Forbidden):
        deploys.deny(world.deps, actor="alice", deployment_id=record.id)
    with pytest.raises(NotFound):
        deploys.approve(world.deps, actor="lena", deployment_id="dep-unknown")
    assert world.record(record.id).status == "awaiting_approval"
    assert world.lock_holder("web") is None
    assert _results(world, record.id) == [
        ("alice", "approve", "forbidden"),
        ("alice", "deny", "forbidden"),
        ("alice", "deploy", "awaiting_approval"),
        ("olga", "approve", "forbidden"),
        ("victor", "approve", "forbidden"),
    ]


def test_approved_it_takes_the_lock_and_proceeds_as_any_deploy(
    world: World, posts: list[dict[str, Any]]
) -> None:
    record = _asked(world)
    approved = deploys.approve(world.deps, actor="lena", deployment_id=record.id)
    assert approved.status == "queued" and approved.approved_by == "lena"
    assert world.lock_holder("web") == record.id
    assert _kinds(world) == ["approval.expiry", "deploy.start"]
    deploys.start_deploy(world.deps, record.id)
    assert [s for s, _ in world.ecs_rollouts.update_calls] == ["web"]
    stored = world.record(record.id)
    assert stored.status == "in_progress" and stored.decided_at
    # the expiry comes later and changes nothing
    world.clock.advance(31 * 60)
    deploys.on_approval_expiry(world.deps, ApprovalExpiry(**world.work()[0][0]))
    assert world.record(record.id).status == "in_progress"
    decided = posts[-1]
    assert decided["url"] is None  # a REST-style decision: a new message, no buttons
    assert not [b for b in decided["blocks"] if b["type"] == "actions"]
    assert "Approved" in json.dumps(decided) and "lena (<@U0LENA>)" in json.dumps(decided)


def test_a_slack_decision_replaces_the_message_pressed(
    world: World, posts: list[dict[str, Any]]
) -> None:
    record = _asked(world)
    url = "https://hooks.slack.com/actions/T0/1/x"
    deploys.deny(world.deps, actor="lena", deployment_id=record.id, response_url=url)
    [reply] = [body for body, _ in world.work() if body["kind"] == "slack.reply"]
    assert reply["url"] == url and reply["payload"]["replace_original"] is True
    assert not [b for b in reply["payload"]["blocks"] if b["type"] == "actions"]
    assert "Denied" in json.dumps(reply["payload"])
    assert len(posts) == 1  # only the request went to the channel webhook


def test_two_approvers_at_once_make_one_decision(
    world: World, posts: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _asked(world)
    store = world.deps.store
    admit = store.admit_approved
    raced: list[str] = []

    def race_then_admit(*args: Any, **kwargs: Any) -> Any:
        if not raced:  # liam's press lands just before lena's lock-and-decision transaction
            raced.append("liam")
            deploys.approve(world.deps, actor="liam", deployment_id=record.id)
        return admit(*args, **kwargs)

    monkeypatch.setattr(store, "admit_approved", race_then_admit)
    with pytest.raises(Conflict) as info:
        deploys.approve(world.deps, actor="lena", deployment_id=record.id)
    assert "no longer awaits approval: approved by liam" in info.value.message
    assert world.record(record.id).approved_by == "liam"
    assert world.lock_holder("web") == record.id  # the winner's lock stays
    assert _kinds(world).count("deploy.start") == 1
    assert [r for r in _results(world, record.id) if r[1] == "approve"] == [
        ("lena", "approve", "conflict"),
        ("liam", "approve", "approved"),
    ]


def test_an_approve_racing_a_deny_leaves_the_service_free(
    world: World, posts: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _asked(world)
    store = world.deps.store
    admit = store.admit_approved

    def deny_then_admit(*args: Any, **kwargs: Any) -> Any:
        deploys.deny(world.deps, actor="liam", deployment_id=record.id)
        return admit(*args, **kwargs)

    monkeypatch.setattr(store, "admit_approved", deny_then_admit)
    with pytest.raises(Conflict):
        deploys.approve(world.deps, actor="lena", deployment_id=record.id)
    assert world.record(record.id).status == "denied"
    assert world.lock_holder("web") is None
    assert "deploy.start" not in _kinds(world)


def test_a_busy_service_is_a_409_and_the_request_still_waits(
    world: World, posts: list[dict[str, Any]]
) -> None:
    record = _asked(world)
    lock = Target.service("demo", "web").lock
    world.store.acquire_lock(lock, "dep-other", lease_seconds=600, now=world.clock())
    with pytest.raises(Conflict) as info:
        deploys.approve(world.deps, actor="lena", deployment_id=record.id)
    assert info.value.details["holder"] == "dep-other"
    assert "still awaits approval" in info.value.message
    assert world.record(record.id).status == "awaiting_approval"
    world.store.release_lock(lock, "dep-other")
    assert deploys.approve(world.deps, actor="lena", deployment_id=record.id).status == "queued"


def test_deny_ends_it_and_a_later_decision_is_409(
    world: World, posts: list[dict[str, Any]]
) -> None:
    record = _asked(world)
    denied = deploys.deny(world.deps, actor="lena", deployment_id=record.id)
    assert (denied.status, denied.denied_by) == ("denied", "lena")
    assert world.record(record.id).finished_at
    for decide in (deploys.approve, deploys.deny):
        with pytest.raises(Conflict) as info:
            decide(world.deps, actor="liam", deployment_id=record.id)
        assert "denied by lena" in info.value.message
    assert world.ecs_rollouts.update_calls == []


def test_an_unanswered_request_expires_in_steps(world: World, posts: list[dict[str, Any]]) -> None:
    record = _asked(world)
    [(body, _)] = world.work()
    message = ApprovalExpiry(**body)
    world.clock.advance(900)  # the first delay: 15 of 30 minutes; it waits again
    deploys.on_approval_expiry(world.deps, message)
    assert world.record(record.id).status == "awaiting_approval"
    assert world.work()[-1] == (body, 900)
    world.clock.advance(900)
    deploys.on_approval_expiry(world.deps, message)
    expired = world.record(record.id)
    assert expired.status == "expired" and expired.finished_at
    assert ("opsbot", "deploy", "expired") in _results(world, record.id)
    assert "Expired" in json.dumps(posts[-1]) and "Approval expired" in world.notifications()[-1]
    deploys.on_approval_expiry(world.deps, message)  # a redelivery changes nothing
    assert len([r for r in _results(world, record.id) if r[2] == "expired"]) == 1
    with pytest.raises(Conflict):
        deploys.approve(world.deps, actor="lena", deployment_id=record.id)


def test_the_stage_can_shorten_the_expiry(
    world: World, posts: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    monkeypatch.setattr(
        world.deps, "settings", replace(world.deps.settings, approval_expiry_seconds=5)
    )
    record = _asked(world)
    assert world.work()[0][1] == 5
    world.clock.advance(5)
    deploys.on_approval_expiry(world.deps, ApprovalExpiry(**world.work()[0][0]))
    assert world.record(record.id).status == "expired"


def test_unprotected_actions_and_services_do_not_wait(
    world: World, posts: list[dict[str, Any]]
) -> None:
    policy = copy.deepcopy(PROTECTED)
    policy["environments"]["demo"]["approval"]["actions"] = ["rollback"]
    policy["environments"]["demo"]["services"]["api"]["approval"] = {"approvers": ["lena"]}
    world.deps.policy = parse_policy(policy, __file__)
    assert world.request("web", tag="2.0").status == "queued"  # only rollbacks wait in demo
    api = world.request("api", tag="2.0")
    assert api.status == "awaiting_approval"  # api's own approval: deploys too, by lena only
    with pytest.raises(Forbidden):
        deploys.approve(world.deps, actor="liam", deployment_id=api.id)
    assert deploys.approve(world.deps, actor="lena", deployment_id=api.id).status == "queued"


def test_a_protected_rollback_waits_then_rolls_back(
    world: World, posts: list[dict[str, Any]]
) -> None:
    policy = copy.deepcopy(PROTECTED)
    policy["environments"]["demo"]["approval"]["actions"] = ["rollback"]
    world.deps.policy = parse_policy(policy, __file__)
    original = world.started()  # deploys do not wait here
    assert world.ecs_says("SERVICE_DEPLOYMENT_COMPLETED", world.ecs_rollouts.complete("web")) == (
        "succeeded"
    )
    calls = len(world.ecs_rollouts.update_calls)
    asked = deploys.request_rollback(
        world.deps, actor="alice", deployment_id=original.id, reason="errors"
    )
    assert (asked.status, asked.rollback_of) == ("awaiting_approval", original.id)
    assert asked.task_definition == original.previous_task_definition
    assert world.lock_holder("web") is None and len(world.ecs_rollouts.update_calls) == calls
    assert "rollback" in json.dumps(posts[-1])
    approved = deploys.approve(world.deps, actor="lena", deployment_id=asked.id)
    assert approved.status == "queued" and world.lock_holder("web") == asked.id
    deploys.start_deploy(world.deps, asked.id)
    assert world.ecs_rollouts.update_calls[-1] == ("web", original.previous_task_definition)


def test_a_protected_rollback_is_refused_once_the_service_has_moved_on(
    world: World, posts: list[dict[str, Any]]
) -> None:
    policy = copy.deepcopy(PROTECTED)
    policy["environments"]["demo"]["approval"]["actions"] = ["rollback"]
    world.deps.policy = parse_policy(policy, __file__)
    original = world.started()
    world.ecs_says("SERVICE_DEPLOYMENT_COMPLETED", world.ecs_rollouts.complete("web"))
    asked = deploys.request_rollback(
        world.deps, actor="alice", deployment_id=original.id, reason=None
    )
    later = world.started(tag="1.0")  # another deploy lands while the rollback waits
    world.ecs_says("SERVICE_DEPLOYMENT_COMPLETED", world.ecs_rollouts.complete("web"))
    assert world.record(later.id).status == "succeeded"
    with pytest.raises(Conflict) as info:
        deploys.approve(world.deps, actor="lena", deployment_id=asked.id)
    assert "has changed since" in info.value.message
    assert world.record(asked.id).status == "awaiting_approval"
    assert world.lock_holder("web") is None
