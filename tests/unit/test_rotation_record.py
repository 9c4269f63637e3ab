"""The typed Rotation record at the store boundary, and the pure parts of the certificate flow."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.certificates import messages
from chalicelib.certificates.discover import not_due
from chalicelib.core.clock import days_left
from chalicelib.records.rotation import Rotation, Usage, ValidationRecord
from chalicelib.records.status import RotationStatus
from chalicelib.records.target import Target
from chalicelib.store.rotations import RotationStore, _attrs, _rotation

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
OLD = "arn:aws:acm:us-east-1:123456789012:certificate/old"
NEW = "arn:aws:acm:us-east-1:123456789012:certificate/new"


def rotation(**changes: Any) -> Rotation:
    base = Rotation(
        environment="demo",
        domain="demo.example.com",
        names=("demo.example.com", "www.demo.example.com"),
        old_certificate_arn=OLD,
        old_not_after=NOW + dt.timedelta(days=18),
        usages=(
            Usage("demo-alb", "arn:listener/443", 443, "HTTPS", True),
            Usage("demo-alb", "arn:listener/443", 443, "HTTPS", False),
        ),
        status=RotationStatus.REQUESTED,
        requested_at=NOW,
        updated_at=NOW,
        actor="schedule:certificates",
        old_type="IMPORTED",
    )
    return replace(base, **changes)


def test_item_round_trip_keeps_every_field() -> None:
    full = rotation(
        new_certificate_arn=NEW,
        status=RotationStatus.COMPLETED,
        validation_records=(
            ValidationRecord("_x.demo.example.com.", "CNAME", "_y.acm.", "example.com", "Z1"),
        ),
        last_error="boom",
        failed_at=NOW,
        retry_after=NOW + dt.timedelta(days=1),
        completed_at=NOW,
        new_not_after=NOW + dt.timedelta(days=395),
        swapped=("demo-alb:443",),
        lease_until=NOW + dt.timedelta(minutes=5),
        reason="why",
        attempt=3,
    )
    assert _rotation(_attrs(full)) == full
    assert _rotation(_attrs(rotation())) == rotation()


def test_item_keeps_its_shape() -> None:
    item = _attrs(rotation(retry_after=NOW, lease_until=NOW))
    assert item["status"] == "requested"
    assert item["old_not_after"] == "2025-03-19T12:00:00Z"
    assert item["retry_after"] == int(NOW.timestamp())  # epoch seconds: conditions compare them
    assert item["lease_until"] == int(NOW.timestamp())
    assert item["usages"][1] == {
        "load_balancer": "demo-alb",
        "listener_arn": "arn:listener/443",
        "port": 443,
        "protocol": "HTTPS",
        "default": False,
    }


def test_update_writes_only_what_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def update(self: Any, pk: str, sk: str, fields: dict[str, Any], **kwargs: Any) -> bool:
        calls.append({"pk": pk, "fields": fields, **kwargs})
        return True

    monkeypatch.setattr(RotationStore, "_update", update)
    store = RotationStore(ddb=None, table="t")  # type: ignore[arg-type]
    before = rotation(lease_until=NOW)
    later = NOW + dt.timedelta(seconds=5)
    after = replace(before, status=RotationStatus.COMPLETED, lease_until=None, updated_at=later)

    assert store.update_rotation(
        after,
        since=before,
        expect_status=(RotationStatus.SWAPPING,),
        or_lease_expired=(RotationStatus.SWAPPING, NOW),
    )

    (call,) = calls
    assert call["pk"] == f"ROTATION#{OLD}"
    assert call["fields"] == {
        "status": "completed",
        "updated_at": "2025-03-01T12:00:05Z",
        "lease_until": 0,  # released
    }
    assert call["expect_status"] == ("swapping",)
    assert call["or_lease_expired"] == ("swapping", int(NOW.timestamp()))


def test_not_due() -> None:
    usages = list(rotation().usages)
    cert: Any = {"NotAfter": NOW + dt.timedelta(days=18), "Status": "ISSUED", "Type": "IMPORTED"}
    window = dt.timedelta(days=30)

    assert not_due(cert, usages, None, now=NOW, renew_before=window) is None
    assert not_due(cert, [], None, now=NOW, renew_before=window) == {"outcome": "unused"}
    far = dt.timedelta(days=10)
    assert not_due(cert, usages, None, now=NOW, renew_before=far) == {"outcome": "ok"}
    private: Any = {**cert, "Type": "PRIVATE"}
    assert not_due(private, usages, None, now=NOW, renew_before=window) == {
        "outcome": "skipped",
        "reason": "private CA certificates renew in ACM",
    }
    failed = rotation(status=RotationStatus.FAILED, retry_after=NOW + dt.timedelta(hours=1))
    assert not_due(cert, usages, failed, now=NOW, renew_before=window) == {
        "outcome": "failed",
        "retry_after": "2025-03-01T13:00:00Z",
    }
    retry = replace(failed, retry_after=NOW)
    assert not_due(cert, usages, retry, now=NOW, renew_before=window) is None


def test_people_read_whole_days() -> None:
    assert messages.left(NOW + dt.timedelta(days=18, hours=2), NOW) == "18 days left"
    assert messages.left(NOW + dt.timedelta(hours=30), NOW) == "1 day left"
    assert messages.left(NOW + dt.timedelta(hours=3), NOW) == "expires today"
    assert messages.left(NOW - dt.timedelta(days=2), NOW) == "expired 2 days ago"


def test_days_left_are_rounded_down_everywhere_as_aws_consoles_count_them() -> None:
    almost = NOW + dt.timedelta(days=18) - dt.timedelta(minutes=1)
    assert days_left(almost, NOW) == 17
    assert messages.left(almost, NOW) == "17 days left"  # not rounded up to 18
    assert days_left(NOW + dt.timedelta(days=18), NOW) == 18
    assert days_left(NOW - dt.timedelta(hours=1), NOW) == -1
    assert messages.left(NOW - dt.timedelta(hours=47), NOW) == "expired 1 day ago"
    assert rotation().listeners == ["demo-alb:443", "demo-alb:443 (SNI)"]


def test_rotation_status_in_flight() -> None:
    assert [s for s in RotationStatus if s.in_flight] == ["requested", "validating", "swapping"]


def test_certificate_target_is_audited_as_env_and_domain() -> None:
    target = Target.certificate("demo", "demo.example.com")
    assert target.label == "demo/demo.example.com"
