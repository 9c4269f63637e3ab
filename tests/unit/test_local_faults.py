"""Game-day faults (infra/local/faults.py): injected only into invocations, as AWS would.

In process, against botocore clients whose requests never leave (an unroutable endpoint): an
injected error is answered before the request is sent, and a call that is let through fails to
connect, which tells the two apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from infra.local import lambda_runtime
from infra.local.fault_responses import THROTTLING, UNAVAILABLE, error_response
from infra.local.faults import Faults, FaultSettings
from infra.local.lambda_runtime import LambdaCrash, invocation

NOWHERE = "http://127.0.0.1:9"  # nothing listens: a call that is really sent fails to connect


@pytest.fixture
def faults() -> Iterator[Faults]:
    state = Faults()
    state.install()
    lambda_runtime.listeners.append(state)
    try:
        yield state
    finally:
        lambda_runtime.listeners.remove(state)
        state.off()


def _client(service: str, attempts: int = 2) -> Any:
    return boto3.Session().client(  # type: ignore[call-overload]
        service,
        region_name="us-east-1",
        endpoint_url=NOWHERE,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": attempts}, connect_timeout=0.2
        ),
    )


@pytest.mark.parametrize(
    ("service", "operation"),
    [
        ("dynamodb", "list_tables"),  # json
        ("sns", "list_topics"),  # query
        ("ec2", "describe_vpcs"),  # ec2
        ("route53", "list_hosted_zones"),  # rest-xml
        ("cloudwatch", "describe_alarms"),
    ],
)
@pytest.mark.parametrize("fault", [THROTTLING, UNAVAILABLE])
def test_injected_errors_parse_and_retry_as_real_ones(
    service: str, operation: str, fault: str
) -> None:
    client = _client(service, attempts=3)
    protocol = client.meta.service_model.resolved_protocol
    sent: list[str] = []

    def answer(request: Any, **_: Any) -> Any:
        sent.append(request.url)
        return error_response(protocol, fault, request.url)

    client.meta.events.register("before-send", answer)
    with pytest.raises(ClientError) as caught:
        getattr(client, operation)()
    code = caught.value.response["Error"]["Code"]
    status = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    from chalicelib.aws.errors import is_transient

    assert is_transient(caught.value), (code, status)
    assert len(sent) == 3  # botocore retried it as the real thing
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 2


def test_aws_errors_touch_only_invocations(faults: Faults) -> None:
    faults.configure(FaultSettings(aws_errors=1, seed=1))
    client = _client("dynamodb")
    with pytest.raises(EndpointConnectionError):  # outside an invocation: really sent
        client.list_tables()
    with invocation("work"), pytest.raises(ClientError) as caught:
        client.list_tables()
    assert caught.value.response["Error"]["Code"] in (
        "ThrottlingException",
        "ServiceUnavailableException",
    )
    assert faults.status()["counts"]["aws_errors"] == 2  # each attempt


def test_a_crash_cannot_be_caught_and_refuses_every_later_call(faults: Faults) -> None:
    faults.configure(FaultSettings(crashes=1, seed=1))
    client = _client("sqs")
    survived: list[str] = []

    def function() -> None:
        try:
            client.list_queues()
        except Exception:  # what product code may write: it does not catch a crash
            survived.append("caught")
        finally:  # a finally block still runs here, but its AWS calls are not made
            with pytest.raises(LambdaCrash, match="already dead"):
                client.list_queues()
        survived.append("went on")

    with pytest.raises(LambdaCrash), invocation("work") as inv:
        function()
    assert survived == [] and inv.crashed and inv.aws_calls == 1


def test_an_invocation_with_fewer_calls_dies_before_returning(faults: Faults) -> None:
    faults.configure(FaultSettings(crashes=1, seed=1))
    with pytest.raises(LambdaCrash, match="before returning"), invocation("quiet"):
        pass
    assert faults.status()["counts"]["crashes"] == 1


def test_a_seed_makes_the_decisions_reproducible(faults: Faults) -> None:
    def run(seed: int) -> list[bool]:
        faults.configure(FaultSettings(lost_events=0.5, duplicates=0.5, seed=seed))
        ecs = {"source": "aws.ecs"}
        return [faults.lose(ecs) for _ in range(20)] + [faults.duplicate("w") for _ in range(20)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_only_events_bound_for_opsbot_are_lost(faults: Faults) -> None:
    faults.configure(FaultSettings(lost_events=1, seed=1))
    assert faults.lose({"source": "aws.ecs"}) and faults.lose({"source": "aws.acm"})
    assert not faults.lose({"source": "aws.events"})  # a schedule
    assert faults.status()["counts"]["lost_events"] == 2


def test_settings_are_validated_and_described() -> None:
    with pytest.raises(ValueError, match="--crashes"):
        FaultSettings.from_body({"crashes": 2})
    settings = FaultSettings.from_body({"aws_errors": 0.05, "seed": 3})
    assert settings.describe() == (
        "faults on (seed 3): aws-errors 0.05, crashes 0, lost-events 0, duplicates 0"
    )
    assert FaultSettings().describe() == "faults off"
    assert isinstance(FaultSettings.from_body({"duplicates": 0.1}).seed, int)  # one is chosen
