"""Certificates: rotate ALB listener certificates before they expire (ACM, Route 53, ELB).

For every environment with ``load_balancers``, the HTTPS and TLS listeners of those load
balancers are read, with their default and SNI certificates. A certificate that expires within
``certificates.renew_before_days`` (or has expired) is rotated, each step in its own invocation
and none of them sleeping:

1. **start** (``check_all`` on its schedule, or an "ACM Certificate Approaching Expiration"
   event): request a new ACM certificate for the same names with DNS validation (the
   idempotency token is derived from the old certificate's ARN, so a repeat never requests
   twice), UPSERT its validation CNAMEs in the public Route 53 zone of each name (the longest
   matching zone), record the rotation (a conditional write: two checks never start two),
   audit, tell people. ACM may take a moment to publish the CNAMEs: the rotation then stays
   ``requested`` and the next check or event writes them (``validating``).
2. **swap** (the "ACM Certificate Available" event, or the next check seeing ISSUED): every
   listener that served the old certificate gets the new one (ModifyListener for a default
   certificate; AddListenerCertificates then RemoveListenerCertificates for an SNI one), is
   read back to verify, and the rotation is ``completed``.
3. **fail**: a rotation still not validated after ``certificates.validation_timeout_hours``, or
   whose certificate ACM failed, is ``failed``, loudly, with what to check. If the old
   certificate still needs it, a new attempt starts a day later.

The old certificate stays in ACM: deleting it is a human decision.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.aws.notifier import Message
from chalicelib.core.errors import OpsError
from chalicelib.core.observability import count, logger

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment

ACTION = "certificate.rotate"
AVAILABLE = "ACM Certificate Available"
APPROACHING = "ACM Certificate Approaching Expiration"

REQUESTED = "requested"  # new certificate requested; its validation CNAMEs not written yet
VALIDATING = "validating"  # CNAMEs written; waiting for ACM to issue
SWAPPING = "swapping"  # listeners being switched (leased, so a dead invocation is retried)
COMPLETED = "completed"
FAILED = "failed"
IN_FLIGHT = (REQUESTED, VALIDATING, SWAPPING)

SECURE_PROTOCOLS = ("HTTPS", "TLS")
ACM_FAILED = ("FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE")
RETRY_AFTER_FAILURE = timedelta(hours=24)
SWAP_LEASE_SECONDS = 300
VALIDATION_RECORD_TTL = 300
_NAMES_PER_CALL = 20  # DescribeLoadBalancers takes at most 20 names


@dataclass(frozen=True)
class Usage:
    """One place a certificate is served: a listener's default certificate or an SNI one."""

    load_balancer: str
    listener_arn: str
    port: int
    protocol: str
    default: bool

    @property
    def label(self) -> str:
        """``demo-alb:443``, with ``(SNI)`` for an additional certificate."""
        return f"{self.load_balancer}:{self.port}" + ("" if self.default else " (SNI)")

    def to_dict(self) -> dict[str, Any]:
        """As stored in the rotation record."""
        return {
            "load_balancer": self.load_balancer,
            "listener_arn": self.listener_arn,
            "port": self.port,
            "protocol": self.protocol,
            "default": self.default,
        }


@dataclass
class _Run:
    """One check of one environment: who runs it, when, and what it looked up already."""

    deps: Deps
    env: Environment
    actor: str
    now: datetime
    zones: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def renew_before(self) -> timedelta:
        return timedelta(days=self.deps.policy.certificates.renew_before_days)

    @property
    def validation_timeout(self) -> timedelta:
        return timedelta(hours=self.deps.policy.certificates.validation_timeout_hours)


# -- entry points ------------------------------------------------------------------------------


def check_all(deps: Deps) -> list[dict[str, Any]]:
    """Check every environment's listener certificates: start, advance or finish rotations.

    One result per certificate in use (and per load balancer not found). An AWS error that is
    not part of a rotation's story (a describe call refused, say) is logged, the other
    certificates and environments are still checked, and then OpsError is raised so the
    invocation counts as failed.
    """
    results: list[dict[str, Any]] = []
    for env in deps.policy.environments.values():
        if env.load_balancers:
            results.extend(_guarded(deps, env, actor="schedule:certificates"))
    _raise_on_errors(results)
    return results


