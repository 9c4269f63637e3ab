"""The local Slack sink answering Slack's Web API, for tests that post as a bot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.sink import SinkServer
from infra.local.slack_api import SlackWebApi

TOKEN = "xoxb-local-0123456789abcdef"  # the bot token the sink accepts
CHANNEL = "C0LOCALOPS"  # the only channel it knows


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SinkServer]:
    """A running sink (webhooks and ``chat.postMessage``), its log under ``tmp_path``."""
    server = SinkServer(
        slack_log=tmp_path / "slack.jsonl", web_api=SlackWebApi(token=TOKEN, channel=CHANNEL)
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
