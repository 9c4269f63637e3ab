"""What changed on a service, in process against moto with the local stack's CloudTrail
recorder installed: the feed's three sources, a CloudTrail that refuses (AccessDenied, as a
botocore Stubber answers it), the REST route's answers, and an alarm reaction's follow-up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from chalice.test import Client

from chalicelib import changes, worker
from chalicelib.domain.policy import Environment
from infra.local.cloudtrail import Trail
from tests.functional.conftest import REGION, World
from tests.functional.test_alarm_reactions import POLICY as ALARM_POLICY
from tests.functional.test_alarm_reactions import World as AlarmWorld
from tests.functional.test_alarm_reactions import aws_env, cpu, make_world

__all__ = ["aws_env"]  # the alarm world's fixture, used below

ACCESS_DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/opsbot-api/opsbot is not authorized to "
    "perform: cloudtrail:LookupEvents because no identity-based policy allows the "
    "cloudtrail:LookupEvents action"
)


@pytest.fixture
def trail() -> Iterator[Trail]:
    recorder = Trail()
    recorder.install()
    try:
        yield recorder
    finally:
        recorder.stop()


def now() -> datetime:
    return datetime.now(UTC)


def someone_elses_ecs() -> Any:
    """A client of a person outside opsbot (the console, another pipeline)."""
    return boto3.client("ecs", region_name=REGION)


def deployed(world: World) -> str:
    """web 2.0 deployed through opsbot, to its end; the deployment id."""
    world.clock.now = now()
    record = world.started("web", "2.0")
    world.clock.now = now()  # the clock moves as the wall clock moto's records use
    ecs_id = world.ecs_rollouts.complete("web")
    world.ecs_says("SERVICE_DEPLOYMENT_COMPLETED", ecs_id)
    assert world.record(record.id).status == "succeeded"
    return record.id


def test_the_feed_merges_opsbot_cloudtrail_and_ecs_newest_first(world: World, trail: Trail) -> None:
    world.clock.now = now()
    deployment_id = deployed(world)
    someone_elses_ecs().update_service(cluster="demo", service="web", desiredCount=3)
    world.clock.now = now() + timedelta(seconds=1)

    feed = changes.changes(
        world.deps, actor="alice", environment="demo", service="web", since_minutes=60
    )

    assert feed.missing_sources == ()
    assert [c.at for c in feed.items] == sorted((c.at for c in feed.items), reverse=True)
    newest = feed.items[0]
    assert (newest.source, newest.what) == ("cloudtrail", "UpdateService desiredCount=3")
    assert newest.actor == "root (123456789012)"
    ours = [c for c in feed.items if c.source == "opsbot"]
    assert [c.deployment_id for c in ours] == [deployment_id]  # one line per deployment
    assert ours[0].actor == "alice" and "succeeded" in ours[0].what
    assert any(c.source == "ecs" and "started" in c.what for c in feed.items)
    assert {"RegisterTaskDefinition", "UpdateService"} <= {
        c.what.split()[0] for c in feed.items if c.source == "cloudtrail"
    }


def test_another_clusters_service_of_the_same_name_is_not_in_the_feed(
    world: World, trail: Trail
) -> None:
    world.clock.now = now()
    other = someone_elses_ecs()
    other.create_cluster(clusterName="prod")
    other.create_service(cluster="prod", serviceName="web", taskDefinition="web", desiredCount=1)
    other.update_service(cluster="prod", service="web", desiredCount=5)
    world.clock.now = now() + timedelta(seconds=1)
    feed = changes.changes(
        world.deps, actor="alice", environment="demo", service="web", since_minutes=5
    )
    assert [c.what for c in feed.items if "desiredCount=5" in c.what] == []


def denying_cloudtrail(world: World) -> Stubber:
    """Deps whose CloudTrail answers LookupEvents with AccessDenied, as AWS words it."""
    client = boto3.client("cloudtrail", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error(
        "lookup_events",
        service_error_code="AccessDeniedException",
        service_message=ACCESS_DENIED,
        http_status_code=400,
    )
    stubber.activate()
    real = world.deps.aws

    def aws(service: str, env: Environment) -> Any:
        return client if service == "cloudtrail" else real(service, env)  # type: ignore[call-overload]

    world.deps.aws = aws
    return stubber


def test_without_lookup_events_permission_the_feed_comes_without_cloudtrail(
    world: World, trail: Trail
) -> None:
    world.clock.now = now()
    deployment_id = deployed(world)
    stubber = denying_cloudtrail(world)
    world.clock.now = now() + timedelta(seconds=1)

    feed = changes.changes(
        world.deps, actor="alice", environment="demo", service="web", since_minutes=60
    )

    stubber.assert_no_pending_responses()
    assert feed.missing_sources == ("cloudtrail",)
    assert feed.notes == (f"cloudtrail: AccessDeniedException: {ACCESS_DENIED}"[:228],)
    assert {c.source for c in feed.items} == {"opsbot", "ecs"}
    assert deployment_id in {c.deployment_id for c in feed.items}


@pytest.fixture
def client(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    import hashlib

    from app import app

    tokens = {hashlib.sha256(b"alice-token").hexdigest(): "alice"}
    monkeypatch.setattr("chalicelib.aws.parameters.api_token_map", lambda: tokens)
    with Client(app) as test_client:
        yield test_client


def get(client: Client, path: str) -> tuple[int, Any]:
    resp = client.http.get(path, headers={"Authorization": "Bearer alice-token"})
    return resp.status_code, json.loads(resp.body)


def test_the_route_answers_the_feed_and_refuses_bad_windows_and_names(
    client: Client, world: World, trail: Trail
) -> None:
    world.clock.now = now()
    someone_elses_ecs().update_service(cluster="demo", service="web", desiredCount=3)
    world.clock.now = now() + timedelta(seconds=1)
    status, body = get(client, "/services/demo/web/changes")
    assert status == 200
    assert body["items"][0]["source"] == "cloudtrail"
    assert body["items"][0]["what"] == "UpdateService desiredCount=3"
    assert set(body["items"][0]) >= {"at", "source", "actor", "what", "detail"}
    assert body["missing_sources"] == []
    for query in ("0", "1441", "soon", "-1"):
        status, body = get(client, f"/services/demo/web/changes?since_minutes={query}")
        assert status == 400, query
        assert "since_minutes" in body["error"]["fields"]
    assert get(client, "/services/demo/nope/changes")[0] == 404
    assert get(client, "/services/nowhere/web/changes")[0] == 404


def test_a_denied_lookup_is_a_200_naming_the_missing_source(
    client: Client, world: World, trail: Trail
) -> None:
    denying_cloudtrail(world)
    status, body = get(client, "/services/demo/web/changes?since_minutes=5")
    assert status == 200
    assert body["missing_sources"] == ["cloudtrail"]
    assert body["notes"][0].startswith("cloudtrail: AccessDeniedException")


# -- the alarm reaction's follow-up -----------------------------------------------------------


@pytest.fixture
def alarm_world(aws_env: None, trail: Trail) -> Iterator[AlarmWorld]:
    from moto import mock_aws

    with mock_aws():
        yield make_world(ALARM_POLICY)


def test_an_alarm_reaction_acts_first_then_says_what_changed_in_a_follow_up(
    alarm_world: AlarmWorld,
) -> None:
    world = alarm_world
    world.clock.now = now()
    world.put_alarm("web-cpu-high", "ALARM")
    someone_elses_ecs().update_service(cluster="demo", service="web", desiredCount=3)
    world.clock.now = now()  # the reaction's own calls come after: not in its window

    assert world.results(cpu()) == ["scaled"]
    [reaction] = world.sent  # the reaction is posted; nothing was looked up before it
    assert reaction.title == "web-cpu-high ALARM: web 3 -> 4"
    [follow_up] = world.queue.follow_ups
    assert (follow_up.environment, follow_up.service) == ("demo", "web")
    assert follow_up.reaction == reaction.title

    worker.handle(world.deps, follow_up.model_dump_json())  # as the worker gets it from SQS
    worker.handle(world.deps, follow_up.model_dump_json())  # a redelivery posts nothing more

    assert [m.title for m in world.sent] == [
        "web-cpu-high ALARM: web 3 -> 4",
        "Changed in the last hour: demo/web",
    ]
    posted = world.sent[1]
    assert ("Reaction", "web-cpu-high ALARM: web 3 -> 4") in posted.facts
    lines = posted.text.splitlines()
    assert lines[0].endswith("cloudtrail, root (123456789012): UpdateService desiredCount=3")
    assert not any("alarm:web-cpu-high" in line for line in lines)  # the reaction itself
    blocks = json.dumps(posted.slack_payload())
    assert "Changed in the last hour" in blocks and "UpdateService desiredCount=3" in blocks
    assert "UpdateService desiredCount=3" in posted.plain()  # the email says the same


def test_the_follow_up_leaves_out_only_the_reaction_itself(alarm_world: AlarmWorld) -> None:
    # on-call wants the alarm's earlier scaling in "what changed", not only other people's
    world = alarm_world
    world.clock.now = now()
    world.put_alarm("web-cpu-high", "ALARM")
    assert world.results(cpu()) == ["scaled"]  # web 2 -> 3
    world.clock.now = now() + timedelta(seconds=30)
    ok_changed = (world.clock.now - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    world.put_alarm("web-cpu-high", "OK")
    assert world.results(cpu("OK", StateChangeTime=ok_changed[:-3] + "+0000")) == ["scaled"]
    follow_up = world.queue.follow_ups[-1]
    assert follow_up.state == "OK"

    worker.handle(world.deps, follow_up.model_dump_json())
    posted = world.sent[-1]
    assert posted.title == "Changed in the last hour: demo/web"
    mine = [line for line in posted.text.splitlines() if "alarm:web-cpu-high" in line]
    assert len(mine) == 1 and mine[0].endswith("scaled out 2 -> 3")  # not its own 3 -> 2


def test_a_quiet_hour_is_one_line_and_a_denied_lookup_still_posts(
    alarm_world: AlarmWorld,
) -> None:
    world = alarm_world
    world.clock.now = now() + timedelta(hours=3)  # long after the seeding
    world.put_alarm("web-cpu-high", "ALARM")
    assert world.results(cpu()) == ["scaled"]
    [follow_up] = world.queue.follow_ups
    client = boto3.client("cloudtrail", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error(
        "lookup_events", "AccessDeniedException", ACCESS_DENIED, http_status_code=400
    )
    stubber.activate()
    real = world.deps.aws
    world.deps = replace(
        world.deps,
        aws=lambda service, env: client if service == "cloudtrail" else real(service, env),  # type: ignore[arg-type]
    )
    worker.handle(world.deps, follow_up.model_dump_json())
    posted = world.sent[-1]
    assert posted.text.splitlines() == [
        "Nothing changed in the last hour.",
        f"Not included: cloudtrail: AccessDeniedException: {ACCESS_DENIED}"[:242],
    ]


# -- Slack: /opsbot changes SERVICE [ENV] [MINUTES] -------------------------------------------


def slash(text: str) -> Any:
    from urllib.parse import urlencode

    from chalicelib.chatops import SlashCommand

    return SlashCommand.parse(urlencode({"user_id": "U1", "text": text}).encode())


def test_the_slash_command_lists_the_changes_and_refuses_a_bad_window(
    world: World, trail: Trail
) -> None:
    from chalicelib.chatops.changes import changes_reply

    world.clock.now = now()
    someone_elses_ecs().update_service(cluster="demo", service="web", desiredCount=3)
    world.clock.now = now() + timedelta(seconds=1)

    reply = changes_reply(world.deps, "alice", slash("changes web demo 90"))
    lines = reply["text"].splitlines()
    assert lines[0] == "*demo/web*: changes of the last 90 min, newest first:"
    assert lines[1].endswith("cloudtrail, root (123456789012): UpdateService desiredCount=3")
    assert reply["response_type"] == "ephemeral"
    default = changes_reply(world.deps, "alice", slash("changes web demo"))
    assert "last 60 min" in default["text"]

    from chalicelib.core.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as refused:
        changes_reply(world.deps, "alice", slash("changes web demo 99999999999999999999"))
    assert "since_minutes" in refused.value.to_body()["error"]["fields"]
    with pytest.raises(InvalidRequest) as refused:  # full-width digits: MINUTES, not a COUNT
        changes_reply(world.deps, "alice", slash("changes web demo \uff11\uff15"))
    error = refused.value.to_body()["error"]
    assert error["message"].startswith("MINUTES must be a whole number")
    assert "since_minutes" in error["fields"] and "desired" not in error["fields"]


def test_a_source_that_fails_is_named_and_the_others_still_answer(
    world: World, trail: Trail, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    def throttled(**_: Any) -> Any:
        error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
        raise ClientError(error, "Query")  # type: ignore[arg-type]

    world.clock.now = now()
    someone_elses_ecs().update_service(cluster="demo", service="web", desiredCount=3)
    world.clock.now = now() + timedelta(seconds=1)
    monkeypatch.setattr(world.deps.store, "history_entries", throttled)
    feed = changes.changes(
        world.deps, actor="alice", environment="demo", service="web", since_minutes=5
    )
    assert feed.missing_sources == ("opsbot",)
    assert feed.notes == ("opsbot: ThrottlingException: Rate exceeded",)
    assert feed.items[0].what == "UpdateService desiredCount=3"


# -- who may hide a call from the feed: opsbot's principal with opsbot's user agent ----------


def test_an_opsbot_user_agent_alone_does_not_hide_a_change(world: World, trail: Trail) -> None:
    from botocore.config import Config

    from chalicelib.aws import clients
    from chalicelib.changes import principals

    principals.forget()
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="mallory")
    key = iam.create_access_key(UserName="mallory")["AccessKey"]
    mallory = boto3.client(
        "ecs",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(user_agent_extra="opsbot"),
    )
    world.clock.now = now()
    mallory.update_service(cluster="demo", service="web", desiredCount=4)
    clients.reset()  # opsbot's own client: its user agent, the local stack's key (root)
    clients.client("ecs", world.deps.policy.environments["demo"]).update_service(
        cluster="demo", service="web", desiredCount=6
    )
    world.clock.now = now() + timedelta(seconds=1)

    feed = changes.changes(
        world.deps, actor="alice", environment="demo", service="web", since_minutes=5
    )

    trail_lines = [(c.actor, c.what) for c in feed.items if c.source == "cloudtrail"]
    assert ("mallory (claims to be opsbot)", "UpdateService desiredCount=4") in trail_lines
    assert not any("desiredCount=6" in what for _, what in trail_lines)  # opsbot's own
