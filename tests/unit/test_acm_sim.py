"""The local ACM simulator issues a DNS-validated certificate only as ACM would."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local.acm_sim import AcmSimulator
from infra.local.elb_sim import ListenerCertificates

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("MOTO_ACM_VALIDATION_WAIT", "0")  # moto alone would issue at once
    with mock_aws():
        yield


@pytest.fixture
def sim(aws: None) -> Iterator[tuple[AcmSimulator, list[dict[str, Any]]]]:
    events: list[dict[str, Any]] = []
    simulator = AcmSimulator(
        account_id=ACCOUNT, region=REGION, emit=events.append, validation_seconds=0
    )
    simulator.install(poll=False)
    try:
        yield simulator, events
    finally:
        simulator.stop()


def request(acm: Any, domain: str = "demo.example.com") -> tuple[str, dict[str, str]]:
    arn = acm.request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"]
    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    return arn, cert["DomainValidationOptions"][0]["ResourceRecord"]


def zone(route53: Any, name: str, *, private: bool = False) -> str:
    kwargs: dict[str, Any] = {}
    if private:
        vpc = boto3.client("ec2", region_name=REGION).create_vpc(CidrBlock="10.0.0.0/16")
        kwargs = {
            "HostedZoneConfig": {"PrivateZone": True},
            "VPC": {"VPCRegion": REGION, "VPCId": vpc["Vpc"]["VpcId"]},
        }
    created = route53.create_hosted_zone(Name=name, CallerReference=f"{name}-{private}", **kwargs)
    return str(created["HostedZone"]["Id"])


def cname(route53: Any, zone_id: str, record: dict[str, str], action: str = "UPSERT") -> None:
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": action,
                    "ResourceRecordSet": {
                        "Name": record["Name"],
                        "Type": "CNAME",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": record["Value"]}],
                    },
                }
            ]
        },
    )


def status(acm: Any, arn: str) -> str:
    return str(acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"])


def test_without_the_validation_cname_the_certificate_stays_pending(
    sim: tuple[AcmSimulator, list[dict[str, Any]]],
) -> None:
    simulator, events = sim
    acm = boto3.client("acm", region_name=REGION)
    route53 = boto3.client("route53", region_name=REGION)
    arn, record = request(acm)
    zone(route53, "example.com")
    zone_id = zone(route53, "example.com", private=True)
    cname(route53, zone_id, record)  # in a private zone: not public DNS

    assert simulator.poll_once() == []
    assert status(acm, arn) == "PENDING_VALIDATION"  # even though moto would have issued it
    assert events == []


def test_a_wrong_value_does_not_validate(sim: tuple[AcmSimulator, list[dict[str, Any]]]) -> None:
    simulator, _ = sim
    acm = boto3.client("acm", region_name=REGION)
    route53 = boto3.client("route53", region_name=REGION)
    arn, record = request(acm)
    cname(route53, zone(route53, "example.com"), {**record, "Value": "elsewhere.example.net."})

    assert simulator.poll_once() == []
    assert status(acm, arn) == "PENDING_VALIDATION"


def test_the_cname_in_a_public_zone_issues_it_and_acm_says_so(
    sim: tuple[AcmSimulator, list[dict[str, Any]]],
) -> None:
    simulator, events = sim
    acm = boto3.client("acm", region_name=REGION)
    route53 = boto3.client("route53", region_name=REGION)
    arn, record = request(acm)
    cname(route53, zone(route53, "example.com"), record)

    assert simulator.poll_once() == [arn]

    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert cert["Status"] == "ISSUED"
    now = dt.datetime.now(dt.UTC)
    assert abs(cert["NotBefore"] - now) < dt.timedelta(minutes=1)
    assert dt.timedelta(days=394) < cert["NotAfter"] - now <= dt.timedelta(days=395)
    (event,) = events
    assert event["source"] == "aws.acm"
    assert event["detail-type"] == "ACM Certificate Available"
    assert event["account"] == ACCOUNT and event["region"] == REGION
    assert event["resources"] == [arn]
    assert event["detail"]["Action"] == "ISSUANCE"
    assert event["detail"]["CommonName"] == "demo.example.com"
    assert event["detail"]["DomainValidationMethod"] == "DNS"
    assert event["detail"]["DaysToExpiry"] in (394, 395)
    assert simulator.poll_once() == [] and len(events) == 1  # issued once, told once


def test_issuance_waits_the_validation_delay_and_needs_no_describe(
    sim: tuple[AcmSimulator, list[dict[str, Any]]],
) -> None:
    simulator, events = sim
    acm = boto3.client("acm", region_name=REGION)
    route53 = boto3.client("route53", region_name=REGION)
    arn, record = request(acm)
    zone_id = zone(route53, "example.com")
    cname(route53, zone_id, record)
    simulator.validation_seconds = 0.3
    simulator._poll_seconds = 0.05
    simulator.install()  # starts the polling thread

    assert status(acm, arn) == "PENDING_VALIDATION"  # seen, not yet long enough
    deadline = time.monotonic() + 5
    while not events and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [e["resources"] for e in events] == [[arn]]  # nobody described it meanwhile


def test_modify_listener_keeps_sni_certificates_as_elb_does(aws: None) -> None:
    fix = ListenerCertificates()
    fix.install()
    try:
        acm = boto3.client("acm", region_name=REGION)
        arns = [
            acm.request_certificate(DomainName=f"{n}.example.com")["CertificateArn"]
            for n in ("a", "b", "c")
        ]
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}"
            )["Subnet"]["SubnetId"]
            for i, z in enumerate("ab")
        ]
        elbv2 = boto3.client("elbv2", region_name=REGION)
        lb = elbv2.create_load_balancer(Name="lb", Subnets=subnets)["LoadBalancers"][0]
        listener = elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=443,
            Certificates=[{"CertificateArn": arns[0]}],
            DefaultActions=[
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}
            ],
        )["Listeners"][0]["ListenerArn"]
        elbv2.add_listener_certificates(
            ListenerArn=listener, Certificates=[{"CertificateArn": arns[1]}] * 2
        )
        elbv2.modify_listener(ListenerArn=listener, Certificates=[{"CertificateArn": arns[2]}])

        listed = elbv2.describe_listener_certificates(ListenerArn=listener)["Certificates"]
        assert [(c["CertificateArn"], c["IsDefault"]) for c in listed] == [
            (arns[2], True),
            (arns[1], False),
        ]
    finally:
        fix.stop()