def on_certificate_event(
    deps: Deps, *, detail_type: str, resources: list[str]
) -> list[dict[str, Any]]:
    """React to an ACM EventBridge event.

    "ACM Certificate Available" for the new certificate of a rotation in flight completes it
    now; "ACM Certificate Approaching Expiration" runs the check of the environments in that
    certificate's account and region. Anything else is ignored.
    """
    results: list[dict[str, Any]] = []
    if detail_type == AVAILABLE:
        for arn in resources:
            results.append(_on_available(deps, arn))
    elif detail_type == APPROACHING:
        for env in _environments_of(deps, resources):
            results.extend(_guarded(deps, env, actor="event:acm-expiration"))
    else:
        logger().info("ACM event ignored", extra={"detail_type": detail_type})
    _raise_on_errors(results)
    return results


def check_environment(deps: Deps, env: Environment, *, actor: str) -> list[dict[str, Any]]:
    """Check one environment's listener certificates (see ``check_all``)."""
    run = _Run(deps=deps, env=env, actor=actor, now=deps.clock())
    usages, missing = listener_certificates(deps, env)
    results: list[dict[str, Any]] = [
        {"environment": env.name, "load_balancer": name, "outcome": "not_found"} for name in missing
    ]
    for arn, where in usages.items():
        if ":acm:" not in arn:  # an IAM server certificate: ACM cannot renew or replace it
            results.append(
                {
                    "environment": env.name,
                    "certificate": arn,
                    "listeners": [u.label for u in where],
                    "outcome": "skipped",
                    "reason": "not an ACM certificate",
                }
            )
            continue
        try:
            results.append(_handle(run, arn, where))
        except ClientError as exc:
            logger().exception(
                "certificate check failed", extra={"environment": env.name, "certificate": arn}
            )
            results.append(
                {
                    "environment": env.name,
                    "certificate": arn,
                    "listeners": [u.label for u in where],
                    "outcome": "error",
                    "error": _aws_error(exc),
                }
            )
    return results


def listener_certificates(deps: Deps, env: Environment) -> tuple[dict[str, list[Usage]], list[str]]:
    """({certificate ARN: where it is served}, load balancer names not found) of an environment.

    Default certificates come from DescribeListeners, SNI certificates from
    DescribeListenerCertificates, for every HTTPS and TLS listener.
    """
    elbv2 = deps.aws("elbv2", env)
    balancers, missing = _load_balancers(deps, env)
    found: dict[str, list[Usage]] = {}
    for balancer in balancers:
        name = balancer["LoadBalancerName"]
        pages = elbv2.get_paginator("describe_listeners").paginate(
            LoadBalancerArn=balancer["LoadBalancerArn"]
        )
        for page in pages:
            for listener in page.get("Listeners", []):
                protocol = listener.get("Protocol", "")
                if protocol not in SECURE_PROTOCOLS:
                    continue
                default = _default_certificate(listener)
                arn, port = listener["ListenerArn"], int(listener.get("Port", 0))
                if default:
                    found.setdefault(default, []).append(Usage(name, arn, port, protocol, True))
                for extra in _sni_certificates(deps, env, arn) - {default}:
                    found.setdefault(extra, []).append(Usage(name, arn, port, protocol, False))
    return found, missing


# -- one certificate ---------------------------------------------------------------------------


def _handle(run: _Run, old_arn: str, usages: list[Usage]) -> dict[str, Any]:
    """Do the next step for one certificate in use, whatever state its rotation is in."""
    rotation = run.deps.store.get_rotation(old_arn)
    if rotation is not None and rotation.get("new_certificate_arn"):
        new = _describe(run, rotation["new_certificate_arn"])
        if new is not None and _usable(run, new):
            if usages or rotation["status"] in IN_FLIGHT:
                return _swap(run, rotation, new, usages)
            return {**_result(rotation), "outcome": "unused"}  # done before; nothing to do
        if rotation["status"] in IN_FLIGHT:
            return _progress(run, rotation, new)
    elif rotation is not None and rotation["status"] in IN_FLIGHT:
        # recorded, but the request never was (that invocation died): request it now
        return _request(run, rotation)
    return _maybe_start(run, old_arn, usages, rotation)


def _maybe_start(
    run: _Run, old_arn: str, usages: list[Usage], previous: dict[str, Any] | None
) -> dict[str, Any]:
    acm = run.deps.aws("acm", run.env)
    cert = acm.describe_certificate(CertificateArn=old_arn)["Certificate"]
    not_after: datetime | None = cert.get("NotAfter")
    result: dict[str, Any] = {
        "environment": run.env.name,
        "certificate": old_arn,
        "domain": cert.get("DomainName"),
        "listeners": [u.label for u in usages],
        "days_left": (not_after - run.now).days if not_after else None,
    }
    if not usages:
        return {**result, "outcome": "unused"}
    if not_after is None:
        return {**result, "outcome": "skipped", "reason": f"status {cert.get('Status')}"}
    if not_after - run.now > run.renew_before:
        return {**result, "outcome": "ok"}
    if cert.get("Type") == "PRIVATE":
        return {**result, "outcome": "skipped", "reason": "private CA certificates renew in ACM"}
    if previous is not None and previous["status"] == FAILED:
        retry_after = int(previous.get("retry_after", 0))
        if retry_after > int(run.now.timestamp()):
            return {**result, "outcome": "failed", "retry_after": _iso_epoch(retry_after)}
    return _start(run, cert, usages, previous, result)


