"""Seed the opsbot demo environment into an already-running moto server.

Everything goes through ordinary boto3 clients, so ``AWS_ENDPOINT_URL`` must point at the moto
server (``seed_demo`` refuses to run without it, to never touch real AWS). The server is expected
to be fresh: names are fixed by the demo contract and a second run hits "already exists" errors.

``set_actual_spend`` is the one exception: it patches moto's *in-process* budgets backend, so it
only works when moto runs in the same Python process (e.g. ``moto.server.ThreadedMotoServer``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import uuid
from typing import Any

CLUSTER = "demo"
EXECUTION_ROLE = "demo-ecs-task-execution"
ECR_TAGS: dict[str, tuple[str, ...]] = {"web": ("1.0", "1.1", "2.0"), "api": ("1.0", "2.0")}
CERT_DOMAIN = "demo.example.com"
CERT_DAYS_LEFT = 18
HOSTED_ZONE = "example.com"
ALB_NAME = "demo-alb"
TARGET_GROUP = "demo-web"
ASG_NAME = "demo-workers"
QUEUE_NAME = "demo-workers-jobs"
BUDGET_NAME = "monthly-ops"
OPS_EMAIL = "ops@example.com"
WORKER_AMI = "ami-12c6146b"  # one of the AMIs moto ships with
DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
# (name, port, min capacity, max capacity) per ECS service
SERVICES: tuple[tuple[str, int, int, int], ...] = (("web", 8080, 1, 6), ("api", 9090, 2, 4))

_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


class _Clients:
    """boto3 clients sharing one session, created on first use: ``aws("ecs")``."""

    def __init__(self, region: str) -> None:
        import boto3

        # Dummy credentials when none are set, so a bare shell can seed moto.
        dummy = None if "AWS_ACCESS_KEY_ID" in os.environ else "testing"
        self._session = boto3.session.Session(
            aws_access_key_id=dummy, aws_secret_access_key=dummy, region_name=region
        )
        self._cache: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._cache:
            make_client: Any = self._session.client  # Any: service is a runtime string
            self._cache[service] = make_client(service)
        return self._cache[service]


def seed_demo(*, alarms_topic_arn: str, region: str = "us-east-1") -> dict[str, str]:
    """Create the contract's demo environment; return useful ids/ARNs keyed by name."""
    if not os.environ.get("AWS_ENDPOINT_URL"):
        raise RuntimeError("AWS_ENDPOINT_URL is not set; refusing to seed anything but moto")
    aws = _Clients(region)
    account = aws("sts").get_caller_identity()["Account"]
    out: dict[str, str] = {"account_id": account, "region": region}

    out.update(_seed_ecr(aws("ecr")))
    out["execution_role_arn"] = _seed_iam(aws("iam"))
    network = _seed_network(aws("ec2"), region)
    out.update(
        vpc_id=network["vpc_id"],
        subnet_ids=",".join(network["subnets"]),
        security_group_id=network["security_group"],
    )
    out.update(_seed_certificate(aws("acm")))
    out.update(_seed_load_balancer(aws("elbv2"), network, out["certificate_arn"]))
    out.update(_seed_dns(aws("route53"), out["alb_dns_name"], out["alb_hosted_zone_id"]))
    out["cluster_arn"] = aws("ecs").create_cluster(clusterName=CLUSTER)["cluster"]["clusterArn"]
    registry = f"{account}.dkr.ecr.{region}.amazonaws.com"
    for name, port, _, _ in SERVICES:
        out[f"{name}_task_definition_arn"] = _register_task_definition(
            aws("ecs"),
            name,
            port=port,
            image=f"{registry}/{name}:1.0",
            role_arn=out["execution_role_arn"],
            region=region,
        )
    for name, port, _, _ in SERVICES:
        tg = out["target_group_arn"] if name == "web" else None
        out[f"{name}_service_arn"] = _create_service(aws("ecs"), name, port, network, tg)
    _seed_app_autoscaling(aws("application-autoscaling"))
    out.update(_seed_workers(aws("ec2"), aws("autoscaling"), aws("sqs"), network))
    out.update(_seed_alarms(aws("cloudwatch"), alarms_topic_arn))
    out["budget_name"] = _seed_budget(aws("budgets"), account)
    return out


