"""Telling people: the notifications topic (email) and Slack (the webhook, or the bot).

A notification that cannot be delivered is logged and counted; it never undoes or fails
the action it reports on. Message text is plain text: ``slack_payload`` escapes it for mrkdwn,
so nothing a caller typed (a reason, an image) can ping a channel or disguise a link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.core.slack import LOCAL_STAGE, escape, reply_url_allowed

if TYPE_CHECKING:
    from chalicelib.aws.slack_bot import SlackBot

log = logging.getLogger("opsbot.notifications")

LEVEL_ICON = {
    "info": ":information_source:",
    "success": ":white_check_mark:",
    "warning": ":warning:",
    "failure": ":x:",
}


MAX_HEADER = 150  # Block Kit: a header's text
MAX_SECTION = 3000  # a section's text
MAX_FIELD = 2000  # one field of a section
MAX_FIELDS = 10  # fields per section
MAX_CONTEXT = 10  # elements per context block
MAX_FALLBACK = 150  # the one-line `text` Slack shows in notifications


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str) -> str:
    """``text`` on one line (newlines and runs of spaces folded)."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Message:
    """One notification, as data: Slack blocks and the email are both rendered from it.

    ``title`` is the header (what happened, where); ``text`` only what the title and the facts
    do not say (why, what next); ``facts`` the numbers and names, each once; ``context`` the
    small print (ids, ARNs); ``summary`` the one-line notification text (by default the title
    with the first facts).
    """

    title: str
    text: str = ""
    level: str = "info"
    facts: tuple[tuple[str, str], ...] = ()
    buttons: tuple[tuple[str, str, str], ...] = ()  # (label, action_id, value)
    context: tuple[str, ...] = ()
    summary: str = ""

    def fallback(self) -> str:
        """The plain one-line text of a notification (Slack's ``text``, the email's subject)."""
        if self.summary:
            return clip(one_line(self.summary), MAX_FALLBACK)
        shown = ", ".join(v for _, v in self.facts[:2])
        line = f"{self.title} ({shown})" if shown else self.title
        return clip(one_line(line), MAX_FALLBACK)

    def plain(self) -> str:
        """The email body: the same facts as the Slack message, as plain text."""
        lines = [self.title]
        if self.text:
            lines += ["", self.text]
        if self.facts:
            lines.append("")
            lines.extend(f"{k}: {v}" for k, v in self.facts)
        if self.context:
            lines.append("")
            lines.extend(self.context)
        return "\n".join(lines)

    def blocks(self) -> list[dict[str, Any]]:
        """Block Kit blocks: header, text, facts (ten to a section), context, buttons."""
        icon = LEVEL_ICON.get(self.level, "")
        header = f"{icon} {one_line(self.title)}".strip()
        blocks: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": clip(escape(header), MAX_HEADER),
                    "emoji": True,
                },
            }
        ]
        if self.text:
            blocks.append(_section(escape(self.text)))
        for start in range(0, len(self.facts), MAX_FIELDS):
            chunk = self.facts[start : start + MAX_FIELDS]
            blocks.append(
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": clip(f"*{escape(k)}*\n{escape(v)}", MAX_FIELD)}
                        for k, v in chunk
                    ],
                }
            )
        if self.context:
            blocks.append(
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": clip(escape(line), MAX_FIELD)}
                        for line in self.context[:MAX_CONTEXT]
                    ],
                }
            )
        if self.buttons:
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": label},
                            "action_id": action_id,
                            "value": value,
                        }
                        for label, action_id, value in self.buttons
                    ],
                }
            )
        return blocks

    def slack_payload(self) -> dict[str, Any]:
        """Block Kit payload for an incoming webhook or response_url."""
        return {"text": escape(self.fallback()), "blocks": self.blocks()}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}


@dataclass(frozen=True)
class Delivery:
    """What one ``send`` did per channel: True delivered, False failed, None not attempted
    (the channel is not configured, or was skipped)."""

    sns: bool | None = None
    slack: bool | None = None
    ts: str | None = None  # the Slack message's ts, when the bot posted it (a thread's parent)

    @property
    def failed(self) -> tuple[str, ...]:
        """The channels that failed."""
        return tuple(name for name in ("sns", "slack") if getattr(self, name) is False)

    @property
    def delivered(self) -> tuple[str, ...]:
        """The channels that took the message."""
        return tuple(name for name in ("sns", "slack") if getattr(self, name) is True)