def _start(
    run: _Run,
    cert: dict[str, Any],
    usages: list[Usage],
    previous: dict[str, Any] | None,
    result: dict[str, Any],
) -> dict[str, Any]:
    """Record a new rotation and request its certificate."""
    names = _names(cert)
    not_after: datetime = cert["NotAfter"]
    record: dict[str, Any] = {
        "environment": run.env.name,
        "domain": cert["DomainName"],
        "names": names,
        "old_certificate_arn": cert["CertificateArn"],
        "old_not_after": _iso(not_after),
        "old_type": cert.get("Type"),
        "usages": [u.to_dict() for u in usages],
        "attempt": int(previous.get("attempt", 0)) + 1 if previous else 1,
        "status": REQUESTED,
        "requested_at": _iso(run.now),
        "updated_at": _iso(run.now),
        "actor": run.actor,
    }
    lacking = [name for name in names if not _zones_for(run, name)]
    if lacking:
        record.update(
            status=FAILED,
            failed_at=_iso(run.now),
            retry_after=int((run.now + RETRY_AFTER_FAILURE).timestamp()),
            reason=(
                f"no public Route 53 hosted zone for {', '.join(lacking)} in account "
                f"{run.env.account}, so opsbot cannot validate a new certificate by DNS"
            ),
        )
        if not run.deps.store.create_rotation(record, now=run.now):
            return {**result, "outcome": "in_flight"}
        _tell_failed(
            run,
            record,
            hints=(
                "that a public hosted zone for the domain exists in this account (create or "
                "delegate one), or rotate the certificate by hand (request or import one and set "
                "it on the listeners)"
            ),
        )
        return {**result, "outcome": "failed", "reason": record["reason"]}
    if not run.deps.store.create_rotation(record, now=run.now):
        return {**result, "outcome": "in_flight"}  # another invocation started it just now
    return _request(run, record)


def _request(run: _Run, rotation: dict[str, Any]) -> dict[str, Any]:
    """Request the new certificate (idempotently), write its CNAMEs if ACM has them, tell."""
    acm = run.deps.aws("acm", run.env)
    old_arn = rotation["old_certificate_arn"]
    try:
        new_arn = acm.request_certificate(
            DomainName=rotation["domain"],
            SubjectAlternativeNames=rotation["names"],
            ValidationMethod="DNS",
            IdempotencyToken=idempotency_token(old_arn, int(rotation.get("attempt", 1))),
        )["CertificateArn"]
    except ClientError as exc:
        return _fail(
            run,
            rotation,
            reason=f"ACM refused to request a new certificate ({_aws_error(exc)})",
            hints=(
                "the ACM quotas of the account (certificates per year, names per certificate) "
                "and that every name is a public domain ACM may issue for"
            ),
        )
    run.deps.store.index_rotation(new_arn, old_arn, now=run.now)
    run.deps.store.update_rotation(old_arn, new_certificate_arn=new_arn, updated_at=_iso(run.now))
    rotation = {**rotation, "new_certificate_arn": new_arn}
    records, error = _write_validation_records(run, rotation)
    if records:
        rotation = _validating(run, rotation, records)
    elif error:
        rotation = _note_error(run, rotation, error)
    _audit(
        run,
        rotation,
        "started",
        certificate=old_arn,
        new_certificate=new_arn,
        listeners=[u["load_balancer"] + f":{u['port']}" for u in rotation["usages"]],
    )
    count("CertificateRotationsStarted")
    _tell_started(run, rotation, records, error)
    return {**_result(rotation), "outcome": "started"}


