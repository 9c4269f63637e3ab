"""Slack's rules for what opsbot sends: mrkdwn escaping and where posts may go.

Every piece of text that reaches Slack goes through ``escape`` once, where the payload is built
(``aws.notifier.Message`` and the slash-command replies): a caller's ``<!channel>`` or
``<http://x|y>`` then shows as typed instead of pinging a channel or disguising a link.
"""

from __future__ import annotations

from urllib.parse import urlsplit

HOOKS_HOST = "hooks.slack.com"
HOOKS_PREFIX = f"https://{HOOKS_HOST}/"
LOCAL_STAGE = "local"

# Every Slack control sequence (a mention, a link, <!channel>) starts with "<", so escaping "<"
# and "&" is enough to neutralise them; ">" is left as typed, so opsbot's own "2 -> 3" stays
# readable in the payload (Slack shows "&gt;" as ">" too, but people and scripts read the JSON).
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;"})


def escape(text: str) -> str:
    """Text as Slack mrkdwn shows it literally (``&`` and ``<`` escaped)."""
    return text.translate(_ESCAPES)


def is_slack_hook(url: str) -> bool:
    """Whether ``url`` is on Slack's hooks host over HTTPS (no user info, no other port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        url.startswith(HOOKS_PREFIX)
        and parts.scheme == "https"
        and parts.hostname == HOOKS_HOST
        and not parts.username
        and port in (None, 443)
    )


def reply_url_allowed(url: str, stage: str) -> bool:
    """Whether opsbot may post to ``url`` in ``stage``: Slack's hooks host once deployed; the
    local stack's sink (any URL) only in the local stage."""
    return stage == LOCAL_STAGE or is_slack_hook(url)
