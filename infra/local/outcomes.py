"""What became of an input the local stack delivered: for the control commands to report.

Keyed by the invocation's input id (an SNS message id, an EventBridge event id, a tick's id):
how its asynchronous invocation ended (after Lambda's retries) with the handler's result, and
the Slack posts it made (``slack_relay`` tags each post with the input id). Posts are also kept
by time, so a command can find a later step (a rotation finished by an ACM event) by what it
names. Read through the control endpoint: ``/_control/outcome``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from typing import Any

KEEP = 5000  # inputs and posts remembered (a fleet storm publishes over a thousand)


def _duplicate(result: Any) -> bool:
    """An outcome that only found its input already handled (a repeated delivery)."""
    records = result.get("records") if isinstance(result, dict) else None
    if not isinstance(records, list) or not records:
        return False
    return all(isinstance(r, dict) and r.get("duplicate") for r in records)


class Outcomes:
    """The recent inputs' outcomes and posts."""

    def __init__(self, keep: int = KEEP) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        self._ended: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._posts: deque[dict[str, Any]] = deque(maxlen=keep)

    def ended(self, function: str, input_id: str, outcome: Any) -> None:
        """An asynchronous invocation for ``input_id`` is over (``AsyncOutcome``)."""
        if not input_id:
            return
        with self._lock:
            earlier = self._ended.get(input_id)
            if (
                earlier is not None
                and _duplicate(outcome.result)
                and not _duplicate(earlier["result"])
            ):
                return  # a second delivery (faults --duplicates): the first one's outcome says
            self._ended[input_id] = {
                "function": function,
                "ok": bool(outcome.ok),
                "attempts": int(outcome.attempts),
                "result": outcome.result,
                "reason": str(outcome.reason or ""),
            }
            while len(self._ended) > self._keep:
                self._ended.popitem(last=False)

    def posted(self, record: dict[str, Any], input_id: str) -> None:
        """The sink recorded a Slack post made by the invocation for ``input_id``."""
        with self._lock:
            self._posts.append({"epoch": time.time(), "input": input_id, **record})

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        """``{"inputs": [ids]}``: each one's end (or null) and posts; ``{"since": epoch,
        "contains": text}``: the posts since then whose payload names ``text``."""
        inputs = [str(i) for i in body.get("inputs") or []]
        since = float(body.get("since") or 0)
        contains = str(body.get("contains") or "")
        with self._lock:
            ended = {i: self._ended.get(i) for i in inputs}
            posts = [
                p
                for p in self._posts
                if (p["input"] in inputs)
                or (contains and p["epoch"] >= since and contains in str(p["payload"]))
            ]
        done = sum(1 for e in ended.values() if e is not None)
        return {
            "ended": ended,
            "posts": posts,
            "message": f"{done} of {len(inputs)} inputs handled, {len(posts)} posts",
        }