def _progress(run: _Run, rotation: dict[str, Any], new: dict[str, Any] | None) -> dict[str, Any]:
    """A rotation whose new certificate is not issued (yet): write CNAMEs, time out, or fail."""
    new_arn = rotation["new_certificate_arn"]
    if new is None:
        return _fail(
            run,
            rotation,
            reason=f"the new certificate {new_arn} no longer exists in ACM",
            hints="whether someone deleted it; the next attempt requests another one",
        )
    status = new.get("Status")
    if status in ACM_FAILED:
        why = new.get("FailureReason")
        return _fail(
            run,
            rotation,
            reason=f"ACM reports the new certificate {status}" + (f" ({why})" if why else ""),
            hints=_validation_hints(rotation),
        )
    if status == "ISSUED":  # issued, yet it would need renewing itself
        return _fail(
            run,
            rotation,
            reason=f"ACM issued the new certificate but it expires {_day(new['NotAfter'])}",
            hints="the certificate in ACM; this should not happen with ACM-issued certificates",
        )
    if rotation["status"] == REQUESTED:
        records, error = _write_validation_records(run, rotation)
        if records:
            rotation = _validating(run, rotation, records)
            _tell_records_written(run, rotation, records)
        elif error:
            rotation = _note_error(run, rotation, error, tell=True)
    requested_at = datetime.fromisoformat(rotation["requested_at"])
    if run.now - requested_at > run.validation_timeout:
        hours = run.deps.policy.certificates.validation_timeout_hours
        return _fail(
            run,
            rotation,
            reason=f"the new certificate is still {status} after {hours} hours",
            hints=_validation_hints(rotation),
        )
    return {**_result(rotation), "outcome": "waiting", "acm_status": status}


def _swap(
    run: _Run, rotation: dict[str, Any], new: dict[str, Any], usages: list[Usage]
) -> dict[str, Any]:
    """Serve the issued certificate wherever the old one was served; verify; complete."""
    store = run.deps.store
    old_arn, new_arn = rotation["old_certificate_arn"], new["CertificateArn"]
    epoch = int(run.now.timestamp())
    if not store.update_rotation(
        old_arn,
        expect_status=(REQUESTED, VALIDATING, FAILED, COMPLETED),
        or_lease_expired=(SWAPPING, epoch),
        status=SWAPPING,
        lease_until=epoch + SWAP_LEASE_SECONDS,
        updated_at=_iso(run.now),
    ):
        return {**_result(rotation), "outcome": "busy"}  # another invocation is swapping
    elbv2 = run.deps.aws("elbv2", run.env)
    problems: list[str] = []
    for usage in usages:
        try:
            if usage.default:
                elbv2.modify_listener(
                    ListenerArn=usage.listener_arn, Certificates=[{"CertificateArn": new_arn}]
                )
            else:
                elbv2.add_listener_certificates(
                    ListenerArn=usage.listener_arn, Certificates=[{"CertificateArn": new_arn}]
                )
                elbv2.remove_listener_certificates(
                    ListenerArn=usage.listener_arn, Certificates=[{"CertificateArn": old_arn}]
                )
        except ClientError as exc:
            problems.append(f"{usage.label}: {_aws_error(exc)}")
    if not problems:
        problems = _verify(run, usages, old_arn, new_arn)
    if problems:
        return _swap_failed(run, rotation, usages, problems)
    not_after: datetime = new["NotAfter"]
    labels = [u.label for u in usages]
    store.update_rotation(
        old_arn,
        expect_status=(SWAPPING,),
        status=COMPLETED,
        completed_at=_iso(run.now),
        updated_at=_iso(run.now),
        retry_after=epoch,
        new_not_after=_iso(not_after),
        swapped=labels,
        lease_until=0,
    )
    _audit(
        run,
        rotation,
        "completed",
        certificate=old_arn,
        new_certificate=new_arn,
        listeners=labels,
        valid_until=_iso(not_after),
    )
    count("CertificateRotationsCompleted")
    _tell_completed(run, rotation, new, labels)
    return {
        **_result(rotation),
        "outcome": "completed",
        "listeners": labels,
        "valid_until": _iso(not_after),
    }


def _swap_failed(
    run: _Run, rotation: dict[str, Any], usages: list[Usage], problems: list[str]
) -> dict[str, Any]:
    before = rotation["status"]
    back = before if before in (REQUESTED, VALIDATING, FAILED, COMPLETED) else VALIDATING
    run.deps.store.update_rotation(
        rotation["old_certificate_arn"],
        expect_status=(SWAPPING,),
        status=back,
        last_error="; ".join(problems),
        updated_at=_iso(run.now),
        lease_until=0,
    )
    _audit(
        run,
        rotation,
        "swap_failed",
        certificate=rotation["old_certificate_arn"],
        new_certificate=rotation["new_certificate_arn"],
        problems=problems,
    )
    run.deps.notifier.send(
        Message(
            title="Certificate swap failed",
            text=(
                f"{rotation['domain']}: the new certificate is issued, but opsbot could not put "
                f"it on every listener: {'; '.join(problems)}. Listeners not listed still serve "
                "what they served. opsbot tries again at the next check; check its IAM "
                "permissions (elasticloadbalancing:ModifyListener, AddListenerCertificates, "
                "RemoveListenerCertificates) and the listeners."
            ),
            level="failure",
            facts=_facts(run, rotation, [u.label for u in usages]),
        )
    )
    return {**_result(rotation), "outcome": "swap_failed", "problems": problems}


