"""Slack's edge: the signature check, reading a slash command, the verb table."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from chalicelib.chatops import BUTTONS, COMMANDS, SignedRequest, SlashCommand, verify
from chalicelib.chatops.commands import HELP
from chalicelib.chatops.interactions import parse_interaction
from chalicelib.core.errors import InvalidRequest, Unauthorized
from chalicelib.handlers.views.audit import audit_item
from chalicelib.records.audit import AuditEntry

SECRET = "unit-secret"
NOW = 1_790_000_000.0


def signed(body: bytes, *, at: float = NOW, secret: str = SECRET) -> dict[str, str]:
    timestamp = str(int(at))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


def test_a_fresh_signature_passes() -> None:
    body = b"user_id=U1&text=help"
    verify(secret=SECRET, body=body, headers=signed(body), now=NOW + 299)


def test_a_verified_request_names_what_it_was_signed_with() -> None:
    body = b"user_id=U1&text=help"
    headers = signed(body)
    assert verify(secret=SECRET, body=body, headers=headers, now=NOW) == SignedRequest(
        timestamp=int(NOW), signature=headers["X-Slack-Signature"]
    )


@pytest.mark.parametrize(
    ("secret", "headers", "message"),
    [
        (None, signed(b"x"), "Slack signing secret is not configured"),
        (SECRET, {}, "missing or malformed X-Slack-Request-Timestamp"),
        (SECRET, signed(b"x", at=NOW - 301), "stale Slack request"),
        (SECRET, signed(b"x", secret="other"), "invalid Slack signature"),
        (SECRET, signed(b"y"), "invalid Slack signature"),
    ],
)
def test_unsigned_stale_or_forged_requests_are_refused(
    secret: str | None, headers: dict[str, str], message: str
) -> None:
    with pytest.raises(Unauthorized, match=message):
        verify(secret=secret, body=b"x", headers=headers, now=NOW)


def test_a_slash_command_is_read_from_the_form() -> None:
    body = urlencode({"user_id": "U1", "text": "  Deploy web 2.0 prod ", "response_url": "u"})
    command = SlashCommand.parse(body.encode())
    assert (command.user_id, command.command, command.response_url) == ("U1", "/opsbot", "u")
    assert (command.verb, command.args) == ("deploy", ["web", "2.0", "prod"])
    assert SlashCommand.parse(b"user_id=U1").verb == "help"
    with pytest.raises(InvalidRequest):
        SlashCommand.parse(b"text=help")


def test_every_verb_in_the_help_is_in_the_table() -> None:
    for line in HELP.splitlines()[1:]:
        for usage in line.split(":")[0].split(","):
            assert usage.strip(" •`").split()[0] in COMMANDS
    assert not COMMANDS["help"].needs_person
    assert all(c.needs_person for verb, c in COMMANDS.items() if verb != "help")
    assert set(BUTTONS) == {"rollback", "approve", "deny", "cap_approve"}


@pytest.mark.parametrize("payload", ["", "null", "[]", '{"user": "x"}', '{"user": {"id": 1}}'])
def test_a_payload_that_is_not_block_actions_is_a_400(payload: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_interaction(payload)
    assert info.value.details == {"fields": {"payload": "not a block_actions payload"}}


def test_an_audit_entry_shows_as_the_api_always_showed_it() -> None:
    entry = AuditEntry.of(
        at=datetime(2026, 11, 20, 9, 15, 0, 123456, tzinfo=UTC),
        actor="alice",
        action="certificate.rotate",
        environment="demo",
        target="demo/example.com",
        result="started",
        reason=None,
        certificate="arn:old",
        listeners=["alb:443"],
    )
    assert audit_item(entry) == {
        "at": "2026-11-20T09:15:00.123456Z",
        "actor": "alice",
        "action": "certificate.rotate",
        "environment": "demo",
        "service": "example.com",
        "target": "demo/example.com",
        "result": "started",
        "certificate": "arn:old",
        "listeners": ["alb:443"],
    }
