"""An alarm reaction's "what changed" follow-up as a Slack thread reply: with a bot token the
reaction is posted with ``chat.postMessage`` and the follow-up replies in its thread; when Slack
refuses the bot, the reaction still stands and is posted with the webhook. In process against
moto, posting over real HTTP to the local stack's Slack sink (which answers as Slack does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import worker
from chalicelib.aws.notifier import Notifier
from chalicelib.aws.slack_bot import BotCredentials, SlackBot
from infra.local.cloudtrail import Trail
from infra.local.sink import SinkServer
from tests.functional.test_alarm_reactions import POLICY as ALARM_POLICY
from tests.functional.test_alarm_reactions import World as AlarmWorld
from tests.functional.test_alarm_reactions import aws_env, cpu, make_world
from tests.functional.test_changes import trail
from tests.slack_web import CHANNEL, TOKEN, sink

__all__ = ["aws_env", "sink", "trail"]  # fixtures, used below


@pytest.fixture
def alarm_world(aws_env: None, trail: Trail) -> Iterator[AlarmWorld]:
    from moto import mock_aws

    with mock_aws():
        yield make_world(ALARM_POLICY)


def posting_to(world: AlarmWorld, sink: SinkServer, *, token: str | None) -> None:
    """The world's notifier posts to the sink: with the webhook, and with a bot when a token
    is given."""
    bot = SlackBot(
        credentials=lambda: BotCredentials(token=token, channel=CHANNEL) if token else None,
        base_url=f"{sink.url}/api/",
    )
    world.deps.notifier = Notifier(
        sns=None, topic_arn="", slack_url=lambda: f"{sink.url}/slack/webhook", bot=bot
    )


def posts(sink: SinkServer) -> list[dict[str, Any]]:
    return [json.loads(line) for line in sink.slack_log.read_text().splitlines()]


def title(record: dict[str, Any]) -> str:
    return str(record["payload"]["blocks"][0]["text"]["text"])


def test_with_a_bot_the_follow_up_is_a_reply_in_the_reactions_thread(
    alarm_world: AlarmWorld, sink: SinkServer
) -> None:
    world = alarm_world
    posting_to(world, sink, token=TOKEN)
    before = world.web_desired()
    world.put_alarm("web-cpu-high", "ALARM")

    assert world.results(cpu()) == ["scaled"]
    assert world.web_desired() == before + 1  # acted first
    [reaction] = posts(sink)
    assert reaction["to"] == "chat.postMessage"
    assert "web-cpu-high ALARM: web" in title(reaction)
    assert "thread_ts" not in reaction["payload"]
    [follow_up] = world.queue.follow_ups
    assert follow_up.thread_ts == reaction["ts"]  # recorded with the reaction's follow-up

    worker.handle(world.deps, follow_up.model_dump_json())  # as the worker gets it from SQS
    worker.handle(world.deps, follow_up.model_dump_json())  # a redelivery posts nothing more

    [_, reply] = posts(sink)
    assert reply["to"] == "chat.postMessage"
    assert "Changed in the last hour: demo/web" in title(reply)
    assert reply["payload"]["thread_ts"] == reaction["ts"]
    assert reply["payload"]["reply_broadcast"] is False
    assert reply["payload"]["channel"] == reaction["payload"]["channel"] == CHANNEL


@pytest.mark.parametrize("token", ["xoxb-revoked", None])
def test_a_refused_or_absent_bot_loses_nothing_the_webhook_posts_both(
    alarm_world: AlarmWorld, sink: SinkServer, token: str | None
) -> None:
    world = alarm_world
    posting_to(world, sink, token=token)  # a token Slack refuses (invalid_auth), or none
    before = world.web_desired()
    world.put_alarm("web-cpu-high", "ALARM")

    assert world.results(cpu()) == ["scaled"]
    assert world.web_desired() == before + 1
    [reaction] = posts(sink)
    assert reaction["to"] == "webhook"  # the reaction is told all the same
    assert "web-cpu-high ALARM: web" in title(reaction)
    [follow_up] = world.queue.follow_ups
    assert follow_up.thread_ts is None

    worker.handle(world.deps, follow_up.model_dump_json())
    [_, after] = posts(sink)
    assert after["to"] == "webhook"  # a message of its own, naming its reaction
    assert "Changed in the last hour: demo/web" in title(after)
    assert "thread_ts" not in after["payload"]
    assert "web-cpu-high ALARM: web" in json.dumps(after["payload"])