def _fail(run: _Run, rotation: dict[str, Any], *, reason: str, hints: str) -> dict[str, Any]:
    """Mark an in-flight rotation failed, audit it, tell people loudly."""
    old_arn = rotation["old_certificate_arn"]
    retry_after = int((run.now + RETRY_AFTER_FAILURE).timestamp())
    if not run.deps.store.update_rotation(
        old_arn,
        expect_status=IN_FLIGHT,
        status=FAILED,
        failed_at=_iso(run.now),
        updated_at=_iso(run.now),
        retry_after=retry_after,
        reason=reason,
    ):
        return {**_result(rotation), "outcome": "busy"}
    rotation = {**rotation, "status": FAILED, "reason": reason, "retry_after": retry_after}
    _tell_failed(run, rotation, hints=hints)
    return {**_result(rotation), "outcome": "failed", "reason": reason}


def _on_available(deps: Deps, arn: str) -> dict[str, Any]:
    old_arn = deps.store.rotation_for_certificate(arn)
    rotation = deps.store.get_rotation(old_arn) if old_arn else None
    if old_arn is None or rotation is None:
        return {"certificate": arn, "outcome": "not_a_rotation"}
    env = deps.policy.environments.get(rotation["environment"])
    if env is None:
        logger().warning(
            "rotation of an environment no longer in the policy",
            extra={"environment": rotation["environment"], "certificate": old_arn},
        )
        return {**_result(rotation), "outcome": "unknown_environment"}
    run = _Run(deps=deps, env=env, actor="event:acm-available", now=deps.clock())
    try:
        usages, _ = listener_certificates(deps, env)
        return _handle(run, old_arn, usages.get(old_arn, []))
    except ClientError as exc:
        logger().exception("certificate event failed", extra={"certificate": arn})
        return {**_result(rotation), "outcome": "error", "error": _aws_error(exc)}


# -- AWS reads and writes ----------------------------------------------------------------------


def _load_balancers(deps: Deps, env: Environment) -> tuple[list[dict[str, Any]], list[str]]:
    """(described load balancers, names not found) of the environment's policy."""
    elbv2 = deps.aws("elbv2", env)
    names = list(dict.fromkeys(env.load_balancers))
    found: list[dict[str, Any]] = []
    missing: list[str] = []
    for i in range(0, len(names), _NAMES_PER_CALL):
        chunk = names[i : i + _NAMES_PER_CALL]
        try:
            found.extend(elbv2.describe_load_balancers(Names=chunk)["LoadBalancers"])
            continue
        except elbv2.exceptions.LoadBalancerNotFoundException:
            pass
        for name in chunk:  # one of them is missing: find out which
            try:
                found.extend(elbv2.describe_load_balancers(Names=[name])["LoadBalancers"])
            except elbv2.exceptions.LoadBalancerNotFoundException:
                missing.append(name)
    if missing:
        logger().warning(
            "load balancers in the policy not found",
            extra={"environment": env.name, "missing": missing},
        )
    return found, missing


def _default_certificate(listener: dict[str, Any]) -> str | None:
    for cert in listener.get("Certificates") or []:
        if cert.get("CertificateArn"):
            return str(cert["CertificateArn"])
    return None


def _sni_certificates(deps: Deps, env: Environment, listener_arn: str) -> set[str]:
    elbv2 = deps.aws("elbv2", env)
    pages = elbv2.get_paginator("describe_listener_certificates").paginate(ListenerArn=listener_arn)
    return {
        str(c["CertificateArn"])
        for page in pages
        for c in page.get("Certificates", [])
        if not c.get("IsDefault")
    }


def _describe(run: _Run, arn: str) -> dict[str, Any] | None:
    acm = run.deps.aws("acm", run.env)
    try:
        cert: dict[str, Any] = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    except acm.exceptions.ResourceNotFoundException:
        return None
    return cert


