"""Certificate rotation against moto in-process: ACM, Route 53 and an ALB's HTTPS listener.

The world of ``conftest.py`` (table, queues, notifications topic, clock) plus the demo ALB with an
HTTPS listener on 443 serving an imported certificate for demo.example.com that expires in 18
days, and the public hosted zone example.com. ACM issues a DNS-validated certificate as the local
stack's simulator (``infra/local/acm_sim.py``) makes it: once its validation CNAME is in the zone;
here the test decides when (``sim.validation_seconds``) and hands opsbot the "ACM Certificate
Available" event the simulator emitted, as Lambda would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto.acm.models import CertBundle, acm_backends

from chalicelib import certificates
from chalicelib.certificates.inventory import certificate_list
from chalicelib.core.errors import OpsError
from chalicelib.deps import Deps
from chalicelib.domain.policy import parse_policy
from chalicelib.records.rotation import Rotation
from infra.local.acm_sim import AcmSimulator
from infra.local.elb_sim import ListenerCertificates
from tests.functional.conftest import ACCOUNT, EVENTS, POLICY, REGION, World, lambda_context

DOMAIN = "demo.example.com"
NAMES = [DOMAIN, "www.demo.example.com"]
HOLD = 10**9  # validation_seconds that never elapse: ACM keeps the certificate pending


def self_signed(names: list[str], *, days: int) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for ``names``, valid from a day ago for ``days`` from now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@dataclass
class Certs:
    """The certificate world: what opsbot acts on and what it told people."""

    world: World
    deps: Deps
    sim: AcmSimulator
    listener_arn: str
    old_arn: str
    zone_id: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def acm(self) -> Any:
        return self.world.client("acm")

    @property
    def elbv2(self) -> Any:
        return self.world.client("elbv2")

    def rotation(self, old_arn: str | None = None) -> Rotation:
        found = self.deps.store.get_rotation(old_arn or self.old_arn)
        assert found is not None
        return found

    def check(self) -> list[dict[str, Any]]:
        return certificates.check_all(self.deps)

    def outcome(self, results: list[dict[str, Any]], old_arn: str | None = None) -> str:
        (result,) = [r for r in results if r.get("certificate") == (old_arn or self.old_arn)]
        return str(result["outcome"])

    def import_certificate(self, names: list[str], *, days: int) -> str:
        cert, key = self_signed(names, days=days)
        return str(self.acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"])

    def certificates_for(self, domain: str) -> list[dict[str, Any]]:
        arns = [
            c["CertificateArn"]
            for c in self.acm.list_certificates()["CertificateSummaryList"]
            if c["DomainName"] == domain
        ]
        return [self.acm.describe_certificate(CertificateArn=a)["Certificate"] for a in arns]

    def default_certificate(self) -> str:
        listener = self.elbv2.describe_listeners(ListenerArns=[self.listener_arn])["Listeners"][0]
        return str(listener["Certificates"][0]["CertificateArn"])

    def sni_certificates(self) -> set[str]:
        certs = self.elbv2.describe_listener_certificates(ListenerArn=self.listener_arn)
        return {c["CertificateArn"] for c in certs["Certificates"] if not c["IsDefault"]}

    def cnames(self) -> dict[str, str]:
        sets = self.world.client("route53").list_resource_record_sets(HostedZoneId=self.zone_id)
        return {
            r["Name"]: r["ResourceRecords"][0]["Value"]
            for r in sets["ResourceRecordSets"]
            if r["Type"] == "CNAME"
        }

    def notes(self) -> list[dict[str, Any]]:
        """Every notification so far: subject, body and level."""
        self.world.notifications()
        return [
            {
                "subject": n["Subject"],
                "text": n["Message"].split("\n\n", 1)[1],  # the body, after the title
                "level": n.get("MessageAttributes", {}).get("level", {}).get("Value"),
            }
            for n in self.world.sent_notes
        ]

    def titled(self, title: str) -> list[dict[str, Any]]:
        return [n for n in self.notes() if n["subject"] == f"[opsbot] {title}"]

    def issue(self) -> list[str]:
        """ACM sees the validation records (at once) and issues: the ARNs it issued."""
        self.sim.validation_seconds = 0
        issued = self.sim.poll_once()
        self.sim.validation_seconds = HOLD
        return issued

    def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        """Hand an EventBridge event to the ACM handler, as Lambda would."""
        from chalicelib.handlers.events import acm_certificate_event

        reply: dict[str, Any] = acm_certificate_event(
            event, lambda_context("acm_certificate_event")
        )
        return reply


def _seed_alb(world: World, cert_arn: str) -> tuple[str, str]:
    ec2 = world.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate("ab", start=1)
    ]
    elbv2 = world.client("elbv2")
    alb = elbv2.create_load_balancer(Name="demo-alb", Subnets=subnets, Type="application")[
        "LoadBalancers"
    ][0]
    tg = elbv2.create_target_group(
        Name="demo-web", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    forward = [{"Type": "forward", "TargetGroupArn": tg}]
    listener = elbv2.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": cert_arn}],
        DefaultActions=forward,
    )["Listeners"][0]["ListenerArn"]
    # plain HTTP listeners have no certificate: opsbot never looks at them
    elbv2.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=forward
    )
    zone = world.client("route53").create_hosted_zone(
        Name="example.com", CallerReference="opsbot-test-zone"
    )["HostedZone"]["Id"]
    world.client("route53").create_hosted_zone(  # a private zone of the same name never counts
        Name="example.com",
        CallerReference="opsbot-test-private-zone",
        HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": REGION, "VPCId": vpc},
    )
    return listener, zone.rsplit("/", 1)[-1]


@pytest.fixture
def certs(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Certs]:
    policy = json.loads(json.dumps(POLICY))
    policy["environments"]["demo"]["load_balancers"] = ["demo-alb"]
    policy["certificates"] = {"renew_before_days": 30, "validation_timeout_hours": 72}
    deps = dataclasses.replace(world.deps, policy=parse_policy(policy, "test_certificates"))
    monkeypatch.setattr("chalicelib.handlers.wiring.get_deps", lambda: deps)
    world.clock.now = dt.datetime.now(dt.UTC).replace(microsecond=0)  # moto's ACM runs on it
    listeners = ListenerCertificates()
    listeners.install()
    events: list[dict[str, Any]] = []
    sim = AcmSimulator(account_id=ACCOUNT, region=REGION, emit=events.append)
    sim.validation_seconds = HOLD
    sim.install(poll=False)
    try:
        cert, key = self_signed(NAMES, days=18)
        old_arn = world.client("acm").import_certificate(Certificate=cert, PrivateKey=key)[
            "CertificateArn"
        ]
        listener_arn, zone_id = _seed_alb(world, old_arn)
        yield Certs(world, deps, sim, listener_arn, old_arn, zone_id, events)
    finally:
        sim.stop()
        listeners.stop()


# -- starting ----------------------------------------------------------------------------------


def test_expiring_certificate_starts_a_rotation(certs: Certs) -> None:
    certs.world.clock.advance(60)  # a minute after its import: 17 days and 23:59 left
    results = certs.check()

    assert certs.outcome(results) == "started"
    (new,) = [c for c in certs.certificates_for(DOMAIN) if c["Type"] == "AMAZON_ISSUED"]
    assert new["Status"] == "PENDING_VALIDATION"
    assert sorted(new["SubjectAlternativeNames"]) == sorted(NAMES)  # the same names
    # every validation CNAME ACM asked for is in the public zone, as ACM gave it
    wanted = {
        o["ResourceRecord"]["Name"]: o["ResourceRecord"]["Value"]
        for o in new["DomainValidationOptions"]
    }
    assert wanted and certs.cnames() == wanted
    assert certs.default_certificate() == certs.old_arn  # nothing served changes yet

    rotation = certs.deps.store.get_rotation(certs.old_arn)
    assert rotation is not None
    assert rotation.status == "validating"
    assert rotation.new_certificate_arn == new["CertificateArn"]
    assert rotation.attempt == 1
    assert rotation.usages[0].listener_arn == certs.listener_arn

    (note,) = certs.titled("Certificate rotation started")
    assert DOMAIN in note["text"] and "demo-alb:443" in note["text"]
    assert new["CertificateArn"] in note["text"]
    # 18 days from its import, a minute ago: 17 whole days left, the same count in the notice
    # and in the listing `opsbot certificates` and the dashboard read
    assert "17 days left" in note["text"]
    listed = certificate_list(certs.deps, certs.deps.policy.environment("demo"))
    assert [c["days_left"] for c in listed if c["arn"] == certs.old_arn] == [17]
    assert "Waiting for DNS validation" in note["text"]
    audit = certs.deps.store.audit_entries(environment="demo", service=DOMAIN, limit=5)
    assert [(a.action, a.result) for a in audit] == [("certificate.rotate", "started")]


def test_certificate_far_from_expiry_is_left_alone(certs: Certs) -> None:
    fresh = certs.import_certificate(NAMES, days=200)
    certs.elbv2.modify_listener(
        ListenerArn=certs.listener_arn, Certificates=[{"CertificateArn": fresh}]
    )

    results = certs.check()

    assert certs.outcome(results, fresh) == "ok"
    assert [r["days_left"] for r in results] in ([199], [200])
    assert not [c for c in certs.certificates_for(DOMAIN) if c["Type"] == "AMAZON_ISSUED"]
    assert certs.notes() == []
    assert certs.deps.store.get_rotation(fresh) is None


def test_a_second_check_starts_nothing(certs: Certs) -> None:
    certs.check()
    again = certs.check()

    assert certs.outcome(again) == "waiting"
    assert len([c for c in certs.certificates_for(DOMAIN) if c["Type"] == "AMAZON_ISSUED"]) == 1
    assert len(certs.titled("Certificate rotation started")) == 1
    # two checks racing: only one may record the rotation (a conditional write)
    record = certs.deps.store.get_rotation(certs.old_arn)
    assert record is not None
    assert certs.deps.store.create_rotation(record, now=certs.world.clock()) is False
    # and a repeated request of the same attempt is the same certificate in ACM
    token = certificates.idempotency_token(certs.old_arn, 1)
    repeat = certs.acm.request_certificate(
        DomainName=DOMAIN,
        SubjectAlternativeNames=NAMES,
        ValidationMethod="DNS",
        IdempotencyToken=token,
    )
    assert repeat["CertificateArn"] == record.new_certificate_arn


def test_validation_records_not_published_yet_are_written_by_the_next_check(
    certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = CertBundle.describe

    def without_records(bundle: CertBundle) -> dict[str, Any]:
        described = original(bundle)
        for option in described["Certificate"].get("DomainValidationOptions", []):
            option.pop("ResourceRecord", None)
        return described

    monkeypatch.setattr(CertBundle, "describe", without_records)
    assert certs.outcome(certs.check()) == "started"
    rotation = certs.deps.store.get_rotation(certs.old_arn)
    assert rotation is not None and rotation.status == "requested"
    assert certs.cnames() == {}
    (note,) = certs.titled("Certificate rotation started")
    assert "has not published the DNS validation records yet" in note["text"]

    monkeypatch.setattr(CertBundle, "describe", original)
    assert certs.outcome(certs.check()) == "waiting"
    rotation = certs.deps.store.get_rotation(certs.old_arn)
    assert rotation is not None and rotation.status == "validating"
    assert len(certs.cnames()) == 2
    assert len(certs.titled("Certificate validation records written")) == 1


def test_no_public_zone_fails_without_requesting(certs: Certs) -> None:
    other = certs.import_certificate(["shop.example.org"], days=10)
    certs.elbv2.add_listener_certificates(
        ListenerArn=certs.listener_arn, Certificates=[{"CertificateArn": other}]
    )

    results = certs.check()

    assert certs.outcome(results, other) == "failed"
    assert certs.certificates_for("shop.example.org")[0]["Type"] == "IMPORTED"  # none requested
    (note,) = certs.titled("Certificate rotation failed")
    assert "no public Route 53 hosted zone for shop.example.org" in note["text"]
    assert note["level"] == "failure"
    # the failure is not repeated at every check
    assert certs.outcome(certs.check(), other) == "failed"
    assert len(certs.titled("Certificate rotation failed")) == 1


# -- completing --------------------------------------------------------------------------------


def test_issued_certificate_replaces_default_and_sni_certificates(certs: Certs) -> None:
    api_names = ["api.example.com"]
    api_old = certs.import_certificate(api_names, days=5)
    static = certs.import_certificate(["static.example.com"], days=300)
    certs.elbv2.add_listener_certificates(
        ListenerArn=certs.listener_arn,
        Certificates=[{"CertificateArn": api_old}, {"CertificateArn": static}],
    )
    started = certs.check()
    assert certs.outcome(started) == "started"
    assert certs.outcome(started, api_old) == "started"
    assert certs.outcome(started, static) == "ok"

    assert len(certs.issue()) == 2
    done = certs.check()

    assert certs.outcome(done) == "completed"
    assert certs.outcome(done, api_old) == "completed"
    demo_new = certs.rotation().new_certificate_arn
    api_new = certs.rotation(api_old).new_certificate_arn
    # read back from ELB: the default is the new one, SNI has the new api one and keeps static
    assert certs.default_certificate() == demo_new
    assert certs.sni_certificates() == {api_new, static}
    issued = certs.acm.describe_certificate(CertificateArn=demo_new)["Certificate"]
    assert issued["Status"] == "ISSUED"
    assert issued["NotAfter"] - certs.world.clock() > dt.timedelta(days=390)
    # old certificates stay in ACM
    assert certs.acm.describe_certificate(CertificateArn=certs.old_arn)["Certificate"]
    rotation = certs.deps.store.get_rotation(certs.old_arn)
    assert rotation is not None and rotation.status == "completed"
    assert rotation.swapped == ("demo-alb:443",)

    notes = certs.titled("Certificate rotated")
    assert len(notes) == 2
    demo = next(n for n in notes if DOMAIN in n["text"])
    assert demo["text"].startswith(f"{DOMAIN} is served with the new certificate on every ")
    assert "Listeners: demo-alb:443\n" in demo["text"]
    assert "New certificate: " in demo["text"] and "valid until " in demo["text"]
    assert "left in ACM" in demo["text"] and "human decision" in demo["text"]
    assert demo["level"] == "success"
    api = next(n for n in notes if "api.example.com" in n["text"])
    assert "demo-alb:443 (SNI)" in api["text"]
    # nothing left to do
    after = certs.check()
    assert {r["outcome"] for r in after} == {"ok"}
    assert len(certs.titled("Certificate rotated")) == 2


def test_acm_event_completes_the_rotation_at_once(certs: Certs) -> None:
    certs.check()
    (issued,) = certs.issue()
    (event,) = certs.events
    sample = json.loads((EVENTS / "acm-certificate-available.json").read_text())
    assert set(event) == set(sample)
    assert set(event["detail"]) == set(sample["detail"])
    assert event["resources"] == [issued]

    reply = certs.deliver(event)

    (result,) = reply["certificates"]
    assert result["outcome"] == "completed"
    assert certs.default_certificate() == issued
    assert len(certs.titled("Certificate rotated")) == 1
    # a redelivered event (EventBridge is at-least-once) is recognised by its id: it is
    # answered as the first delivery was, and changes nothing and says nothing
    again = certs.deliver(event)
    assert again["duplicate"] is True
    assert again["certificates"] == reply["certificates"]
    assert len(certs.titled("Certificate rotated")) == 1
    # another event about the same certificate (a new id) finds nothing left to do
    other = certs.deliver({**event, "id": str(uuid.uuid4())})
    assert other["certificates"][0]["outcome"] == "unused"
    assert "duplicate" not in other
    assert len(certs.titled("Certificate rotated")) == 1


def test_event_for_another_certificate_is_ignored(certs: Certs) -> None:
    event = json.loads((EVENTS / "acm-certificate-available.json").read_text())
    reply = certs.deliver(event)
    assert reply["certificates"][0]["outcome"] == "not_a_rotation"
    assert certs.notes() == []


def test_approaching_expiration_event_runs_the_check(certs: Certs) -> None:
    event = json.loads((EVENTS / "acm-certificate-approaching-expiration.json").read_text())
    event["resources"] = [certs.old_arn]

    reply = certs.deliver(event)

    assert certs.outcome(reply["certificates"]) == "started"
    assert len(certs.titled("Certificate rotation started")) == 1


def test_a_duplicate_approaching_expiration_event_is_processed_once(certs: Certs) -> None:
    event = json.loads((EVENTS / "acm-certificate-approaching-expiration.json").read_text())
    event["resources"] = [certs.old_arn]
    reply = certs.deliver(event)
    certificates = certs.acm.list_certificates()["CertificateSummaryList"]

    again = certs.deliver(event)

    assert again == {**reply, "duplicate": True}
    assert certs.acm.list_certificates()["CertificateSummaryList"] == certificates
    assert len(certs.titled("Certificate rotation started")) == 1


# -- failing -----------------------------------------------------------------------------------


def test_validation_timeout_fails_loudly_and_retries_a_day_later(certs: Certs) -> None:
    certs.check()
    certs.world.clock.advance(73 * 3600)

    failed = certs.check()

    assert certs.outcome(failed) == "failed"
    rotation = certs.deps.store.get_rotation(certs.old_arn)
    assert rotation is not None and rotation.status == "failed"
    (note,) = certs.titled("Certificate rotation failed")
    assert note["level"] == "failure"
    assert "still PENDING_VALIDATION after 72 hours" in note["text"]
    assert "CAA" in note["text"] and "NS" in note["text"]  # what to check
    assert "still serve the old certificate" in note["text"]
    assert certs.default_certificate() == certs.old_arn

    assert certs.outcome(certs.check()) == "failed"  # quiet until the retry time
    assert len(certs.titled("Certificate rotation failed")) == 1

    first = rotation.new_certificate_arn
    certs.world.clock.advance(25 * 3600)
    assert certs.outcome(certs.check()) == "started"
    rotation = certs.deps.store.get_rotation(certs.old_arn)
    assert rotation is not None and rotation.attempt == 2
    assert rotation.new_certificate_arn != first
    assert len([c for c in certs.certificates_for(DOMAIN) if c["Type"] == "AMAZON_ISSUED"]) == 2


def test_certificate_acm_failed_fails_the_rotation(certs: Certs) -> None:
    certs.check()
    rotation = certs.deps.store.get_rotation(certs.old_arn)
    assert rotation is not None and rotation.new_certificate_arn
    bundle = acm_backends[ACCOUNT][REGION]._certificates[rotation.new_certificate_arn]
    bundle.status = "FAILED"

    assert certs.outcome(certs.check()) == "failed"
    (note,) = certs.titled("Certificate rotation failed")
    assert "ACM reports the new certificate FAILED" in note["text"]


def test_late_issuance_after_a_timeout_still_completes(certs: Certs) -> None:
    certs.check()
    certs.world.clock.advance(73 * 3600)
    assert certs.outcome(certs.check()) == "failed"
    (issued,) = certs.issue()

    assert certs.outcome(certs.check()) == "completed"
    assert certs.default_certificate() == issued


def test_listener_error_during_the_check_is_reported(
    certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    def refused(**_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "DescribeListeners"
        )

    class Refusing:
        paginate = staticmethod(refused)

    elbv2 = certs.deps.aws("elbv2", certs.deps.policy.environment("demo"))
    monkeypatch.setattr(elbv2, "get_paginator", lambda name: Refusing())
    with pytest.raises(OpsError, match="AccessDenied") as raised:
        certs.check()
    assert raised.value.details["results"][0]["outcome"] == "error"
    assert certs.notes() == []


def test_iam_server_certificates_are_left_to_humans(certs: Certs) -> None:
    cert, key = self_signed(["legacy.example.com"], days=3)
    uploaded = certs.world.client("iam").upload_server_certificate(
        ServerCertificateName="legacy", CertificateBody=cert.decode(), PrivateKey=key.decode()
    )["ServerCertificateMetadata"]["Arn"]
    certs.elbv2.add_listener_certificates(
        ListenerArn=certs.listener_arn, Certificates=[{"CertificateArn": uploaded}]
    )

    results = certs.check()

    assert certs.outcome(results, uploaded) == "skipped"
    assert certs.outcome(results) == "started"  # the ACM one next to it still rotates
