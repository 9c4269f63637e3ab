"""``Idempotency-Key`` on the POST routes, through the Chalice app (middleware and all) against
moto in-process: a repeat answers byte for byte as the first did and does nothing else."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib.aws import clients, parameters
from chalicelib.core.settings import Settings
from chalicelib.handlers.idempotency import HEADER, REPLAYED_HEADER, check_key
from chalicelib.store.idempotency import (
    IN_PROGRESS_LEASE_SECONDS,
    ClaimOutcome,
)
from tests.functional.conftest import REGION, World

TOKENS = {"alice-token": "alice", "victor-token": "victor"}
DEPLOY = {"environment": "demo", "service": "web", "tag": "2.0"}


@dataclass
class Api:
    """The REST API as a client sees it."""

    client: Client

    def post(
        self, path: str, body: Any, *, key: str | None = None, token: str = "alice-token"
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if key is not None:
            headers[HEADER] = key
        raw = body if isinstance(body, str) else json.dumps(body)
        return self.client.http.post(path, headers=headers, body=raw)


@pytest.fixture
def api(world: World, settings: Settings) -> Iterator[Api]:
    ssm = boto3.client("ssm", region_name=REGION)
    digests = {hashlib.sha256(t.encode()).hexdigest(): who for t, who in TOKENS.items()}
    ssm.put_parameter(
        Name=settings.api_tokens_parameter, Type="SecureString", Value=json.dumps(digests)
    )
    clients.reset()
    parameters.forget()
    from app import app

    with Client(app) as client:
        yield Api(client)
    clients.reset()
    parameters.forget()


def _deployments(world: World) -> list[str]:
    return [body["deployment_id"] for body, _ in world.work() if "deployment_id" in body]


def _error(resp: Any) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(resp.body)["error"]
    return error


def test_a_repeated_deploy_answers_the_first_answer_byte_for_byte(api: Api, world: World) -> None:
    first = api.post("/deployments", DEPLOY, key="ci-run-42")
    assert first.status_code == 202, first.body
    queued = world.work()

    again = api.post("/deployments", DEPLOY, key="ci-run-42")

    assert again.status_code == 202
    assert again.body == first.body  # same bytes: same id, same status, same everything
    assert again.headers[REPLAYED_HEADER] == "true"
    assert REPLAYED_HEADER not in first.headers
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert world.work() == queued  # nothing else was queued
    assert len(queued) == 1


def test_json_bodies_are_compared_by_value(api: Api, world: World) -> None:
    first = api.post("/deployments", DEPLOY, key="k-1")
    reordered = json.dumps(dict(reversed(list(DEPLOY.items()))), indent=2)
    again = api.post("/deployments", reordered, key="k-1")
    assert again.status_code == 202
    assert again.body == first.body
    assert len(world.work()) == 1


def test_the_same_key_for_a_different_body_is_a_400_naming_it(api: Api, world: World) -> None:
    assert api.post("/deployments", DEPLOY, key="k-2").status_code == 202
    other = api.post("/deployments", {**DEPLOY, "tag": "1.0"}, key="k-2")
    assert other.status_code == 400
    error = _error(other)
    assert error["code"] == "invalid_request"
    assert HEADER in error["message"]
    assert HEADER in error["fields"]
    assert len(world.work()) == 1


def test_no_body_and_an_empty_object_are_the_same_request(api: Api, world: World) -> None:
    """curl's bare ``POST .../approve`` and the CLI's retry of it with ``{}`` (same key): the
    retry is answered as the first was, not refused as a different request."""
    first = api.post("/deployments/dep-0123456789abcdef01234567/approve", "", key="k-bare")
    assert first.status_code == 404
    again = api.post("/deployments/dep-0123456789abcdef01234567/approve", {}, key="k-bare")
    assert again.status_code == 404 and again.body == first.body
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_the_same_key_on_another_route_is_a_400(api: Api, world: World) -> None:
    assert api.post("/services/demo/web/scale", {"desired": 3}, key="k-3").status_code == 200
    other = api.post("/services/demo/api/scale", {"desired": 3}, key="k-3")
    assert other.status_code == 400
    assert HEADER in _error(other)["fields"]


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "clé", "tab\there", "nul\x00"],
    ids=["empty", "long", "utf8", "tab", "nul"],
)
def test_a_bad_key_is_a_400_naming_it(key: str) -> None:
    from chalicelib.core.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as raised:
        check_key(key)
    assert HEADER in raised.value.details["fields"]
    assert HEADER in raised.value.message


@pytest.mark.parametrize("key", ["a", "x" * 255, "run 1234/attempt~!@#$%^&*()"])
def test_good_keys_pass(key: str) -> None:
    assert check_key(key) == key


def test_a_bad_key_over_http_changes_nothing(api: Api, world: World) -> None:
    resp = api.post("/deployments", DEPLOY, key="x" * 256)
    assert resp.status_code == 400
    assert HEADER in _error(resp)["fields"]
    assert world.work() == []


def test_keys_belong_to_their_principal(api: Api, world: World) -> None:
    assert api.post("/deployments", DEPLOY, key="shared").status_code == 202
    # victor may only read: his request with the same key is his own, not alice's replayed
    refused = api.post("/deployments", DEPLOY, key="shared", token="victor-token")
    assert refused.status_code == 403
    assert REPLAYED_HEADER not in refused.headers


def test_a_scale_repeated_scales_once(api: Api, world: World) -> None:
    first = api.post("/services/demo/web/scale", {"desired": 4}, key="scale-1")
    assert first.status_code == 200, first.body
    again = api.post("/services/demo/web/scale", {"desired": 4}, key="scale-1")
    assert (again.status_code, again.body) == (first.status_code, first.body)
    assert [c for c in world.ecs_rollouts.update_calls if c[0] == "web"] == [("web", None)]
    assert len([e for e in world.audit("web") if e["action"] == "scale"]) == 1


def test_a_rollback_repeated_rolls_back_once(api: Api, world: World) -> None:
    record = world.started()
    assert record.ecs_deployment_id is not None
    world.ecs_says("SERVICE_DEPLOYMENT_COMPLETED", record.ecs_deployment_id)
    assert world.record(record.id).status == "succeeded"
    before = len(world.work())

    path = f"/deployments/{record.id}/rollback"
    first = api.post(path, {"reason": "bad build"}, key="rb-1")
    assert first.status_code == 202, first.body
    again = api.post(path, {"reason": "bad build"}, key="rb-1")
    assert (again.status_code, again.body) == (202, first.body)
    assert len(world.work()) == before + 1


def test_errors_are_replayed_too(api: Api, world: World) -> None:
    first = api.post("/services/demo/web/scale", {"desired": 60}, key="too-many")
    assert first.status_code == 400
    again = api.post("/services/demo/web/scale", {"desired": 60}, key="too-many")
    assert (again.status_code, again.body) == (400, first.body)
    assert again.headers[REPLAYED_HEADER] == "true"


def test_a_duplicate_while_the_first_is_in_progress_is_a_409(api: Api, world: World) -> None:
    from chalice.app import Request

    from chalicelib.handlers.idempotency import request_hash

    # the first request has claimed the key and is still running (same request, same hash)
    event = {
        "requestContext": {"resourcePath": "/deployments", "httpMethod": "POST"},
        "httpMethod": "POST",
        "headers": {},
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "body": json.dumps(DEPLOY),
        "isBase64Encoded": False,
    }
    claim = world.store.claim_idempotency(
        principal="alice",
        key="busy",
        request_hash=request_hash(Request(event)),
        now=world.clock(),
    )
    assert claim.outcome is ClaimOutcome.CLAIMED

    busy = api.post("/deployments", DEPLOY, key="busy")
    assert busy.status_code == 409
    assert HEADER in _error(busy)["fields"]
    # it says when to come back: when the first attempt's lease runs out
    assert _error(busy)["retry_after_seconds"] == IN_PROGRESS_LEASE_SECONDS + 1
    world.clock.advance(10)
    later = _error(api.post("/deployments", DEPLOY, key="busy"))
    assert later["retry_after_seconds"] == IN_PROGRESS_LEASE_SECONDS + 1 - 10
    assert world.work() == []

    # the first attempt died: once its lease runs out a retry of the same request runs
    world.clock.advance(IN_PROGRESS_LEASE_SECONDS + 1 - 10)
    retried = api.post("/deployments", DEPLOY, key="busy")
    assert retried.status_code == 202, retried.body
    assert len(world.work()) == 1


def test_after_a_server_error_the_key_is_released(
    api: Api, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import deploys

    real = deploys.request_deploy
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(deploys, "request_deploy", flaky)
    failed = api.post("/deployments", DEPLOY, key="k-500")
    assert failed.status_code == 500
    retried = api.post("/deployments", DEPLOY, key="k-500")
    assert retried.status_code == 202
    assert REPLAYED_HEADER not in retried.headers
    assert len(world.work()) == 1


def test_a_key_is_remembered_for_24_hours(api: Api, world: World) -> None:
    first = api.post("/services/demo/web/scale", {"desired": 3}, key="day")
    assert api.post("/services/demo/web/scale", {"desired": 2}).status_code == 200
    assert len(world.ecs_rollouts.update_calls) == 2
    world.clock.advance(timedelta(hours=23, minutes=59).total_seconds())
    assert api.post("/services/demo/web/scale", {"desired": 3}, key="day").body == first.body
    assert len(world.ecs_rollouts.update_calls) == 2  # replayed: web stays at 2
    world.clock.advance(timedelta(minutes=2).total_seconds())
    later = api.post("/services/demo/web/scale", {"desired": 3}, key="day")
    assert later.status_code == 200
    assert REPLAYED_HEADER not in later.headers
    assert len(world.ecs_rollouts.update_calls) == 3


def test_without_a_key_nothing_changes(api: Api, world: World) -> None:
    assert api.post("/services/demo/web/scale", {"desired": 3}).status_code == 200
    assert api.post("/services/demo/web/scale", {"desired": 4}).status_code == 200
    again = api.post("/services/demo/web/scale", {"desired": 3})
    assert again.status_code == 200
    assert REPLAYED_HEADER not in again.headers
    assert len(world.ecs_rollouts.update_calls) == 3


def _deployment_ids(world: World) -> list[str]:
    """Every deployment recorded in the state table."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    items = ddb.scan(TableName=world.deps.settings.table_name)["Items"]
    return sorted(i["pk"]["S"][4:] for i in items if i["pk"]["S"].startswith("DEP#"))


