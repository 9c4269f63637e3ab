"""The notifier's Slack bot: a threaded post answers the message's ts; a reply carries
``thread_ts`` and ``reply_broadcast`` false; whatever goes wrong with the bot (Slack refuses,
Slack unreachable, the token unreadable) the message goes to the webhook instead. Over real
HTTP to the local Slack sink."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.aws.notifier import Message, Notifier
from chalicelib.aws.slack_bot import BotCredentials, SlackBot
from chalicelib.core.errors import DependencyUnavailable
from infra.local.sink import SinkServer
from tests.slack_web import CHANNEL, TOKEN, sink

__all__ = ["sink"]  # the fixture, used below

MESSAGE = Message(title="web-cpu-high ALARM: web 3 -> 4", facts=(("Target", "demo/web"),))


def notifier(
    sink: SinkServer,
    credentials: Callable[[], BotCredentials | None],
    base_url: str | None = None,
) -> Notifier:
    bot = SlackBot(credentials=credentials, base_url=base_url or f"{sink.url}/api/")
    return Notifier(sns=None, topic_arn="", slack_url=lambda: f"{sink.url}/slack/webhook", bot=bot)


def posts(sink: SinkServer) -> list[dict[str, Any]]:
    return [json.loads(line) for line in sink.slack_log.read_text().splitlines()]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_threaded_post_answers_its_ts_and_a_reply_goes_in_its_thread(sink: SinkServer) -> None:
    n = notifier(sink, lambda: BotCredentials(token=TOKEN, channel=CHANNEL))
    parent = n.send(MESSAGE, threaded=True)
    assert parent.slack is True and parent.ts
    reply = n.send(Message(title="Changed in the last hour: demo/web"), thread_ts=parent.ts)
    assert reply.slack is True and reply.ts and reply.ts != parent.ts
    first, second = posts(sink)
    assert first["ts"] == parent.ts and "thread_ts" not in first["payload"]
    assert first["payload"] == {**MESSAGE.slack_payload(), "channel": CHANNEL}
    assert second["payload"]["thread_ts"] == parent.ts
    assert second["payload"]["reply_broadcast"] is False
    plain = n.send(MESSAGE)  # not threaded: the webhook, as every other notification
    assert (plain.slack, plain.ts) == (True, None)
    assert posts(sink)[-1]["to"] == "webhook"


def _ssm_down() -> BotCredentials | None:
    raise DependencyUnavailable("SSM is unavailable", dependencies=["ssm"])


@pytest.mark.parametrize(
    ("credentials", "unreachable"),
    [
        (lambda: BotCredentials(token="xoxb-revoked", channel=CHANNEL), False),  # invalid_auth
        (lambda: BotCredentials(token=TOKEN, channel="C0ARCHIVED"), False),  # channel_not_found
        (lambda: BotCredentials(token=TOKEN, channel=CHANNEL), True),  # Slack unreachable
        (_ssm_down, False),  # the token cannot be read
        (lambda: None, False),  # no bot configured
    ],
)
def test_whatever_goes_wrong_with_the_bot_the_webhook_takes_the_message(
    sink: SinkServer, credentials: Callable[[], BotCredentials | None], unreachable: bool
) -> None:
    base = f"http://127.0.0.1:{closed_port()}/api/" if unreachable else None
    n = notifier(sink, credentials, base)
    parent = n.send(MESSAGE, threaded=True)
    reply = n.send(MESSAGE, thread_ts="1796591030.539000")
    assert (parent.slack, parent.ts) == (True, None)
    assert (reply.slack, reply.ts) == (True, None)
    assert [(p["to"], p["payload"]) for p in posts(sink)] == [
        ("webhook", MESSAGE.slack_payload()),
        ("webhook", MESSAGE.slack_payload()),
    ]
