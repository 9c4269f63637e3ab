"""The Slack sink and the local control endpoint, on one loopback HTTP server.

Slack sink: every POST (but ``/_control/...``) is a message for Slack: the webhook URL points
at ``/slack/webhook``, and ``slack_relay`` sends posts to any ``response_url`` to
``/slack/relay?to=URL``. Each is appended as one JSON line to ``slack.jsonl`` (which the stack
starts empty) and answered ``ok`` as Slack answers::

    {"at": "2026-11-29T17:23:43.402Z", "to": "webhook" | "response_url",
     "url": "<where opsbot posted it>", "payload": {<exactly what was posted>}}

Slack's Web API: ``POST /api/chat.postMessage`` (the bot, ``slack_api``) is answered as Slack
answers it, and a message it takes is appended as ``"to": "chat.postMessage"`` with the exact
payload (``channel``, ``text``, ``blocks``, a reply's ``thread_ts``) and the ``channel`` and
``ts`` it was given.

``on_post`` (if set) is told of each record and of the invocation that posted it (the input id
``slack_relay`` puts in ``X-Opsbot-Input``; never written to the file).

Control: ``POST /_control/<command>`` with a JSON body runs a local-stack command that needs the
running process (``rollout-fail``, ``spend``); ``python -m infra.local`` calls these.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infra.local.settings import STOP_POLL_SECONDS
from infra.local.slack_api import Answer, SlackWebApi

ControlHandler = Callable[[dict[str, Any]], dict[str, Any]]
PostListener = Callable[[dict[str, Any], str], None]
INPUT_HEADER = "X-Opsbot-Input"


class SinkServer:
    """Loopback HTTP server for the Slack sink and control commands."""

    def __init__(
        self, *, slack_log: Path, port: int = 0, web_api: SlackWebApi | None = None
    ) -> None:
        self.slack_log = slack_log
        self.web_api = web_api
        self.controls: dict[str, ControlHandler] = {}
        self.on_post: PostListener | None = None
        self._write_lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _web_api(self, raw: bytes) -> None:
                method = urlsplit(self.path).path.removeprefix("/api/")
                if sink.web_api is None:
                    answer = Answer(404, {"ok": False, "error": "unknown_method"})
                else:
                    answer = sink.web_api.answer(method, self.headers, raw)
                if answer.posted is not None:
                    sink.record_bot_post(
                        answer.posted,
                        method=method,
                        answer=answer.body,
                        posted_by=self.headers.get(INPUT_HEADER, ""),
                    )
                body = json.dumps(answer.body).encode()
                self._reply(answer.status, body, "application/json; charset=utf-8")

            def do_GET(self) -> None:
                if self.path == "/_control/ping":
                    self._reply(200, b"ok")
                else:
                    self._reply(404, b"not found")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.startswith("/api/"):  # Slack's Web API (chat.postMessage)
                    self._web_api(raw)
                    return
                if not self.path.startswith("/_control/"):  # anything else is Slack
                    try:
                        payload = json.loads(raw)
                    except ValueError:
                        self._reply(400, b"invalid_payload")
                        return
                    sink.record_slack(
                        payload,
                        to=sink.destination(self.path),
                        posted_by=self.headers.get(INPUT_HEADER, ""),
                    )
                    self._reply(200, b"ok")
                    return
                if self.path.startswith("/_control/"):
                    name = self.path.removeprefix("/_control/")
                    handler = sink.controls.get(name)
                    if handler is None:
                        self._reply(
                            404,
                            json.dumps({"error": f"unknown command {name}"}).encode(),
                            "application/json",
                        )
                        return
                    try:
                        result = handler(json.loads(raw or b"{}"))
                    except Exception as exc:
                        # a KeyError's str() is its argument's repr: say the message itself
                        said = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
                        self._reply(
                            400, json.dumps({"error": str(said)}).encode(), "application/json"
                        )
                        return
                    self._reply(200, json.dumps(result).encode(), "application/json")
                    return
                self._reply(404, b"not found")

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": STOP_POLL_SECONDS},
            name="sink",
            daemon=True,
        )

    @property
    def url(self) -> str:
        """Base URL of the server."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def destination(self, path: str) -> str:
        """Where opsbot posted what came to ``path``: the response_url relayed, or the webhook."""
        parts = urlsplit(path)
        relayed_to = parse_qs(parts.query).get("to")
        if parts.path == "/slack/relay" and relayed_to:
            return relayed_to[0]
        return f"{self.url}{parts.path}"

    def record_slack(self, payload: Any, *, to: str = "", posted_by: str = "") -> dict[str, Any]:
        """Append one posted payload to the Slack log, with when and where it was posted."""
        where = to or f"{self.url}/slack/webhook"
        record = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "to": "webhook" if where.startswith(self.url) else "response_url",
            "url": where,
            "payload": payload,
        }
        self._append(record, posted_by)
        return record

    def record_bot_post(
        self, payload: dict[str, Any], *, method: str, answer: dict[str, Any], posted_by: str = ""
    ) -> dict[str, Any]:
        """Append one message the bot posted (``chat.postMessage``): the exact payload, and
        the channel and ts Slack answered (a reply's payload keeps its ``thread_ts``)."""
        record = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "to": method,
            "url": f"{self.url}/api/{method}",
            "payload": payload,
            "channel": answer.get("channel"),
            "ts": answer.get("ts"),
        }
        self._append(record, posted_by)
        return record

    def _append(self, record: dict[str, Any], posted_by: str) -> None:
        line = json.dumps(record, separators=(",", ":"))
        with self._write_lock, self.slack_log.open("a") as fh:
            fh.write(line + "\n")
        if self.on_post is not None:
            try:
                self.on_post(record, posted_by)
            except Exception:  # a listener's bug must not fail Slack's answer
                logging.getLogger("opsbot.local").exception("Slack post listener failed")

    def start(self) -> None:
        """Start the Slack log afresh (the embedded AWS starts empty too) and serve."""
        self.slack_log.parent.mkdir(parents=True, exist_ok=True)
        self.slack_log.write_text("")
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