MAX_SPEND = 1e12


def spend_amount(raw: object) -> float:
    """A spend amount: a finite number from 0 to 10^12 (not nan, inf or negative)."""
    try:
        amount = float(str(raw).strip())
    except ValueError:
        raise ValueError(f"AMOUNT must be a number, not {str(raw)[:40]!r}") from None
    if not math.isfinite(amount):
        raise ValueError(f"AMOUNT must be a finite number, not {str(raw)[:40]!r}")
    if not 0 <= amount <= MAX_SPEND:
        raise ValueError(f"AMOUNT must be from 0 to {MAX_SPEND:.0f}, not {amount:g}")
    return amount


def set_actual_spend(budget_name: str, amount: float | str, *, account_id: str = "") -> None:
    """Set a budget's CalculatedSpend.ActualSpend in moto's IN-PROCESS budgets backend.

    moto has no UpdateBudget and only echoes CalculatedSpend as given at CreateBudget time, so this
    mutates the stored budget dict directly. It only affects a moto running in this process (e.g.
    ``ThreadedMotoServer`` or ``mock_aws``); an out-of-process ``moto_server`` is untouched.
    Raises KeyError if no such budget exists.
    """
    from moto.backends import get_backend

    amount = spend_amount(amount)  # ValueError for nan, inf or a negative amount
    text = str(int(amount)) if amount.is_integer() else repr(amount)
    spend = {"Amount": text, "Unit": "USD"}
    found = False
    for caller_account, by_partition in get_backend("budgets").items():
        for backend in by_partition.values():
            for owner, budgets in backend.budgets.items():
                if account_id and account_id not in (owner, caller_account):
                    continue
                if budget_name in budgets:
                    calculated = budgets[budget_name].budget.setdefault("CalculatedSpend", {})
                    calculated["ActualSpend"] = dict(spend)
                    forecast = calculated.get("ForecastedSpend") or {}
                    if float(forecast.get("Amount") or 0) < float(amount):
                        # AWS never forecasts a period below what it has already spent
                        calculated["ForecastedSpend"] = dict(spend)
                    found = True
    if not found:
        raise KeyError(f"budget {budget_name!r} not found in the in-process moto backend")


# --- ECR -----------------------------------------------------------------------------------


def _sha256(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _image_manifest(repo: str, tag: str) -> str:
    """A docker v2 schema 2 manifest whose blob digests are unique per repo:tag."""
    layers = [
        {
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": 2_800_000 + 7_919 * i + len(repo) * 131 + int(float(tag) * 1000),
            "digest": _sha256(f"{repo}:{tag}:layer{i}"),
        }
        for i in range(3)
    ]
    manifest = {
        "schemaVersion": 2,
        "mediaType": _MANIFEST_V2,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7_023,
            "digest": _sha256(f"{repo}:{tag}:config"),
        },
        "layers": layers,
    }
    return json.dumps(manifest, indent=3)


def _seed_ecr(ecr: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for repo, tags in ECR_TAGS.items():
        created = ecr.create_repository(repositoryName=repo)["repository"]
        out[f"ecr_{repo}_uri"] = created["repositoryUri"]
        for tag in tags:
            manifest = _image_manifest(repo, tag)
            ecr.put_image(
                repositoryName=repo,
                imageManifest=manifest,
                imageManifestMediaType=_MANIFEST_V2,
                imageTag=tag,
                imageDigest=_sha256(manifest),
            )
    return out


# --- IAM and network -----------------------------------------------------------------------


def _seed_iam(iam: Any) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(
        RoleName=EXECUTION_ROLE,
        AssumeRolePolicyDocument=json.dumps(trust),
        Description="ECS task execution role for the opsbot demo",
    )["Role"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "Resource": "*",
            }
        ],
    }
    iam.put_role_policy(
        RoleName=EXECUTION_ROLE, PolicyName="task-execution", PolicyDocument=json.dumps(policy)
    )
    return str(role["Arn"])