def _usable(run: _Run, cert: dict[str, Any]) -> bool:
    """Issued, and far enough from expiry that it would not need rotating itself."""
    not_after: datetime | None = cert.get("NotAfter")
    return (
        cert.get("Status") == "ISSUED"
        and not_after is not None
        and not_after - run.now > run.renew_before
    )


def _zones_for(run: _Run, name: str) -> list[tuple[str, str]]:
    """[(zone id, zone name)] of the public hosted zones whose name is the longest suffix of
    ``name`` (usually one; every zone of that name gets the record when there are several)."""
    route53 = run.deps.aws("route53", run.env)
    labels = name.strip(".").lower().removeprefix("*.").split(".")
    for i in range(len(labels) - 1):  # never a bare top-level domain
        candidate = ".".join(labels[i:])
        if candidate not in run.zones:
            listed = route53.list_hosted_zones_by_name(DNSName=candidate, MaxItems="100")
            run.zones[candidate] = [
                (str(z["Id"]).rsplit("/", 1)[-1], candidate)
                for z in listed.get("HostedZones", [])
                if str(z["Name"]).rstrip(".").lower() == candidate
                and not (z.get("Config") or {}).get("PrivateZone")
            ]
        if run.zones[candidate]:
            return run.zones[candidate]
    return []


def _write_validation_records(
    run: _Run, rotation: dict[str, Any]
) -> tuple[list[dict[str, str]], str | None]:
    """UPSERT the new certificate's validation CNAMEs: (records written, error).

    Nothing is written (and no error given) while ACM has not published every record yet.
    """
    acm = run.deps.aws("acm", run.env)
    route53 = run.deps.aws("route53", run.env)
    try:
        cert = acm.describe_certificate(CertificateArn=rotation["new_certificate_arn"])[
            "Certificate"
        ]
    except ClientError as exc:
        return [], f"ACM did not describe the new certificate ({_aws_error(exc)})"
    options = cert.get("DomainValidationOptions") or []
    wanted: dict[str, dict[str, str]] = {}
    for option in options:
        record = option.get("ResourceRecord")
        if not record:
            return [], None  # not published yet: the next check or event writes them
        wanted[str(record["Name"]).lower()] = record
    if not wanted:
        return [], None
    changes: dict[tuple[str, str], list[dict[str, Any]]] = {}
    written: list[dict[str, str]] = []
    for record in wanted.values():
        zones = _zones_for(run, record["Name"])
        if not zones:
            return [], f"no public Route 53 hosted zone for {record['Name']}"
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
                {
                    "name": record["Name"],
                    "type": record["Type"],
                    "value": record["Value"],
                    "zone": zone[1],
                    "zone_id": zone[0],
                }
            )
    try:
        for (zone_id, _), batch in changes.items():
            route53.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={
                    "Comment": f"opsbot: DNS validation of {rotation['new_certificate_arn']}",
                    "Changes": batch,
                },
            )
    except ClientError as exc:
        return [], f"Route 53 refused the validation records ({_aws_error(exc)})"
    return written, None


def _verify(run: _Run, usages: list[Usage], old_arn: str, new_arn: str) -> list[str]:
    """Read every changed listener back: what is not as it should be."""
    elbv2 = run.deps.aws("elbv2", run.env)
    problems: list[str] = []
    for usage in usages:
        if usage.default:
            listeners = elbv2.describe_listeners(ListenerArns=[usage.listener_arn])["Listeners"]
            served = _default_certificate(listeners[0]) if listeners else None
            if served != new_arn:
                problems.append(f"{usage.label} still serves {served} as its default")
        else:
            sni = _sni_certificates(run.deps, run.env, usage.listener_arn)
            if new_arn not in sni or old_arn in sni:
                problems.append(f"{usage.label} SNI certificates are {sorted(sni)}")
    return problems


# -- state and results -------------------------------------------------------------------------


def _validating(
    run: _Run, rotation: dict[str, Any], records: list[dict[str, str]]
) -> dict[str, Any]:
    run.deps.store.update_rotation(
        rotation["old_certificate_arn"],
        expect_status=(REQUESTED,),
        status=VALIDATING,
        validation_records=records,
        updated_at=_iso(run.now),
    )
    return {**rotation, "status": VALIDATING, "validation_records": records}


def _note_error(
    run: _Run, rotation: dict[str, Any], error: str, *, tell: bool = False
) -> dict[str, Any]:
    """Remember a step's error; tell people (once per distinct error) when asked to."""
    if tell and rotation.get("last_error") != error:
        run.deps.notifier.send(
            Message(
                title="Certificate rotation stuck",
                text=(
                    f"{rotation['domain']}: {error}. opsbot retries at every check until the "
                    "rotation times out."
                ),
                level="warning",
                facts=_facts(run, rotation, _labels(rotation)),
            )
        )
    run.deps.store.update_rotation(
        rotation["old_certificate_arn"], last_error=error, updated_at=_iso(run.now)
    )
    return {**rotation, "last_error": error}


