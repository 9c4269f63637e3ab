"""The local Slack sink's ``chat.postMessage``: answered as Slack answers it (a bearer token, the
channel, ``ok``/``ts``/``message``; ``ok: false`` with Slack's error codes), and each message it
takes appended to slack.jsonl with the exact payload, its ``thread_ts`` kept."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from infra.local.sink import SinkServer
from tests.slack_web import CHANNEL, TOKEN, sink

__all__ = ["sink"]  # the fixture, used below


def records(sink: SinkServer) -> list[dict[str, Any]]:
    return [json.loads(line) for line in sink.slack_log.read_text().splitlines()]


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_post_and_its_thread_reply_as_slack_answers_them(sink: SinkServer) -> None:
    client = WebClient(token=TOKEN, base_url=f"{sink.url}/api/")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "web 3 -> 4"}}]
    parent = client.chat_postMessage(channel=CHANNEL, text="web-cpu-high ALARM", blocks=blocks)
    assert parent["ok"] is True
    assert parent["channel"] == CHANNEL
    assert parent["message"]["text"] == "web-cpu-high ALARM"
    assert parent["message"]["ts"] == parent["ts"]
    reply = client.chat_postMessage(
        channel=CHANNEL,
        text="Changed in the last hour",
        thread_ts=parent["ts"],
        reply_broadcast=False,
    )
    assert reply["message"]["thread_ts"] == parent["ts"]
    assert float(reply["ts"]) > float(parent["ts"])

    first, second = records(sink)
    assert (first["to"], first["url"]) == ("chat.postMessage", f"{sink.url}/api/chat.postMessage")
    assert first["payload"] == {"channel": CHANNEL, "text": "web-cpu-high ALARM", "blocks": blocks}
    assert (first["channel"], first["ts"]) == (CHANNEL, parent["ts"])
    assert second["payload"] == {
        "channel": CHANNEL,
        "text": "Changed in the last hour",
        "thread_ts": parent["ts"],
        "reply_broadcast": False,
    }
    assert second["ts"] == reply["ts"]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
@pytest.mark.parametrize(
    ("token", "channel", "text", "error"),
    [
        (None, CHANNEL, "hi", "not_authed"),
        ("xoxb-someone-else", CHANNEL, "hi", "invalid_auth"),
        (TOKEN, "C0NOTHERE", "hi", "channel_not_found"),
        (TOKEN, CHANNEL, "", "no_text"),
    ],
)
def test_refusals_are_ok_false_with_slacks_error_and_record_nothing(
    sink: SinkServer, token: str | None, channel: str, text: str, error: str
) -> None:
    client = WebClient(token=token, base_url=f"{sink.url}/api/")
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=channel, text=text)
    assert raised.value.response.status_code == 200  # Slack answers refusals with 200
    assert raised.value.response.data == {"ok": False, "error": error}
    assert records(sink) == []


def test_the_bearer_header_form_posts_and_unknown_methods(sink: SinkServer) -> None:
    url = f"{sink.url}/api/chat.postMessage"
    json_type = {"Content-Type": "application/json; charset=utf-8"}
    body = json.dumps({"channel": CHANNEL, "text": "hi"}).encode()
    assert raw_post(url, body, json_type) == (200, {"ok": False, "error": "not_authed"})
    basic = {**json_type, "Authorization": f"Basic {TOKEN}"}  # only a bearer token counts
    assert raw_post(url, body, basic) == (200, {"ok": False, "error": "not_authed"})
    bearer = {**json_type, "Authorization": f"Bearer {TOKEN}"}
    assert raw_post(url, b"{not json", bearer) == (200, {"ok": False, "error": "invalid_json"})
    status, answer = raw_post(url, body, bearer)
    assert (status, answer["ok"], answer["channel"]) == (200, True, CHANNEL)

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, answer = raw_post(url, f"token={TOKEN}&channel=%23ops&text=by+form".encode(), form)
    assert (status, answer["ok"], answer["message"]["text"]) == (200, True, "by form")
    assert records(sink)[-1]["payload"] == {"channel": "#ops", "text": "by form"}  # no token

    status, answer = raw_post(f"{sink.url}/api/chat.delete", body, bearer)
    assert (status, answer) == (404, {"ok": False, "error": "unknown_method"})
