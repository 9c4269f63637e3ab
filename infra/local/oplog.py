"""The ``make run`` terminal as an operator's log: one line per event, nothing twice.

* opsbot's own events are what it tells people: each message posted to the Slack webhook
  becomes one line (``web: deploy 2.0 succeeded in 3.1 s``, an alarm reaction, a rotation step,
  a budget alert). Replies to a ``response_url`` are not repeated (the webhook post is the event),
  but a message replaced in place is (an approval decided by button).
* Errors and warnings of opsbot's functions (their Powertools logger) become one line each, with
  the reason from their structured keys and the exception's type and message (no traceback).
* The local stack's own lines (``opsbot.local``) at INFO and above; other libraries' only from
  ERROR (no access logs, no urllib3 "Connection pool is full").

``OPSBOT_LOCAL_VERBOSE=1`` shows everything: Powertools' JSON lines (once: the plain handler
skips them), every library's warnings, tracebacks.
"""

from __future__ import annotations

import html
import logging
import os
import re
import sys
import time
from typing import Any

VERBOSE_ENV = "OPSBOT_LOCAL_VERBOSE"
POWERTOOLS_LOGGER = "opsbot"  # Logger(service="opsbot") logs through logging.getLogger("opsbot")
LOCAL_LOGGER = "opsbot.local"
_FAULTS_LOGGER = "opsbot.local.faults"
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_SHOWN_KEYS = 4  # structured keys shown on an error line
_MAX_LINE = 400
#: the sink's records of posts to the channel: the incoming webhook's and the bot's
CHANNEL_POSTS = ("webhook", "chat.postMessage")
_log = logging.getLogger("opsbot.local.events")
_configured: dict[str, bool] = {}  # set by configure(): only the `make run` process is quieted


def verbose() -> bool:
    """Whether ``OPSBOT_LOCAL_VERBOSE`` asks for everything."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _one_line(text: str, limit: int = _MAX_LINE) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class OperatorFormatter(logging.Formatter):
    """``HH:MM:SS [warning: |error: ]message (key=value, ...)[: ExcType: message]``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        text = record.getMessage()
        keys = [
            f"{k}={_one_line(v, 120)}"
            for k, v in record.__dict__.items()
            if k not in _STANDARD and not k.startswith("_") and v not in (None, "", {}, [])
        ]
        if keys:
            text += f" ({', '.join(keys[:_SHOWN_KEYS])})"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f": {type(exc).__name__}: {exc}"
        return f"{stamp} {level}{_one_line(text)}"


class _OperatorFilter(logging.Filter):
    """What the plain handler shows (see the module doc)."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == POWERTOOLS_LOGGER:  # opsbot's functions
            return not self.verbose and record.levelno >= logging.WARNING
        if self.verbose:
            return True
        if record.name == _FAULTS_LOGGER:  # the settings; each injection only when verbose
            return record.levelno >= logging.WARNING
        if record.name == LOCAL_LOGGER or record.name.startswith(LOCAL_LOGGER + "."):
            return True
        if record.name.startswith(POWERTOOLS_LOGGER + "."):  # opsbot's plain loggers
            return record.levelno >= logging.WARNING
        return record.levelno >= logging.ERROR


def _powertools_filter(record: logging.LogRecord) -> bool:
    """Powertools' own JSON handler: only its own records, and only when verbose."""
    return record.name == POWERTOOLS_LOGGER and verbose()


def quiet_powertools(logger: Any) -> None:
    """Put the filter on a Powertools ``Logger``'s handlers (called as each is made), and take
    Powertools' ``SuppressFilter`` off the terminal's handler: it drops every record whose logger
    name contains the service's (``opsbot.local`` too); ``_OperatorFilter`` dedupes instead.
    Does nothing unless ``configure`` set up this process's terminal."""
    if not _configured:
        return
    target = getattr(logger, "_logger", logger)
    own = getattr(target, "powertools_handler", None)
    for handler in list(target.handlers):
        if own is not None and handler is not own:
            # Chalice(app_name="opsbot") logs through the same logger with its own plain
            # handler and propagate off: each line twice (plain and JSON). The terminal's
            # handler shows it once, through the root.
            target.removeHandler(handler)
        elif _powertools_filter not in handler.filters:
            handler.addFilter(_powertools_filter)
    target.propagate = True
    for handler in logging.getLogger().handlers:
        if any(isinstance(f, _OperatorFilter) for f in handler.filters):
            for other in [f for f in handler.filters if type(f).__name__ == "SuppressFilter"]:
                handler.removeFilter(other)