def _name_tag(resource: str, name: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": [{"Key": "Name", "Value": name}]}]


def _seed_network(ec2: Any, region: str) -> dict[str, Any]:
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=_name_tag("vpc", "demo"))[
        "Vpc"
    ]["VpcId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=f"10.0.{i}.0/24",
            AvailabilityZone=f"{region}{az}",
            TagSpecifications=_name_tag("subnet", f"demo-{az}"),
        )["Subnet"]["SubnetId"]
        for i, az in enumerate("ab", start=1)
    ]
    sg_id = ec2.create_security_group(
        GroupName="demo", Description="opsbot demo ALB and tasks", VpcId=vpc_id
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 9090,
                "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
            },
        ],
    )
    return {"vpc_id": vpc_id, "subnets": subnets, "security_group": sg_id}


# --- ACM, load balancer, DNS ---------------------------------------------------------------


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


def _seed_certificate(acm: Any) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    not_after = now + dt.timedelta(days=CERT_DAYS_LEFT)
    cert_pem, key_pem = _self_signed_certificate(not_after)
    arn = acm.import_certificate(
        Certificate=cert_pem,
        PrivateKey=key_pem,
        Tags=[{"Key": "Name", "Value": CERT_DOMAIN}],
    )["CertificateArn"]
    return {"certificate_arn": arn, "certificate_not_after": not_after.isoformat()}


def _seed_load_balancer(elbv2: Any, network: dict[str, Any], cert_arn: str) -> dict[str, str]:
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


def _seed_dns(route53: Any, alb_dns: str, alb_zone_id: str) -> dict[str, str]:
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


# --- ECS and autoscaling -------------------------------------------------------------------


def _container(name: str, image: str, port: int, region: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "essential": True,
        "portMappings": [{"containerPort": port, "hostPort": port, "protocol": "tcp"}],
        "environment": [
            {"name": "APP_ENV", "value": "demo"},
            {"name": "PORT", "value": str(port)},
            {"name": "LOG_LEVEL", "value": "info"},
        ],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": f"/ecs/{CLUSTER}/{name}",
                "awslogs-region": region,
                "awslogs-stream-prefix": name,
            },
        },
        "healthCheck": {
            "command": ["CMD-SHELL", f"curl -fsS http://localhost:{port}/health || exit 1"],
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 10,
        },
    }


def _register_task_definition(
    ecs: Any, family: str, *, port: int, image: str, role_arn: str, region: str
) -> str:
    containers = [_container(family, image, port, region)]
    if family == "web":
        containers.append(
            {
                "name": "log-router",
                "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                "essential": False,
                "cpu": 32,
                "memoryReservation": 64,
                "firelensConfiguration": {"type": "fluentbit"},
            }
        )
    td = ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        executionRoleArn=role_arn,
        containerDefinitions=containers,
    )["taskDefinition"]
    return str(td["taskDefinitionArn"])


def _create_service(
    ecs: Any, name: str, port: int, network: dict[str, Any], target_group_arn: str | None
) -> str:
    from botocore.exceptions import ClientError

    params: dict[str, Any] = {
        "cluster": CLUSTER,
        "serviceName": name,
        "taskDefinition": name,
        "desiredCount": 2,
        "launchType": "FARGATE",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": network["subnets"],
                "securityGroups": [network["security_group"]],
                "assignPublicIp": "DISABLED",
            }
        },
        "deploymentConfiguration": DEPLOYMENT_CONFIGURATION,
    }
    if target_group_arn:
        lb = {"targetGroupArn": target_group_arn, "containerName": name, "containerPort": port}
        try:
            service = ecs.create_service(**params, loadBalancers=[lb])["service"]
        except ClientError:
            service = ecs.create_service(**params)["service"]
    else:
        service = ecs.create_service(**params)["service"]
    if "deploymentConfiguration" not in service:
        # moto's CreateService drops deploymentConfiguration; UpdateService stores it.
        ecs.update_service(
            cluster=CLUSTER, service=name, deploymentConfiguration=DEPLOYMENT_CONFIGURATION
        )
    return str(service["serviceArn"])


