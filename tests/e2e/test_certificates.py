"""Certificate rotation, end to end: `tick certificates` against the local stack.

The demo ALB's HTTPS listener serves an imported certificate for demo.example.com that expires in
18 days (under the policy's 30). The tick requests a new ACM certificate and writes its DNS
validation CNAME to the example.com zone; the stack's ACM simulator issues it once the CNAME is
there and sends "ACM Certificate Available", on which opsbot swaps the listener's certificate.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from tests.e2e.conftest import Stack, wait_for

DOMAIN = "demo.example.com"


def listener(stack: Stack) -> dict[str, Any]:
    elbv2 = stack.aws("elbv2")
    alb = elbv2.describe_load_balancers(Names=["demo-alb"])["LoadBalancers"][0]
    listeners = elbv2.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]
    (https,) = [item for item in listeners if item["Port"] == 443]
    return dict(https)


def serving(stack: Stack) -> str:
    return str(listener(stack)["Certificates"][0]["CertificateArn"])


def requested(stack: Stack) -> list[str]:
    acm = stack.aws("acm")
    return [
        c["CertificateArn"]
        for c in acm.list_certificates(
            CertificateStatuses=["PENDING_VALIDATION", "ISSUED", "FAILED"]
        )["CertificateSummaryList"]
        if c["DomainName"] == DOMAIN
        and acm.describe_certificate(CertificateArn=c["CertificateArn"])["Certificate"]["Type"]
        == "AMAZON_ISSUED"
    ]


def tick(stack: Stack) -> list[dict[str, Any]]:
    done = stack.control("tick", "certificates", "--json")
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)["certificates"]
    return results


def texts(stack: Stack, since: int = 0) -> list[str]:
    return stack.slack_shown()[since:]


def test_tick_rotates_the_expiring_listener_certificate_once(stack: Stack) -> None:
    old = serving(stack)
    mark = len(stack.slack())
    listed = stack.request("GET", "/certificates?environment=demo").json()["items"]
    (days,) = [c["days_left"] for c in listed if c["arn"] == old]

    (started,) = tick(stack)

    assert started["outcome"] == "started" and started["certificate"] == old
    assert started["listeners"] == ["demo-alb:443"]
    new = wait_for(lambda: serving(stack) != old and serving(stack), timeout=15)
    assert new == started["new_certificate"]
    cert = stack.aws("acm").describe_certificate(CertificateArn=new)["Certificate"]
    assert cert["Status"] == "ISSUED" and cert["DomainName"] == DOMAIN
    assert cert["NotAfter"] - dt.datetime.now(dt.UTC) > dt.timedelta(days=300)
    # the zone holds the validation record ACM asked for
    record = cert["DomainValidationOptions"][0]["ResourceRecord"]
    zone = stack.aws("route53").list_hosted_zones_by_name(DNSName="example.com")["HostedZones"][0]
    sets = stack.aws("route53").list_resource_record_sets(HostedZoneId=zone["Id"])
    assert any(
        s["Name"] == record["Name"] and s["ResourceRecords"][0]["Value"] == record["Value"]
        for s in sets["ResourceRecordSets"]
    )

    posted = wait_for(
        lambda: [t for t in texts(stack, mark) if t.startswith("Certificate rotated")], timeout=10
    )
    assert posted[0].startswith(f"Certificate rotated: {DOMAIN} (valid until ")
    assert "*Listeners*\ndemo-alb:443" in posted[0]
    assert f"New certificate: {new}" in posted[0]  # the ARN, as small print
    (notice,) = [t for t in texts(stack, mark) if t.startswith("Certificate rotation started")]
    assert f"({days} days left)" in notice  # the count GET /certificates and the dashboard show
    audit = stack.request("GET", f"/audit?environment=demo&service={DOMAIN}&limit=5").json()
    assert [i["result"] for i in audit["items"]] == ["completed", "started"]

    # a second tick starts nothing: the listener's certificate is fresh
    mark = len(stack.slack())
    again = tick(stack)
    assert [r["outcome"] for r in again] == ["ok"]
    assert requested(stack) == [new]
    assert serving(stack) == new
    assert texts(stack, mark) == []
    said = stack.control("tick", "certificates")  # what a person sees
    assert said.stdout == f"{DOMAIN} on demo-alb:443: ok, not due for renewal\n", said.stdout
