"""Posting to the channel as opsbot's Slack app (a bot token and ``chat.postMessage``).

An incoming webhook answers ``ok`` and nothing else; ``chat.postMessage`` answers the message's
``ts``, which is what a thread reply (``thread_ts``) needs. The bot is used only where it is
configured: a bot token (``xoxb-...``, scope ``chat:write``) and the channel's ID, both in SSM
next to the webhook URL. Without them opsbot posts with the webhook, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("opsbot.notifications")

SLACK_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class BotCredentials:
    """The bot token and the channel it posts to (an ID such as ``C0123ABCDEF``)."""

    token: str
    channel: str


class SlackPostFailed(Exception):
    """Slack did not take a ``chat.postMessage`` (its ``error``, or why it could not be asked)."""


class SlackBot:
    """``chat.postMessage`` with slack_sdk's ``WebClient``; ``base_url`` is Slack's Web API
    unless configured otherwise."""

    def __init__(
        self,
        *,
        credentials: Callable[[], BotCredentials | None],
        base_url: str = SLACK_API_URL,
        timeout: int = 5,
    ) -> None:
        self._credentials = credentials
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._timeout = timeout

    def configured(self) -> bool:
        """Whether a bot token and a channel are set."""
        return self._credentials() is not None

    def post(self, payload: dict[str, Any], *, thread_ts: str | None = None) -> str | None:
        """Post ``payload`` (text and blocks) to the channel, in the thread of ``thread_ts``
        when given (not broadcast to the channel); the new message's ``ts``, or None when no
        bot is configured. Raises ``SlackPostFailed`` when Slack refuses or cannot be reached."""
        credentials = self._credentials()
        if credentials is None:
            return None
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        body: dict[str, Any] = {**payload, "channel": credentials.channel}
        if thread_ts:
            body.update(thread_ts=thread_ts, reply_broadcast=False)
        client = WebClient(token=credentials.token, base_url=self._base_url, timeout=self._timeout)
        try:
            resp = client.chat_postMessage(**body)
        except SlackApiError as exc:
            raise SlackPostFailed(str(exc.response.get("error") or exc)) from exc
        except Exception as exc:  # unreachable, a timeout, an answer that is not JSON
            raise SlackPostFailed(f"{type(exc).__name__}: {exc}") from exc
        ts = resp.get("ts")
        if not isinstance(ts, str) or not ts:
            raise SlackPostFailed("chat.postMessage answered no ts")
        return ts
