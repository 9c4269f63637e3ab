"""The embedded AWS's CloudTrail (``infra.local.cloudtrail``): every write call that reaches moto
is recorded as the management event CloudTrail records, and LookupEvents answers with its
filters and paging. Calls go through boto3 to moto in-process, as they reach the moto server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.local.cloudtrail import Trail

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def trail(monkeypatch: pytest.MonkeyPatch) -> Iterator[Trail]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    recorder = Trail()
    recorder.install()
    try:
        with mock_aws():
            yield recorder
    finally:
        recorder.stop()


def ecs(**credentials: Any) -> Any:
    return boto3.client("ecs", region_name=REGION, **credentials)


def seed_web() -> Any:
    client = ecs()
    client.create_cluster(clusterName="demo")
    client.register_task_definition(
        family="web", containerDefinitions=[{"name": "web", "image": "web:1.0", "memory": 128}]
    )
    client.create_service(cluster="demo", serviceName="web", taskDefinition="web", desiredCount=2)
    return client


def lookup(**kwargs: Any) -> dict[str, Any]:
    return boto3.client("cloudtrail", region_name=REGION).lookup_events(**kwargs)


def by(key: str, value: str, **kwargs: Any) -> list[dict[str, Any]]:
    attrs = [{"AttributeKey": key, "AttributeValue": value}]
    return lookup(LookupAttributes=attrs, **kwargs)["Events"]


def test_a_write_is_recorded_as_cloudtrail_records_it(trail: Trail) -> None:
    seed_web().update_service(cluster="demo", service="web", desiredCount=3)
    [event] = by("EventName", "UpdateService")
    assert event["EventSource"] == "ecs.amazonaws.com"
    assert event["ReadOnly"] == "false"
    assert event["Username"] == "root"
    credentials = boto3.Session().get_credentials()
    assert credentials is not None
    assert event["AccessKeyId"] == credentials.access_key
    assert isinstance(event["EventTime"], datetime)
    assert {"ResourceType": "AWS::ECS::Service", "ResourceName": "web"} in event["Resources"]
    record = json.loads(event["CloudTrailEvent"])
    assert record["eventName"] == "UpdateService"
    assert record["eventID"] == event["EventId"]
    assert record["eventType"] == "AwsApiCall"
    assert record["managementEvent"] is True and record["readOnly"] is False
    assert record["awsRegion"] == REGION and record["recipientAccountId"] == ACCOUNT
    assert record["requestParameters"] == {"cluster": "demo", "service": "web", "desiredCount": 3}
    assert record["responseElements"]["service"]["desiredCount"] == 3
    assert record["userIdentity"] == {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "accountId": ACCOUNT,
        "accessKeyId": event["AccessKeyId"],
    }
    assert record["userAgent"].startswith("Boto3/")
    for key in ("eventVersion", "eventTime", "sourceIPAddress", "requestID"):
        assert key in record


def test_an_assumed_role_session_is_the_identity_and_the_username(trail: Trail) -> None:
    seed_web()
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="opsbot-member", AssumeRolePolicyDocument="{}")["Role"]
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=role["Arn"], RoleSessionName="alice@dep-0123"
    )["Credentials"]
    ecs(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).update_service(cluster="demo", service="web", desiredCount=4)
    [event] = by("Username", "alice@dep-0123")
    identity = json.loads(event["CloudTrailEvent"])["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/opsbot-member/alice@dep-0123"
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == role["Arn"]
    assert identity["sessionContext"]["sessionIssuer"]["userName"] == "opsbot-member"
    assert event["AccessKeyId"] == creds["AccessKeyId"]


def test_reads_data_events_and_failed_calls_are_not_recorded(trail: Trail) -> None:
    client = seed_web()
    client.describe_services(cluster="demo", services=["web"])
    client.list_services(cluster="demo")
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    with pytest.raises(ClientError):
        client.update_service(cluster="demo", service="nope", desiredCount=1)
    names = [e["EventName"] for e in lookup()["Events"]]
    assert names == ["CreateQueue", "CreateService", "RegisterTaskDefinition", "CreateCluster"]
    assert by("ReadOnly", "true") == []


def test_every_lookup_attribute_filters(trail: Trail) -> None:
    client = seed_web()
    client.update_service(cluster="demo", service="web", desiredCount=3)
    newest = lookup()["Events"][0]
    assert [e["EventName"] for e in by("ResourceName", "web")] == [
        "UpdateService",
        "CreateService",
        "RegisterTaskDefinition",
    ]
    assert [e["EventName"] for e in by("ResourceType", "AWS::ECS::Cluster")][-1] == "CreateCluster"
    assert len(by("EventSource", "ecs.amazonaws.com")) == 4
    assert by("EventSource", "iam.amazonaws.com") == []
    assert [e["EventId"] for e in by("EventId", newest["EventId"])] == [newest["EventId"]]
    assert len(by("AccessKeyId", newest["AccessKeyId"])) == 4
    assert len(by("Username", "root")) == 4
    assert len(by("ReadOnly", "false")) == 4


def test_time_range_and_paging_newest_first(trail: Trail) -> None:
    client = seed_web()
    for count in range(3, 8):
        client.update_service(cluster="demo", service="web", desiredCount=count)
    seen: list[int] = []
    kwargs: dict[str, Any] = {"MaxResults": 2}
    pages = 0
    while True:
        page = lookup(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "UpdateService"}],
            **kwargs,
        )
        pages += 1
        seen += [
            json.loads(e["CloudTrailEvent"])["requestParameters"]["desiredCount"]
            for e in page["Events"]
        ]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert seen == [7, 6, 5, 4, 3] and pages == 3
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert lookup(StartTime=later)["Events"] == []
    assert len(lookup(EndTime=later)["Events"]) == 8


def test_lookup_refuses_what_cloudtrail_refuses(trail: Trail) -> None:
    two = [
        {"AttributeKey": "EventName", "AttributeValue": "UpdateService"},
        {"AttributeKey": "Username", "AttributeValue": "root"},
    ]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"LookupAttributes": two}, "InvalidLookupAttributesException"),
        (
            {"LookupAttributes": [{"AttributeKey": "Colour", "AttributeValue": "x"}]},
            "InvalidLookupAttributesException",
        ),
        (
            {
                "StartTime": datetime(2026, 2, 1, tzinfo=UTC),
                "EndTime": datetime(2026, 1, 1, tzinfo=UTC),
            },
            "InvalidTimeRangeException",
        ),
        ({"NextToken": "not-a-token"}, "InvalidNextTokenException"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as caught:
            lookup(**kwargs)
        assert caught.value.response["Error"]["Code"] == code


def test_each_account_and_region_has_its_own_events(trail: Trail) -> None:
    seed_web()
    other = boto3.client("ecs", region_name="eu-west-1")
    other.create_cluster(clusterName="elsewhere")
    here = [e["EventName"] for e in lookup()["Events"]]
    there = boto3.client("cloudtrail", region_name="eu-west-1").lookup_events()["Events"]
    assert "CreateCluster" in here and len(here) == 3
    assert [e["EventName"] for e in there] == ["CreateCluster"]


def test_faulted_calls_never_arrive_and_the_stacks_own_calls_are_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over real HTTP to a moto server, as in the local stack: a call faulted inside an
    invocation is answered before it leaves the client; the same client's call outside one
    (the stack's own bookkeeping) reaches the server and is recorded."""
    from botocore.session import Session
    from moto.server import ThreadedMotoServer

    from infra.local import lambda_runtime
    from infra.local.faults import Faults, FaultSettings
    from infra.local.lambda_runtime import invocation
    from infra.local.launch import free_port

    # the fault hooks wrap every client made from now on: unwrapped again after this test
    monkeypatch.setattr(Session, "create_client", Session.create_client)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    recorder, faults = Trail(), Faults()
    recorder.install()
    server.start()
    faults.install()
    lambda_runtime.listeners.append(faults)
    endpoint: dict[str, Any] = {
        "region_name": REGION,
        "endpoint_url": f"http://127.0.0.1:{port}",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    try:
        client = boto3.client("ecs", **endpoint)
        client.create_cluster(clusterName="demo")
        faults.configure(FaultSettings(aws_errors=1, seed=1))
        with invocation("work"), pytest.raises(ClientError):
            client.create_cluster(clusterName="faulted")
        client.create_cluster(clusterName="after")
        trail = boto3.client("cloudtrail", **endpoint)
        names = [
            r["ResourceName"]
            for e in trail.lookup_events(
                LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateCluster"}]
            )["Events"]
            for r in e["Resources"]
        ]
    finally:
        lambda_runtime.listeners.remove(faults)
        faults.off()
        server.stop()
        recorder.stop()
    assert names == ["after", "demo"]
