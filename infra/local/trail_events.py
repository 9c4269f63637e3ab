"""One write call to the embedded AWS as the CloudTrail management event AWS would record.

``build_event`` takes what ``cloudtrail.Trail.observe`` read from a moto ``BaseResponse`` after
it answered: the operation, the service's CloudTrail ``eventSource`` (its signing name:
``ecs.amazonaws.com``, ``elasticloadbalancing.amazonaws.com``), who called
(``trail_identity``), the request's parameters and the resources they name (``resources``).

What is recorded (see docs/concepts/what-changed.md): management events that change something.
Read-only calls (``Describe*``, ``List*``, ``Get*`` ...) are not recorded, and neither are data
events (DynamoDB items, SQS messages, SNS publishes, EventBridge PutEvents, metric data, log
events) nor STS, which CloudTrail keeps out of a trail's management events or marks read-only.
Calls that failed are not recorded either.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from infra.local.trail_identity import identity

READ_ONLY_PREFIXES = (
    "Describe",
    "List",
    "Get",
    "Lookup",
    "Search",
    "BatchGet",
    "Head",
    "Query",
    "Scan",
    "Check",
    "Validate",
    "Test",
    "Receive",
    "Select",
    "Estimate",
    "Preview",
    "Simulate",
)
DATA_EVENTS = {
    "dynamodb": {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    },
    "sqs": {
        "SendMessage",
        "SendMessageBatch",
        "DeleteMessage",
        "DeleteMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
    },
    "sns": {"Publish", "PublishBatch"},
    "events": {"PutEvents"},
    "cloudwatch": {"PutMetricData"},
    "logs": {"PutLogEvents", "CreateLogStream"},
    "lambda": {"Invoke"},
}
NOT_RECORDED_SERVICES = {"sts", "s3"}  # STS: read-only or not logged; S3: its own dispatch

# Request parameters that name a resource: (parameter, ResourceType, how to name it)
_RESOURCE_PARAMS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "ecs": (
        ("service", "AWS::ECS::Service", "last"),
        ("serviceName", "AWS::ECS::Service", "last"),
        ("taskDefinition", "AWS::ECS::TaskDefinition", "family"),
        ("family", "AWS::ECS::TaskDefinition", "family"),
        ("cluster", "AWS::ECS::Cluster", "last"),
        ("clusterName", "AWS::ECS::Cluster", "last"),
        ("resourceArn", "AWS::ECS::Resource", "as_is"),
    ),
    "elbv2": (
        ("TargetGroupArn", "AWS::ElasticLoadBalancingV2::TargetGroup", "as_is"),
        ("ListenerArn", "AWS::ElasticLoadBalancingV2::Listener", "as_is"),
        ("LoadBalancerArn", "AWS::ElasticLoadBalancingV2::LoadBalancer", "as_is"),
        ("RuleArn", "AWS::ElasticLoadBalancingV2::ListenerRule", "as_is"),
    ),
    "iam": (
        ("RoleName", "AWS::IAM::Role", "as_is"),
        ("UserName", "AWS::IAM::User", "as_is"),
        ("PolicyArn", "AWS::IAM::Policy", "as_is"),
    ),
    "autoscaling": (("AutoScalingGroupName", "AWS::AutoScaling::AutoScalingGroup", "as_is"),),
    "application-autoscaling": (
        ("ResourceId", "AWS::ApplicationAutoScaling::ScalableTarget", "as_is"),
    ),
    "ec2": (("GroupId", "AWS::EC2::SecurityGroup", "as_is"),),
    "cloudwatch": (("AlarmName", "AWS::CloudWatch::Alarm", "as_is"),),
    "ecr": (("repositoryName", "AWS::ECR::Repository", "as_is"),),
    "acm": (("CertificateArn", "AWS::ACM::Certificate", "as_is"),),
}
_REVISION = re.compile(r":\d+$")
MAX_RESPONSE_ELEMENTS = 1024  # characters of a JSON answer kept as responseElements


def recorded(service: str, operation: str) -> bool:
    """Whether a successful call of ``operation`` is a management event that changes something."""
    if not operation or service in NOT_RECORDED_SERVICES:
        return False
    if operation.startswith(READ_ONLY_PREFIXES):
        return False
    return operation not in DATA_EVENTS.get(service, set())


@lru_cache(maxsize=64)
def event_source(boto3_service: str) -> str:
    """CloudTrail's ``eventSource`` of a service (its signing name: ``monitoring``, ``ecr``)."""
    from moto.core.responses import get_service_model

    try:
        metadata = get_service_model(boto3_service).metadata
    except Exception:
        return f"{boto3_service}.amazonaws.com"
    name = metadata.get("signingName") or metadata.get("endpointPrefix") or boto3_service
    return f"{name}.amazonaws.com"


