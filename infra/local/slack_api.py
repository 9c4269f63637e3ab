"""Slack's Web API ``chat.postMessage``, as the local Slack sink answers it.

The sink stands in for ``https://slack.com/api/`` (opsbot's ``OPSBOT_SLACK_API_URL`` points at
``<sink>/api/`` locally). It answers as Slack documents the method: HTTP 200 with
``{"ok": true, "channel", "ts", "message"}`` for a post it takes, and HTTP 200 with
``{"ok": false, "error": "..."}`` for one it refuses:

- ``not_authed``: no token (neither ``Authorization: Bearer ...`` nor a ``token`` argument);
- ``invalid_auth``: a token that is not the local bot's;
- ``channel_not_found``: a channel other than the local channel (its ID or ``#name``);
- ``no_text``: neither ``text`` nor ``blocks`` nor ``attachments``;
- ``invalid_json`` / ``invalid_form_data``: a body that does not parse;
- ``unknown_method``: any other method (HTTP 404, as Slack answers it).

``ts`` values are unique and increasing (``<epoch seconds>.<6 digits>``); a reply keeps the
``thread_ts`` it was posted with, and the message echoed back says so.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

POST_MESSAGE = "chat.postMessage"
BOT_ID = "B0LOCALBOT"


@dataclass
class Answer:
    """What the sink answers, and the payload to record when Slack took the post."""

    status: int
    body: dict[str, Any]
    posted: dict[str, Any] | None = None


@dataclass
class SlackWebApi:
    """The local workspace: one bot token, one channel."""

    token: str
    channel: str
    channel_name: str = "ops"
    _last: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_ts(self) -> str:
        """A new message ts: unique and increasing, as Slack's are within a channel."""
        with self._lock:
            self._last = max(round(time.time(), 6), round(self._last + 0.000001, 6))
            return f"{self._last:.6f}"

    def answer(self, method: str, headers: Any, raw: bytes) -> Answer:
        """Slack's answer to ``POST /api/<method>`` with these headers and body."""
        if method != POST_MESSAGE:
            return Answer(404, {"ok": False, "error": "unknown_method"})
        args, error = _arguments(headers.get("Content-Type") or "", raw)
        if error:
            return Answer(200, {"ok": False, "error": error})
        auth = str(headers.get("Authorization") or "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        token = token or str(args.pop("token", "") or "")
        if not token:
            return Answer(200, {"ok": False, "error": "not_authed"})
        if token != self.token:
            return Answer(200, {"ok": False, "error": "invalid_auth"})
        if str(args.get("channel") or "") not in (self.channel, f"#{self.channel_name}"):
            return Answer(200, {"ok": False, "error": "channel_not_found"})
        if not any(args.get(k) for k in ("text", "blocks", "attachments")):
            return Answer(200, {"ok": False, "error": "no_text"})
        ts = self.next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": BOT_ID,
            "text": str(args.get("text") or ""),
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts"):
            if args.get(key):
                message[key] = args[key]
        body = {"ok": True, "channel": self.channel, "ts": ts, "message": message}
        return Answer(200, body, posted=args)


def _arguments(content_type: str, raw: bytes) -> tuple[dict[str, Any], str]:
    """The method's arguments from a JSON or form body; or the error Slack names."""
    if content_type.startswith("application/json"):
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            return {}, "invalid_json"
        return (parsed, "") if isinstance(parsed, dict) else ({}, "invalid_json")
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        return {}, "invalid_form_data"
    args: dict[str, Any] = dict(pairs)
    for key in ("blocks", "attachments"):  # form posts carry them as JSON strings
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except ValueError:
                return {}, f"invalid_{key}"
    return args, ""