class _Died(BaseException):
    """Lambda killed mid-request: nothing after it runs, nothing can catch it."""


def test_a_retry_after_the_first_run_died_returns_its_deployment_not_a_second(
    api: Api, world: World
) -> None:
    # The first run records the deployment and dies at the SendMessage of its start: no answer
    # saved, no start queued. Once its claim's lease runs out, the client's retry runs again.
    def die(**_: Any) -> None:
        raise _Died

    sqs_events = world.deps.queue._sqs.meta.events
    sqs_events.register("before-call.sqs.SendMessage", die, unique_id="die")
    with pytest.raises(_Died):
        api.post("/deployments", DEPLOY, key="ci-run-7")
    sqs_events.unregister("before-call.sqs.SendMessage", unique_id="die")
    [first_id] = _deployment_ids(world)
    first = world.record(first_id)
    assert first.status == "queued" and world.work() == []

    world.clock.advance(IN_PROGRESS_LEASE_SECONDS + 1)
    retried = api.post("/deployments", DEPLOY, key="ci-run-7")
    assert retried.status_code == 202, retried.body
    assert json.loads(retried.body)["id"] == first.id  # the same deployment, not a second one
    assert _deployment_ids(world) == [first.id]
    assert world.work() == [({"kind": "deploy.start", "deployment_id": first.id}, 0)]


def test_a_claim_over_a_dead_attempt_says_so(world: World) -> None:
    """The re-run of a request whose Lambda died is told it re-runs it (an approve re-run then
    finds its own decision done and answers 202 instead of 409)."""
    first = world.store.claim_idempotency(
        principal="lena", key="k-dead", request_hash="h", now=world.clock()
    )
    assert first.outcome is ClaimOutcome.CLAIMED and not first.resumed
    world.clock.advance(IN_PROGRESS_LEASE_SECONDS + 1)  # it died: nothing saved or released
    again = world.store.claim_idempotency(
        principal="lena", key="k-dead", request_hash="h", now=world.clock()
    )
    assert again.outcome is ClaimOutcome.CLAIMED and again.resumed
    fresh = world.store.claim_idempotency(
        principal="lena", key="k-new", request_hash="h", now=world.clock()
    )
    assert fresh.outcome is ClaimOutcome.CLAIMED and not fresh.resumed