def configure() -> bool:
    """Set up the terminal's logging for ``make run``; whether it is verbose."""
    loud = verbose()
    _configured["verbose"] = loud
    handler = logging.StreamHandler(sys.stdout)
    if loud:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    else:
        handler.setFormatter(OperatorFormatter())
    handler.addFilter(_OperatorFilter(loud))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The stack's lines must not also reach Powertools' handler on its parent, "opsbot".
    local = logging.getLogger(LOCAL_LOGGER)
    local.propagate = False
    local.addHandler(handler)
    # Its own level: it would inherit the app logger's ("opsbot"), which Chalice sets to ERROR
    # when the app is imported (and Powertools back to INFO at its first log line).
    local.setLevel(logging.INFO)
    if not loud:
        for noisy in ("werkzeug", "botocore", "urllib3", "moto"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    return loud


# -- Slack posts as operator lines --------------------------------------------------------------

_EMOJI = re.compile(r"^:[a-z0-9_+-]+:\s*")
_TITLE = re.compile(r"^\*(?P<title>[^\n]*)\*\n?(?P<body>.*)$", re.S)
_CHANGE = re.compile(r"\(([^()]*->[^()]*)\)")


def parse_post(payload: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """A Block Kit message's title (its header, or an older ``*title*`` section), body (the
    first text section), and facts (``*Key*\\nvalue`` fields, and the context's ``Deployment``
    id)."""
    title, body = "", ""
    facts: dict[str, str] = {}
    for block in payload.get("blocks") or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        text = str((block.get("text") or {}).get("text") or "")
        if kind == "header" and text and not title:
            title = _EMOJI.sub("", text)
        elif kind == "section" and text and not title:
            match = _TITLE.match(_EMOJI.sub("", text))
            title, body = (match["title"], match["body"]) if match else ("", text)
        elif kind == "section" and text and not body:
            body = text
        for element in block.get("elements") or [] if kind == "context" else []:
            label, _, value = str(element.get("text") or "").partition(" ")
            if label == "Deployment" and value:
                facts.setdefault(label, value.split(" ", 1)[0])
        for field in block.get("fields") or []:
            key, _, value = str(field.get("text", "")).partition("\n")
            facts[html.unescape(key.strip("*"))] = html.unescape(value)
    if not title:
        title = str(payload.get("text") or "")
    return html.unescape(title.strip()), html.unescape(body.strip()), facts


def first_sentence(text: str, *, at_colon: bool = False) -> str:
    """Up to the first ``. `` or ``; `` outside parentheses (or ``: `` too, ``at_colon``)."""
    text = " ".join(text.split())
    ends = (". ", "; ", ": ") if at_colon else (". ", "; ")
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth <= 0 and text[i : i + 2] in ends:
            return text[:i]
    return text.rstrip(".;")


def image_tag(image: str) -> str:
    """``2.0`` from ``...amazonaws.com/web:2.0`` (a digest shortened)."""
    last = image.rsplit("/", 1)[-1]
    if "@sha256:" in last:
        return "sha256:" + last.split("@sha256:", 1)[1][:12]
    return last.split(":", 1)[1] if ":" in last else last


class OperatorLog:
    """Turns the Slack posts opsbot makes into operator lines."""

    def __init__(self, emit: Any = None) -> None:
        self._emit = emit or _log.info

    def post(self, record: dict[str, Any]) -> None:
        """One line for a webhook post (``record`` as the sink writes it)."""
        payload = record.get("payload")
        if not isinstance(payload, dict):
            return
        # a reply to a response_url repeats an event, except a message replaced in place (a
        # decision by button: the approval message now says who decided)
        if record.get("to") not in CHANNEL_POSTS and not payload.get("replace_original"):
            return
        line = self.line(record["payload"])
        if line:
            self._emit(line)

    def line(self, payload: dict[str, Any]) -> str:
        """The operator line for one message."""
        title, body, facts = parse_post(payload)
        kind, _, rest = title.partition(" ")
        if kind in ("Deploy", "Rollback") and facts.get("Deployment"):
            return self._deploy(kind.lower(), rest, body, facts)
        said = first_sentence(body, at_colon=True)
        if said:
            return _one_line(f"{title}: {said}")
        summary = html.unescape(str(payload.get("text") or ""))  # the one-line fallback
        return _one_line(summary if summary.startswith(title) else title)

    def _deploy(self, kind: str, rest: str, body: str, facts: dict[str, str]) -> str:
        what, _, label = rest.rpartition(": ")
        what = what.lower() or rest.lower()
        env, _, service = (facts.get("Service") or label).partition("/")
        name = service if env == "demo" else f"{env}/{service}"
        image = facts.get("Image", "").rsplit("-> ", 1)[-1]  # ``web:1.0 -> web:2.0``
        head = f"{name}: {kind} {image_tag(image)} {what}"
        if what == "started":
            revisions = facts.get("Task definition", "")
            change = [revisions] if "->" in revisions else _CHANGE.findall(body)
            return head + (f" ({change[-1]})" if change else "")
        took = f" in {facts['Took']}" if facts.get("Took") else ""  # the deployment's own
        if what == "succeeded":
            return head + took
        said = facts.get("Failure reason") or first_sentence(body)
        said = said[len(what) + 2 :] if said.lower().startswith(f"{what}: ") else said
        return _one_line(head + took + (f": {said}" if said else ""))
