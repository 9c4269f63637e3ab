"""What changed: actors as people read them, the follow-up message of an alarm reaction, the
CLI's ``--since``."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.changes import change_line, changes_message
from chalicelib.changes.actors import event_actor, short_principal
from chalicelib.changes.principals import Principal, of_event, owner, parse
from chalicelib.records.change import Change, ChangeFeed, ChangeSource
from opsbot_cli.changes import since_minutes

AT = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("arn", "shown"),
    [
        ("arn:aws:sts::123456789012:assumed-role/opsbot-worker/session", "session (opsbot-worker)"),
        (
            "arn:aws:sts::123456789012:assumed-role/opsbot-member/alice@dep-0123abcd",
            "alice via opsbot-member (dep-0123abcd)",
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_1a2b/bob@example.com",
            "bob@example.com (AWSReservedSSO_Admin_1a2b)",
        ),
        ("arn:aws:iam::123456789012:user/ops/carol", "carol"),
        ("arn:aws:iam::123456789012:root", "root (123456789012)"),
        ("arn:aws-us-gov:iam::123456789012:user/dave", "dave"),
        ("something else", "something else"),
    ],
)
def test_principal_arns_are_shortened_for_people(arn: str, shown: str) -> None:
    assert short_principal(arn) == shown


def test_an_event_identity_reads_as_its_principal() -> None:
    assumed = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/deployer/ci-run-42",
    }
    assert event_actor(assumed) == "ci-run-42 (deployer)"
    assert event_actor({"type": "AWSService", "invokedBy": "ecs.amazonaws.com"}) == (
        "ecs.amazonaws.com"
    )
    assert event_actor({}, "someone") == "someone"


def _feed(*items: Change, notes: tuple[str, ...] = ()) -> ChangeFeed:
    return ChangeFeed(
        environment="demo",
        service="web",
        since=AT - timedelta(hours=1),
        until=AT,
        items=items,
        missing_sources=("cloudtrail",) if notes else (),
        notes=notes,
    )


def _change(minutes: int, what: str, **kwargs: object) -> Change:
    return Change(
        at=AT - timedelta(minutes=minutes),
        source=ChangeSource.CLOUDTRAIL,
        actor="root (123456789012)",
        what=what,
        **kwargs,  # type: ignore[arg-type]
    )


def test_the_follow_up_shows_the_top_five_one_line_each_and_where_the_rest_are() -> None:
    items = [_change(m, f"UpdateService desiredCount={m}") for m in range(1, 8)]
    message = changes_message(_feed(*items), reaction="web-cpu-high ALARM: web 2 -> 3", more_at="X")
    lines = message.text.splitlines()
    assert lines[:5] == [
        f"• 09:{15 - m:02d}Z cloudtrail, root (123456789012): UpdateService desiredCount={m}"
        for m in range(1, 6)
    ]
    assert lines[5] == "2 more: X"
    assert message.title == "Changed in the last hour: demo/web"
    assert ("Reaction", "web-cpu-high ALARM: web 2 -> 3") in message.facts


def test_nothing_changed_is_one_line_and_a_missing_source_is_named() -> None:
    quiet = changes_message(_feed(), reaction="r", more_at="X")
    assert quiet.text == "Nothing changed in the last hour."
    denied = changes_message(
        _feed(notes=("cloudtrail: AccessDeniedException: not authorized",)),
        reaction="r",
        more_at="X",
    )
    assert denied.text.splitlines() == [
        "Nothing changed in the last hour.",
        "Not included: cloudtrail: AccessDeniedException: not authorized",
    ]


def test_an_opsbot_line_names_its_deployment() -> None:
    change = Change(
        at=AT,
        source=ChangeSource.OPSBOT,
        actor="local-admin",
        what="deploy succeeded web:2.0",
        deployment_id="dep-1",
    )
    assert change_line(change) == "09:15Z opsbot, local-admin: deploy succeeded web:2.0 (dep-1)"


@pytest.mark.parametrize(("text", "minutes"), [("90m", 90), ("2h", 120), ("45", 45), ("24h", 1440)])
def test_since_takes_minutes_or_hours(text: str, minutes: int) -> None:
    assert since_minutes(text) == minutes


@pytest.mark.parametrize("text", ["0", "25h", "1441m", "soon", "-5", "1.5h"])
def test_since_refuses_what_the_api_would(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        since_minutes(text)


def test_the_cli_prints_each_change_on_one_line_and_the_missing_sources() -> None:
    from tests.unit.cli_fake import serve
    from tests.unit.test_cli import run

    answer = {
        "environment": "demo",
        "service": "web",
        "items": [
            {
                "at": "2026-11-20T09:14:05Z",
                "source": "cloudtrail",
                "actor": "root (123456789012)",
                "what": "UpdateService desiredCount=3",
                "detail": "ecs.amazonaws.com web",
            },
            {
                "at": "2026-11-20T09:10:00Z",
                "source": "opsbot",
                "actor": "local-admin",
                "what": "deploy succeeded\n web:2.0",
                "detail": "",
                "deployment_id": "dep-1",
            },
        ],
        "missing_sources": ["ecs"],
        "notes": ["ecs: ThrottlingException: Rate exceeded"],
    }
    with serve() as fake:
        fake.on("GET /services/demo/web/changes", (200, answer))
        code, out, _, _ = run(fake, "changes", "web", "--since", "2h")
        [seen] = fake.requests("GET /services/demo/web/changes")
        code_json, out_json, _, _ = run(fake, "changes", "web", "--output", "json")
    assert code == 0 and seen.path.endswith("?since_minutes=120")
    assert out.splitlines() == [
        "demo/web: changes of the last 120 min, newest first",
        "09:14:05  cloudtrail  root (123456789012)  UpdateService desiredCount=3",
        "09:10:00  opsbot      local-admin          deploy succeeded web:2.0 (dep-1)",
        "not included: ecs: ThrottlingException: Rate exceeded",
    ]
    assert code_json == 0 and json.loads(out_json) == answer


def _known(principal: Principal | None) -> Principal:
    assert principal is not None
    return principal


def test_opsbot_principals_are_its_roles_by_template_and_its_own_identity() -> None:
    def assumed(role: str, account: str = "444455556666") -> Principal:
        issuer = {"type": "Role", "arn": f"arn:aws:iam::{account}:role/{role}"}
        return _known(
            of_event(
                {
                    "type": "AssumedRole",
                    "arn": f"arn:aws:sts::{account}:assumed-role/{role}/alice@dep-1",
                    "sessionContext": {"sessionIssuer": issuer},
                }
            )
        )

    template = _known(owner("arn:aws:iam::444455556666:role/opsbot-{function}"))
    assert template.holds(assumed("opsbot-work"))
    assert template.holds(assumed("opsbot-api_handler"))
    assert not template.holds(assumed("deployer"))
    assert not template.holds(assumed("opsbot-work", "111122223333"))
    # no role_arn: the caller identity of the function's own execution role, one per function
    home = _known(
        owner("arn:aws:sts::123456789012:assumed-role/opsbot-dev-api_handler/x", "api_handler")
    )
    assert home.holds(_known(parse("arn:aws:sts::123456789012:assumed-role/opsbot-dev-work/s")))
    assert not home.holds(_known(parse("arn:aws:iam::123456789012:user/mallory")))
    root = _known(owner("arn:aws:iam::123456789012:root"))
    assert root.holds(_known(of_event({"type": "Root", "arn": "arn:aws:iam::123456789012:root"})))
    user = {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/m"}
    assert not root.holds(_known(of_event(user)))