def _name(value: str, how: str) -> str:
    if how == "last":
        return value.rsplit("/", 1)[-1]
    if how == "family":
        return _REVISION.sub("", value.rsplit("/", 1)[-1])
    return value


def resources(service: str, params: dict[str, Any]) -> list[dict[str, str]]:
    """The ``Resources`` of an event: what its request parameters name (ECS services by name,
    task definitions by family, the rest as given)."""
    out: list[dict[str, str]] = []
    for param, kind, how in _RESOURCE_PARAMS.get(service, ()):
        values = params.get(param)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and value:
                entry = {"ResourceType": kind, "ResourceName": _name(value, how)}
                if entry not in out:
                    out.append(entry)
    if service == "cloudwatch":
        for value in params.get("AlarmNames") or []:
            out.append({"ResourceType": "AWS::CloudWatch::Alarm", "ResourceName": str(value)})
    return out


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_parameters(response: Any) -> dict[str, Any]:
    """The call's parameters, parsed with the service's model (as moto parses them)."""
    params = getattr(response, "params", None)
    if isinstance(params, dict) and params:
        return _plain(params)
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import determine_request_protocol
    from moto.core.responses import get_service_model

    request = response.normalized_request
    model = get_service_model(response.boto3_service_name)
    operation = model.operation_model(response._get_action())
    protocol = determine_request_protocol(model, request.content_type)
    parser = PROTOCOL_PARSERS[protocol](operation, map_type=dict)
    parsed = parser.parse(
        {
            "method": request.method,
            "values": request.values,
            "headers": request.headers,
            "body": request.data,
            "url_path": request.path,
            "url_params": getattr(response, "uri_match", {}) or {},
        }
    )
    return _plain(dict(parsed))


def _plain(value: Any) -> Any:
    """JSON-able: datetimes as ISO text, bytes dropped, mappings as dicts."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, bytes | bytearray):
        return None
    if hasattr(value, "items"):
        return dict(value.items())
    return str(value)


def response_elements(body: Any) -> Any:
    """A JSON answer (small enough) as ``responseElements``; otherwise null, as CloudTrail
    leaves it for many calls."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.startswith("{") or len(body) > MAX_RESPONSE_ELEMENTS:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def build_event(
    *,
    service: str,
    operation: str,
    access_key: str,
    account: str,
    region: str,
    params: dict[str, Any],
    source_ip: str,
    user_agent: str,
    answer: Any,
    now: datetime,
) -> dict[str, Any]:
    """The event as ``LookupEvents`` answers it (``CloudTrailEvent`` the JSON record)."""
    user_identity, username = identity(access_key, account, now)
    source = event_source(service)
    event_id = str(uuid.uuid4())
    record = {
        "eventVersion": "1.09",
        "userIdentity": user_identity,
        "eventTime": _iso(now),
        "eventSource": source,
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": source_ip or "127.0.0.1",
        "userAgent": user_agent,
        "requestParameters": params or None,
        "responseElements": answer,
        "requestID": str(uuid.uuid4()),
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    return {
        "EventId": event_id,
        "EventName": operation,
        "ReadOnly": "false",
        "AccessKeyId": access_key,
        "EventTime": now,
        "EventSource": source,
        "Username": username,
        "Resources": resources(service, params),
        "CloudTrailEvent": json.dumps(record, separators=(",", ":")),
    }