def _result(rotation: dict[str, Any]) -> dict[str, Any]:
    return {
        "environment": rotation.get("environment"),
        "certificate": rotation.get("old_certificate_arn"),
        "domain": rotation.get("domain"),
        "listeners": _labels(rotation),
        "new_certificate": rotation.get("new_certificate_arn"),
        "status": rotation.get("status"),
    }


def _labels(rotation: dict[str, Any]) -> list[str]:
    return [
        f"{u['load_balancer']}:{u['port']}" + ("" if u.get("default", True) else " (SNI)")
        for u in rotation.get("usages", [])
    ]


def _environments_of(deps: Deps, arns: list[str]) -> list[Environment]:
    """The environments (with load balancers) in the accounts and regions of these ARNs."""
    places = set()
    for arn in arns:
        parts = arn.split(":")
        if len(parts) > 4:
            places.add((parts[4], parts[3]))
    return [
        env
        for env in deps.policy.environments.values()
        if env.load_balancers and (env.account, env.region) in places
    ]


def _guarded(deps: Deps, env: Environment, *, actor: str) -> list[dict[str, Any]]:
    """check_environment; an AWS error reading the environment becomes one error result."""
    try:
        return check_environment(deps, env, actor=actor)
    except ClientError as exc:
        logger().exception("certificate check failed", extra={"environment": env.name})
        return [{"environment": env.name, "outcome": "error", "error": _aws_error(exc)}]


def _raise_on_errors(results: list[dict[str, Any]]) -> None:
    errors = [r for r in results if r.get("outcome") == "error"]
    if errors:
        what = "; ".join(
            f"{r.get('environment')} {r.get('certificate') or ''}: {r['error']}".replace("  ", " ")
            for r in errors
        )
        raise OpsError(f"certificate check incomplete: {what}", results=results)


def idempotency_token(old_arn: str, attempt: int) -> str:
    """ACM's IdempotencyToken (``\\w{1,32}``) for one attempt at rotating ``old_arn``: a repeat
    of the same attempt within ACM's hour gets the same certificate, not a second one."""
    return hashlib.sha256(f"{old_arn}#{attempt}".encode()).hexdigest()[:32]


def _names(cert: dict[str, Any]) -> list[str]:
    """The domain name first, then the other subject alternative names, each once."""
    names = [str(cert["DomainName"]), *map(str, cert.get("SubjectAlternativeNames") or [])]
    return list(dict.fromkeys(names))


def _aws_error(exc: ClientError) -> str:
    err = exc.response.get("Error", {})
    return f"{err.get('Code', 'Error')}: {err.get('Message', str(exc))}"


def _audit(run: _Run, rotation: dict[str, Any], result: str, **details: Any) -> None:
    """One audit entry for a step of a rotation (target ``<env>/<domain>``)."""
    run.deps.store.audit(
        now=run.now,
        actor=run.actor,
        action=ACTION,
        environment=run.env.name,
        target=f"{run.env.name}/{rotation['domain']}",
        result=result,
        **details,
    )


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _iso_epoch(epoch: int) -> str:
    from datetime import UTC

    return _iso(datetime.fromtimestamp(epoch, UTC))


def _day(at: datetime | str) -> str:
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.strftime("%Y-%m-%d")