def _seed_app_autoscaling(aas: Any) -> None:
    for name, _, low, high in SERVICES:
        aas.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{CLUSTER}/{name}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=low,
            MaxCapacity=high,
        )


def _seed_workers(ec2: Any, autoscaling: Any, sqs: Any, network: dict[str, Any]) -> dict[str, str]:
    queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    lt_id = ec2.create_launch_template(
        LaunchTemplateName=ASG_NAME,
        LaunchTemplateData={
            "ImageId": WORKER_AMI,
            "InstanceType": "t3.small",
            "SecurityGroupIds": [network["security_group"]],
            "TagSpecifications": _name_tag("instance", ASG_NAME),
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=ASG_NAME,
        LaunchTemplate={"LaunchTemplateName": ASG_NAME, "Version": "$Latest"},
        MinSize=1,
        MaxSize=5,
        DesiredCapacity=2,
        VPCZoneIdentifier=",".join(network["subnets"]),
        Tags=[{"Key": "Queue", "Value": QUEUE_NAME, "PropagateAtLaunch": True}],
    )
    return {"asg_name": ASG_NAME, "launch_template_id": lt_id, "queue_url": queue_url}


# --- CloudWatch and budgets ----------------------------------------------------------------


def _seed_alarms(cloudwatch: Any, topic_arn: str) -> dict[str, str]:
    common: dict[str, Any] = {
        "AlarmActions": [topic_arn],
        "OKActions": [topic_arn],
        "ComparisonOperator": "GreaterThanThreshold",
        "Period": 60,
        "TreatMissingData": "missing",
    }
    cloudwatch.put_metric_alarm(
        AlarmName="web-cpu-high",
        AlarmDescription="web CPU above 80% for 3 minutes",
        Namespace="AWS/ECS",
        MetricName="CPUUtilization",
        Dimensions=[
            {"Name": "ClusterName", "Value": CLUSTER},
            {"Name": "ServiceName", "Value": "web"},
        ],
        Statistic="Average",
        EvaluationPeriods=3,
        Threshold=80.0,
        **common,
    )
    cloudwatch.put_metric_alarm(
        AlarmName="workers-queue-deep",
        AlarmDescription=f"{QUEUE_NAME} has more than 100 visible messages for 2 minutes",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": QUEUE_NAME}],
        Statistic="Maximum",
        EvaluationPeriods=2,
        Threshold=100.0,
        **common,
    )
    alarms = cloudwatch.describe_alarms(AlarmNames=["web-cpu-high", "workers-queue-deep"])
    return {
        f"alarm_{a['AlarmName'].replace('-', '_')}_arn": a["AlarmArn"]
        for a in alarms["MetricAlarms"]
    }


def _seed_budget(budgets: Any, account: str) -> str:
    def notification(threshold: float) -> dict[str, Any]:
        return {
            "Notification": {
                "NotificationType": "ACTUAL",
                "ComparisonOperator": "GREATER_THAN",
                "Threshold": threshold,
                "ThresholdType": "PERCENTAGE",
            },
            "Subscribers": [{"SubscriptionType": "EMAIL", "Address": OPS_EMAIL}],
        }

    budgets.create_budget(
        AccountId=account,
        Budget={
            "BudgetName": BUDGET_NAME,
            "BudgetLimit": {"Amount": "100", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
            "CalculatedSpend": {
                "ActualSpend": {"Amount": "85", "Unit": "USD"},
                "ForecastedSpend": {"Amount": "97", "Unit": "USD"},
            },
        },
        NotificationsWithSubscribers=[notification(80.0), notification(100.0)],
    )
    return BUDGET_NAME
