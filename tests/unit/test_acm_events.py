"""AcmCertificateEvent parses the events ACM sends through EventBridge (saved samples)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.events import AcmCertificateEvent
from chalicelib.handlers.events import ACM_CERTIFICATE_PATTERN

EVENTS = Path(__file__).resolve().parents[1] / "events"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / f"acm-certificate-{name}.json").read_text())
    return data


def test_certificate_available_sample_parses() -> None:
    event = AcmCertificateEvent.model_validate(sample("available"))
    assert event.source == "aws.acm"
    assert event.detail_type == "ACM Certificate Available"
    assert event.resources == [
        "arn:aws:acm:us-east-1:123456789012:certificate/0f3c6a4e-1b2d-4c5e-9f8a-7b6c5d4e3f21"
    ]
    assert event.detail.Action == "ISSUANCE"
    assert event.detail.CertificateType == "AMAZON_ISSUED"
    assert event.detail.CommonName == "demo.example.com"
    assert event.detail.DaysToExpiry == 395
    assert event.time.tzinfo is not None


def test_approaching_expiration_sample_parses() -> None:
    event = AcmCertificateEvent.model_validate(sample("approaching-expiration"))
    assert event.detail_type == "ACM Certificate Approaching Expiration"
    assert event.detail.DaysToExpiry == 18
    assert event.detail.Action is None  # not part of this event
    # fields ACM adds are kept, not refused
    assert event.detail.model_extra == {
        "FirstSubjectAlternativeName": "demo.example.com",
        "ValidityInDays": 90,
        "CertificateKeyPairOrigin": "CUSTOMER_PROVIDED",
    }


def test_handler_pattern_names_exactly_the_events_consumed() -> None:
    assert ACM_CERTIFICATE_PATTERN == {
        "source": ["aws.acm"],
        "detail-type": ["ACM Certificate Available", "ACM Certificate Approaching Expiration"],
    }
    for name in ("available", "approaching-expiration"):
        event = sample(name)
        assert event["source"] in ACM_CERTIFICATE_PATTERN["source"]
        assert event["detail-type"] in ACM_CERTIFICATE_PATTERN["detail-type"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"resources": []}, "resources"),
        ({"resources": ["arn:aws:ecs:us-east-1:123456789012:service/demo/web"]}, "resources"),
        ({"source": "aws.ecs"}, "source"),
        ({"detail": {"DaysToExpiry": "soon"}}, "detail"),
    ],
)
def test_malformed_events_are_refused_naming_the_field(change: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as raised:
        AcmCertificateEvent.model_validate({**sample("available"), **change})
    assert where in {str(e["loc"][0]) for e in raised.value.errors()}
