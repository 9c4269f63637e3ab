"""Route 53: the public hosted zones of a name, and the DNS validation CNAMEs of a new
certificate written into them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chalicelib.aws.errors import describe
from chalicelib.records.rotation import ValidationRecord

if TYPE_CHECKING:
    from mypy_boto3_acm.type_defs import ResourceRecordTypeDef
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_route53.type_defs import ChangeTypeDef

    from chalicelib.certificates.context import Check, ZoneCache

VALIDATION_RECORD_TTL = 300


def zones_for(check: Check, name: str) -> list[tuple[str, str]]:
    """[(zone id, zone name)] of the public hosted zones whose name is the longest suffix of
    ``name`` (usually one; every zone of that name gets the record when there are several)."""
    route53 = check.deps.aws("route53", check.env)
    return _zones(route53, check.zones, name)


def _zones(route53: Route53Client, cache: ZoneCache, name: str) -> list[tuple[str, str]]:
    labels = name.strip(".").lower().removeprefix("*.").split(".")
    for i in range(len(labels) - 1):  # never a bare top-level domain
        candidate = ".".join(labels[i:])
        if candidate not in cache:
            listed = route53.list_hosted_zones_by_name(DNSName=candidate, MaxItems="100")
            cache[candidate] = [
                (str(z["Id"]).rsplit("/", 1)[-1], candidate)
                for z in listed.get("HostedZones", [])
                if str(z["Name"]).rstrip(".").lower() == candidate
                and not (z.get("Config") or {}).get("PrivateZone")
            ]
        if cache[candidate]:
            return cache[candidate]
    return []


def write_validation_records(
    check: Check, new_certificate_arn: str
) -> tuple[tuple[ValidationRecord, ...], str | None]:
    """UPSERT the new certificate's validation CNAMEs: (records written, error).

    Nothing is written (and no error given) while ACM has not published every record yet.
    """
    acm = check.deps.aws("acm", check.env)
    route53 = check.deps.aws("route53", check.env)
    try:
        cert = acm.describe_certificate(CertificateArn=new_certificate_arn)["Certificate"]
    except ClientError as exc:
        return (), f"ACM did not describe the new certificate ({describe(exc)})"
    wanted: dict[str, ResourceRecordTypeDef] = {}
    for option in cert.get("DomainValidationOptions") or []:
        published = option.get("ResourceRecord")
        if not published:
            return (), None  # not published yet: the next check or event writes them
        wanted[str(published["Name"]).lower()] = published
    if not wanted:
        return (), None
    changes: dict[tuple[str, str], list[ChangeTypeDef]] = {}
    written: list[ValidationRecord] = []
    for record in wanted.values():
        zones = _zones(route53, check.zones, record["Name"])
        if not zones:
            return (), f"no public Route 53 hosted zone for {record['Name']}"
        for zone in zones:
            changes.setdefault(zone, []).append(
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": record["Name"],
                        "Type": record["Type"],
                        "TTL": VALIDATION_RECORD_TTL,
                        "ResourceRecords": [{"Value": record["Value"]}],
                    },
                }
            )
            written.append(
                ValidationRecord(
                    name=record["Name"],
                    type=record["Type"],
                    value=record["Value"],
                    zone=zone[1],
                    zone_id=zone[0],
                )
            )
    try:
        for (zone_id, _), batch in changes.items():
            route53.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={
                    "Comment": f"opsbot: DNS validation of {new_certificate_arn}",
                    "Changes": batch,
                },
            )
    except ClientError as exc:
        return (), f"Route 53 refused the validation records ({describe(exc)})"
    return tuple(written), None