class Notifier:
    """Publishes to SNS and posts to Slack (a reply URL only to Slack's hooks host, unless the
    stage is ``local``)."""

    def __init__(
        self,
        *,
        sns: Any,
        topic_arn: str,
        slack_url: Callable[[], str | None],
        stage: str = LOCAL_STAGE,
        bot: SlackBot | None = None,
    ) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._slack_url = slack_url
        self._stage = stage
        self._bot = bot

    def send(
        self,
        message: Message,
        *,
        reply_url: str | None = None,
        skip: frozenset[str] = frozenset(),
        threaded: bool = False,
        thread_ts: str | None = None,
    ) -> Delivery:
        """Deliver to every channel (and to a Slack response_url) but those in ``skip``; log
        what failed. What each channel did comes back (callers that must not lose a message
        retry the failed ones).

        ``threaded``: post with the Slack bot when one is configured, so the answer carries
        the message's ``ts`` (a thread to reply in); ``thread_ts``: post as a reply in that
        thread. Without a bot, or when Slack refuses the bot's post, the webhook takes the
        message (a message of its own in the channel)."""
        sns: bool | None = None
        if self._topic_arn and "sns" not in skip:
            try:
                self._sns.publish(
                    TopicArn=self._topic_arn,
                    Subject=f"[opsbot] {message.title}"[:100],
                    Message=message.plain(),
                    MessageAttributes={
                        "level": {"DataType": "String", "StringValue": message.level}
                    },
                )
                sns = True
            except Exception:
                sns = False
                log.exception(
                    "could not publish notification to SNS", extra={"title": message.title}
                )
        slack: bool | None = None
        ts: str | None = None
        if "slack" not in skip:
            if threaded or thread_ts:
                ts = self._post_as_bot(message.slack_payload(), thread_ts)
            slack = True if ts else self._post(message.slack_payload())
        if reply_url:
            payload = {"response_type": "in_channel", "replace_original": False}
            self.post_slack({**payload, **message.slack_payload()}, url=reply_url)
        return Delivery(sns=sns, slack=slack, ts=ts)

    def _post_as_bot(self, payload: dict[str, Any], thread_ts: str | None) -> str | None:
        """``chat.postMessage`` with the bot: the message's ts, or None (no bot, or it failed:
        logged, and the caller falls back to the webhook)."""
        if self._bot is None:
            return None
        from chalicelib.aws.slack_bot import SlackPostFailed

        try:
            return self._bot.post(payload, thread_ts=thread_ts)
        except SlackPostFailed as exc:
            log.error(
                "Slack refused the bot's post; posting with the webhook instead",
                extra={"error": str(exc)[:300], "thread_ts": thread_ts},
            )
        except Exception:  # SSM unreadable (the token), anything else: never lose the message
            log.exception("could not post as the Slack bot; posting with the webhook instead")
        return None

    def _post(self, payload: dict[str, Any]) -> bool | None:
        """POST to the Slack webhook: True taken, False failed, None when none is configured."""
        try:
            target = self._slack_url()
        except Exception:
            log.exception("could not read the Slack webhook URL")
            return False
        return self._deliver(target, payload) if target else None

    def post_slack(self, payload: dict[str, Any], url: str | None = None) -> bool:
        """POST a payload to a response_url (checked: Slack's hooks host once deployed), or to
        the configured webhook when no URL is given; True when Slack took it."""
        if url is None:
            return bool(self._post(payload))
        if not reply_url_allowed(url, self._stage):
            log.error("refused to post to a URL that is not Slack's", extra={"url": url[:200]})
            return False
        return self._deliver(url, payload)

    @staticmethod
    def _deliver(target: str, payload: dict[str, Any]) -> bool:
        from slack_sdk.webhook import WebhookClient

        try:
            resp = WebhookClient(target, timeout=5).send_dict(payload)
        except Exception:
            log.exception("could not post to Slack")
            return False
        if resp.status_code >= 300:
            log.error(
                "Slack refused the message", extra={"status": resp.status_code, "body": resp.body}
            )
            return False
        return True
