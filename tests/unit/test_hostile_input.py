"""Hostile input at the edges that need no AWS: the Slack signature, the slash-command parser
(hypothesis), mrkdwn escaping, reply URLs and the local spend amount."""

from __future__ import annotations

import contextlib
import math
import time
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.aws.notifier import Message
from chalicelib.chatops.parse import SlashCommand, count_arg, deploy_request, form_fields
from chalicelib.chatops.verify import signature, verify
from chalicelib.core.errors import InvalidRequest, Unauthorized
from chalicelib.core.slack import escape, is_slack_hook, reply_url_allowed
from infra.local.demo.budgets import spend_amount

SECRET = "unit-secret"
NOW = 1_800_000_000.0


def headers(timestamp: str, sig: str) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": sig}


def signed(body: bytes, at: float = NOW) -> dict[str, str]:
    ts = str(int(at))
    return headers(ts, signature(SECRET, ts, body))


# -- the signature: checked on raw bytes, every malformed header a 401 --------------------------


def test_a_good_signature_passes() -> None:
    body = b"user_id=U1&text=help"
    verify(secret=SECRET, body=body, headers=signed(body), now=NOW)


@pytest.mark.parametrize(
    "timestamp",
    ["²", "\uff11" + "\uff10" * 9, "9" * 5000, "", " 1800000000", "1800000000\n", "-1", "1e9"],
)
def test_a_malformed_timestamp_is_unauthorized(timestamp: str) -> None:
    with pytest.raises(Unauthorized):
        verify(secret=SECRET, body=b"", headers=headers(timestamp, "v0=" + "0" * 64), now=NOW)


@pytest.mark.parametrize(
    "sig", ["v0=é" + "0" * 63, "v0=" + "\uff10" * 64, "", "v1=" + "0" * 64, "x"]
)
def test_a_malformed_signature_is_unauthorized(sig: str) -> None:
    with pytest.raises(Unauthorized):
        verify(secret=SECRET, body=b"", headers=headers(str(int(NOW)), sig), now=NOW)


def test_a_body_that_is_not_utf8_is_checked_as_bytes() -> None:
    body = b"text=status+w\xe9b&user_id=U1"
    with pytest.raises(Unauthorized):  # unsigned: refused before anything reads it
        verify(secret=SECRET, body=body, headers=headers(str(int(NOW)), "v0=" + "0" * 64), now=NOW)
    verify(secret=SECRET, body=body, headers=signed(body), now=NOW)  # signed: the parser's 400
    with pytest.raises(InvalidRequest) as err:
        form_fields(body)
    assert err.value.details["fields"] == {"body": "not UTF-8 form encoding"}


@given(
    timestamp=st.text(max_size=40),
    sig=st.text(max_size=80),
    body=st.binary(max_size=200),
)
@settings(max_examples=300, deadline=None)
def test_verify_only_ever_refuses_with_unauthorized(timestamp: str, sig: str, body: bytes) -> None:
    with contextlib.suppress(Unauthorized):
        verify(secret=SECRET, body=body, headers=headers(timestamp, sig), now=time.time())


# -- the slash-command parser (hypothesis) ------------------------------------------------------


@given(st.binary(max_size=300))
@settings(max_examples=500, deadline=None)
def test_any_body_parses_or_is_an_invalid_request(body: bytes) -> None:
    try:
        command = SlashCommand.parse(body)
    except InvalidRequest:
        return
    assert command.user_id
    assert command.verb == command.verb.lower()
    assert command.args == command.text.split()[1:]


@given(
    fields=st.dictionaries(
        st.sampled_from(["user_id", "command", "text", "team_id", "response_url", "x"]),
        st.text(max_size=60),
    )
)
@settings(max_examples=300, deadline=None)
def test_any_form_round_trips(fields: dict[str, str]) -> None:
    body = urlencode(fields).encode()
    try:
        command = SlashCommand.parse(body)
    except InvalidRequest:
        assert not fields.get("user_id")
        return
    assert command.user_id == fields["user_id"]
    assert command.text == fields.get("text", "").strip()


@given(st.text(max_size=30))
@settings(max_examples=500, deadline=None)
def test_a_count_is_ascii_digits_or_invalid(word: str) -> None:
    try:
        value = count_arg(word, "scale SERVICE COUNT [ENV]")
    except InvalidRequest as exc:
        assert "usage: scale SERVICE COUNT [ENV]" in exc.message
        return
    assert word.isascii() and word.isdigit()
    assert str(value) == word.lstrip("0") or value == 0


