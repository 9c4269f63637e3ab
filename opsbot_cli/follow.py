"""``--wait``: follow a deployment's events until it ends, or until the timeout.

Each new event is printed as one line. On a terminal a status line under them is redrawn in
place (spinner, status, seconds waited); anywhere else (CI logs, pipes) only plain lines are
printed. The exit code says how it ended (``exits.TERMINAL``, or a timeout).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from opsbot_cli import render
from opsbot_cli.client import Api
from opsbot_cli.exits import TERMINAL, Exit

POLL_SECONDS = 1.0
_SPINNER = "|/-\\"


def poll_seconds() -> float:
    """How often to poll: ``OPSBOT_POLL_SECONDS`` (a positive number), else ``POLL_SECONDS``."""
    try:
        value = float(os.environ.get("OPSBOT_POLL_SECONDS") or POLL_SECONDS)
    except ValueError:
        return POLL_SECONDS
    return value if value > 0 else POLL_SECONDS


@dataclass
class Followed:
    """How the wait ended: the last answer and the exit code."""

    deployment: dict[str, Any]
    exit: Exit
    elapsed: float


class _Display:
    """Event lines, and on a TTY a status line kept at the bottom."""

    def __init__(self, out: TextIO, live: bool) -> None:
        self.out = out
        self.live = live
        self._status_shown = False
        self._tick = 0

    def line(self, text: str) -> None:
        self._clear()
        self.out.write(text + "\n")
        self.out.flush()

    def status(self, text: str) -> None:
        if not self.live:
            return
        self._tick += 1
        self.out.write(f"\r\033[K{_SPINNER[self._tick % len(_SPINNER)]} {text}")
        self.out.flush()
        self._status_shown = True

    def _clear(self) -> None:
        if self._status_shown:
            self.out.write("\r\033[K")
            self._status_shown = False


def summary(d: dict[str, Any], elapsed: float) -> str:
    """The last line: ``web: deploy 2.0 succeeded in 3 s (web:2)``. The time is the
    deployment's own (request to end, as Slack and the dashboard show it); the time this
    command waited only when the API does not say."""
    what = "rollback" if d.get("rollback_of") else "deploy"
    head = f"{d.get('service')}: {what} {render.tag(d.get('image'))} {d.get('status')}"
    took = render.took(d) or f"{elapsed:.0f} s"
    if d.get("status") == "succeeded":
        return f"{head} in {took} ({render.revision(d.get('task_definition'))})"
    reason = d.get("failure_reason") or (d.get("events") or [{}])[-1].get("message")
    return f"{head} after {took}" + (f": {reason}" if reason else "")


def follow(
    api: Api,
    first: dict[str, Any],
    *,
    timeout: float,
    out: TextIO,
    live: bool,
    poll: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Followed:
    """Poll ``GET /deployments/{id}`` from ``first`` (the POST's answer) until it ends."""
    poll = poll_seconds() if poll is None else poll
    display = _Display(out, live)
    started = clock()
    deployment_id = str(first["id"])
    display.line(render.deployment_head(first))
    shown = 0
    current = first
    told_approval = False
    while True:
        events = current.get("events") or []
        for event in events[shown:]:
            display.line(render.event_line(event))
        shown = max(shown, len(events))
        status = str(current.get("status"))
        elapsed = clock() - started
        if status in TERMINAL:
            display.line(summary(current, elapsed))
            return Followed(current, TERMINAL[status], elapsed)
        if status == "awaiting_approval" and not told_approval:
            display.line(
                f"waiting for approval: someone who may approve in {current.get('environment')} "
                f"runs `opsbot approve {deployment_id}` (or presses Approve in Slack)"
            )
            told_approval = True
        if elapsed >= timeout:
            display.line(
                f"{deployment_id} is still {status} after {timeout:g} s; opsbot keeps going: "
                f"`opsbot status {current.get('service')} --env {current.get('environment')}` or "
                f"GET /deployments/{deployment_id}"
            )
            code = Exit.APPROVAL_TIMEOUT if status == "awaiting_approval" else Exit.WAIT_TIMEOUT
            return Followed(current, code, elapsed)
        display.status(f"{current.get('service')}: {status}, {elapsed:.0f} s")
        sleep(min(poll, max(0.0, timeout - elapsed)) or poll)
        current = api.get(f"/deployments/{deployment_id}").body