def _left(run: _Run, at: datetime | str) -> str:
    """How long until (or since) ``at``, in whole days, rounded: people read these."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    days = round(abs((at - run.now).total_seconds()) / 86400)
    unit = "day" if days == 1 else "days"
    if at <= run.now:
        return f"expired {days} {unit} ago" if days else "expired today"
    return f"{days} {unit} left" if days else "expires today"


# -- telling people ----------------------------------------------------------------------------


def _facts(
    run: _Run, rotation: dict[str, Any], listeners: list[str]
) -> tuple[tuple[str, str], ...]:
    facts = [
        ("Environment", run.env.name),
        ("Names", ", ".join(rotation.get("names") or [rotation["domain"]])),
        ("Listeners", ", ".join(listeners) or "none"),
        ("Old certificate", rotation["old_certificate_arn"]),
        (
            "Old expiry",
            f"{_day(rotation['old_not_after'])} ({_left(run, rotation['old_not_after'])})",
        ),
    ]
    if rotation.get("new_certificate_arn"):
        facts.append(("New certificate", rotation["new_certificate_arn"]))
    return tuple(facts)


def _record_lines(records: list[dict[str, str]]) -> str:
    return "; ".join(f"{r['name']} CNAME {r['value']} in zone {r['zone']}" for r in records)


def _tell_started(
    run: _Run, rotation: dict[str, Any], records: list[dict[str, str]], error: str | None
) -> None:
    listeners = _labels(rotation)
    old = rotation["old_not_after"]
    why = (
        "imported certificates are never renewed by ACM"
        if rotation.get("old_type") == "IMPORTED"
        else f"the policy renews {run.deps.policy.certificates.renew_before_days} days ahead"
    )
    if records:
        dns = f"It wrote the DNS validation record(s) to Route 53 ({_record_lines(records)})."
    elif error:
        dns = f"It could not write the DNS validation records yet: {error}."
    else:
        dns = "ACM has not published the DNS validation records yet; the next check writes them."
    text = (
        f"{rotation['domain']} on {', '.join(listeners)} expires {_day(old)} "
        f"({_left(run, old)}; {why}). opsbot requested a new ACM certificate for the same names "
        f"({', '.join(rotation['names'])}): {rotation['new_certificate_arn']}. {dns} Waiting for "
        "DNS validation: the listeners switch to the new certificate as soon as ACM issues it."
    )
    run.deps.notifier.send(
        Message(
            title="Certificate rotation started",
            text=text,
            level="info",
            facts=_facts(run, rotation, listeners),
        )
    )


def _tell_records_written(
    run: _Run, rotation: dict[str, Any], records: list[dict[str, str]]
) -> None:
    run.deps.notifier.send(
        Message(
            title="Certificate validation records written",
            text=(
                f"{rotation['domain']}: ACM published the DNS validation record(s) of "
                f"{rotation['new_certificate_arn']} and opsbot wrote them to Route 53 "
                f"({_record_lines(records)}). Waiting for DNS validation."
            ),
            level="info",
            facts=_facts(run, rotation, _labels(rotation)),
        )
    )


def _tell_completed(
    run: _Run, rotation: dict[str, Any], new: dict[str, Any], listeners: list[str]
) -> None:
    not_after: datetime = new["NotAfter"]
    old = rotation["old_certificate_arn"]
    where = ", ".join(listeners) if listeners else "no listener (none serves the old one now)"
    text = (
        f"{rotation['domain']} on {where}, now valid until {_day(not_after)} "
        f"({_left(run, not_after)}): new certificate {new['CertificateArn']}, verified on every "
        f"listener. The old certificate {old} (expires {_day(rotation['old_not_after'])}) is "
        "left in ACM: deleting it is a human decision, once nothing else uses it."
    )
    run.deps.notifier.send(
        Message(
            title="Certificate rotated",
            text=text,
            level="success",
            facts=_facts(run, rotation, listeners),
        )
    )


def _tell_failed(run: _Run, rotation: dict[str, Any], *, hints: str) -> None:
    listeners = _labels(rotation)
    old = rotation["old_not_after"]
    retry = _iso_epoch(int(rotation["retry_after"]))
    text = (
        f"{rotation['domain']} on {', '.join(listeners)}: {rotation['reason']}. The listeners "
        f"still serve the old certificate, which expires {_day(old)} ({_left(run, old)}). "
        f"What to check: {hints}. opsbot starts a new attempt after {retry} if the certificate "
        "still needs one."
    )
    _audit(
        run,
        rotation,
        "failed",
        certificate=rotation["old_certificate_arn"],
        new_certificate=rotation.get("new_certificate_arn"),
        reason=rotation["reason"],
    )
    count("CertificateRotationsFailed")
    run.deps.notifier.send(
        Message(
            title="Certificate rotation failed",
            text=text,
            level="failure",
            facts=_facts(run, rotation, listeners),
        )
    )


def _validation_hints(rotation: dict[str, Any]) -> str:
    records = rotation.get("validation_records") or []
    where = (
        f"that the validation record(s) {_record_lines(records)} still exist"
        if records
        else "that the validation records exist"
    )
    new = rotation.get("new_certificate_arn") or "(the new certificate)"
    return (
        f"{where} and that the zone is the one the domain's registrar delegates to (its NS "
        "records); that no CAA record forbids Amazon (amazon.com, amazontrust.com, "
        f"awstrust.com, amazonaws.com); and `aws acm describe-certificate --certificate-arn "
        f"{new}` for ACM's reason"
    )
