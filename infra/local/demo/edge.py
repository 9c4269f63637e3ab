"""The edge: the expiring ACM certificate, the ALB and its HTTPS listener, Route 53."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from infra.local.demo.names import ALB_NAME, CERT_DAYS_LEFT, CERT_DOMAIN, HOSTED_ZONE, TARGET_GROUP


def _self_signed_certificate(not_after: dt.datetime) -> tuple[bytes, bytes]:
    """Return (certificate PEM, private key PEM) for CERT_DOMAIN, valid until ``not_after``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERT_DOMAIN)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - dt.timedelta(days=90))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(CERT_DOMAIN)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def seed_certificate(acm: Any) -> dict[str, str]:
    """Import the demo certificate, expiring in CERT_DAYS_LEFT days."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    not_after = now + dt.timedelta(days=CERT_DAYS_LEFT)
    cert_pem, key_pem = _self_signed_certificate(not_after)
    arn = acm.import_certificate(
        Certificate=cert_pem,
        PrivateKey=key_pem,
        Tags=[{"Key": "Name", "Value": CERT_DOMAIN}],
    )["CertificateArn"]
    return {"certificate_arn": arn, "certificate_not_after": not_after.isoformat()}


def seed_load_balancer(elbv2: Any, network: dict[str, Any], cert_arn: str) -> dict[str, str]:
    """Create the ALB, its target group and the HTTPS listener."""
    alb = elbv2.create_load_balancer(
        Name=ALB_NAME,
        Subnets=network["subnets"],
        SecurityGroups=[network["security_group"]],
        Scheme="internet-facing",
        Type="application",
        IpAddressType="ipv4",
    )["LoadBalancers"][0]
    tg_arn = elbv2.create_target_group(
        Name=TARGET_GROUP,
        Protocol="HTTP",
        Port=8080,
        VpcId=network["vpc_id"],
        TargetType="ip",
        HealthCheckProtocol="HTTP",
        HealthCheckPath="/health",
        Matcher={"HttpCode": "200"},
    )["TargetGroups"][0]["TargetGroupArn"]
    listener_arn = elbv2.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": cert_arn}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )["Listeners"][0]["ListenerArn"]
    return {
        "alb_arn": alb["LoadBalancerArn"],
        "alb_dns_name": alb["DNSName"],
        "alb_hosted_zone_id": alb["CanonicalHostedZoneId"],
        "target_group_arn": tg_arn,
        "listener_arn": listener_arn,
    }


def seed_dns(route53: Any, alb_dns: str, alb_zone_id: str) -> dict[str, str]:
    """Create the public zone and the alias record to the ALB."""
    zone_id = route53.create_hosted_zone(
        Name=HOSTED_ZONE,
        CallerReference=f"opsbot-demo-{uuid.uuid4()}",
        HostedZoneConfig={"Comment": "opsbot demo", "PrivateZone": False},
    )["HostedZone"]["Id"].split("/")[-1]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"{CERT_DOMAIN}.",
                        "Type": "A",
                        "AliasTarget": {
                            "HostedZoneId": alb_zone_id,
                            "DNSName": alb_dns,
                            "EvaluateTargetHealth": True,
                        },
                    },
                }
            ]
        },
    )
    return {"hosted_zone_id": zone_id}