@pytest.mark.parametrize("word", ["²", "\uff13", "1.5", "", "one", "1_000", "9" * 5000, "0x10"])
def test_counts_that_are_not_ascii_whole_numbers_are_refused(word: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        count_arg(word, "scale SERVICE COUNT [ENV]")
    assert err.value.details["fields"]["text"] == "scale SERVICE COUNT [ENV]"


@pytest.mark.parametrize("word", ["+1", "-1", "+0"])
def test_a_signed_count_is_refused_as_a_change_not_taken_as_a_count(word: str) -> None:
    """``scale web +1`` meant one more task: it must not set the count to 1."""
    with pytest.raises(InvalidRequest) as err:
        count_arg(word, "scale SERVICE COUNT [ENV]")
    assert "not a change" in err.value.message and "nothing was done" in err.value.message
    assert err.value.details["fields"]["desired"] == "a change, not a count"


def test_a_huge_count_parses_so_the_bounds_refuse_it() -> None:
    assert count_arg("9" * 50, "u") == int("9" * 50)  # a whole number; the bounds name its range


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_a_deploy_argument_is_a_request_or_invalid(what: str) -> None:
    try:
        request = deploy_request("demo", "web", what, "deploy SERVICE TAG|IMAGE [ENV]")
    except InvalidRequest as exc:
        assert "usage: deploy SERVICE TAG|IMAGE [ENV]" in exc.message
        return
    assert (request.image or request.tag or "").isascii()


def test_a_bad_tag_names_the_tag_and_the_usage() -> None:
    with pytest.raises(InvalidRequest) as err:
        deploy_request("demo", "web", "bad!tag", "deploy SERVICE TAG|IMAGE [ENV]")
    assert err.value.message.startswith("TAG is not valid: 'bad!tag'")
    assert err.value.details["fields"] == {
        "tag": "invalid",
        "text": "deploy SERVICE TAG|IMAGE [ENV]",
    }


# -- what goes to Slack ---------------------------------------------------------------------


def test_escape_neutralises_mentions_and_links() -> None:
    assert escape("<!channel> <http://evil|bank> & co") == (
        "&lt;!channel> &lt;http://evil|bank> &amp; co"
    )


def test_a_message_escapes_everything_it_puts_into_mrkdwn() -> None:
    payload = Message(
        title="Scaled <!here>", text="Reason: <http://x|y>", facts=(("Reason", "a & <b>"),)
    ).slack_payload()
    flat = str(payload)
    assert "<!here>" not in flat and "<http://x|y>" not in flat and "<b>" not in flat
    assert "&lt;!here>" in payload["text"]
    (fields,) = [b["fields"] for b in payload["blocks"] if "fields" in b]
    assert fields[0]["text"] == "*Reason*\na &amp; &lt;b>"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.slack.com/commands/T0/1/x", True),
        ("https://hooks.slack.com:443/actions/T0/1/x", False),  # not as Slack sends it
        ("http://hooks.slack.com/commands/T0/1/x", False),
        ("https://hooks.slack.com.evil.example/x", False),
        ("https://user@hooks.slack.com/x", False),
        ("https://hooks.slack.com:8443/x", False),
        ("https://evil.example/?https://hooks.slack.com/", False),
        ("http://169.254.169.254/latest/meta-data/", False),
        ("https://hooks.slack.com:99999/x", False),
    ],
)
def test_only_slacks_hooks_host_is_a_reply_url_once_deployed(url: str, ok: bool) -> None:
    assert is_slack_hook(url) is ok
    assert reply_url_allowed(url, "prod") is ok
    assert reply_url_allowed(url, "local") is True


# -- the local spend command ------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "Infinity", "-1", "1e13", "x", ""])
def test_spend_refuses_nan_inf_and_negative_amounts(raw: str) -> None:
    with pytest.raises(ValueError, match="AMOUNT must be"):
        spend_amount(raw)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_spend_accepts_only_finite_amounts_in_range(value: float) -> None:
    try:
        amount = spend_amount(value)
    except ValueError:
        assert not math.isfinite(value) or value < 0 or value > 1e12
        return
    assert amount == value
