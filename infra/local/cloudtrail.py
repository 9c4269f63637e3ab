"""CloudTrail for the embedded AWS: every write call that reaches it, from anyone, recorded as a
management event and answered by ``LookupEvents``.

moto records nothing for CloudTrail and has no LookupEvents. ``Trail.install`` wraps moto's
``BaseResponse.call_action`` (the one place every service's call is answered, in the moto
server's process): after a call succeeds, if it is a management write (``trail_events.recorded``)
it is kept as the event CloudTrail would record (``trail_events.build_event``). The calls come in
over HTTP, so opsbot's functions, the control commands and anyone on the AWS port with boto3 or
the aws CLI are all seen alike. Faults are injected before a call leaves opsbot's client, so a
faulted call never arrives and is not recorded; the recorder itself makes no AWS call.

``LookupEvents`` (added to moto's CloudTrail responses) answers as CloudTrail does: per account
and region, newest first, one ``LookupAttributes`` filter (EventId, EventName, ReadOnly,
Username, ResourceType, ResourceName, EventSource, AccessKeyId), ``StartTime``/``EndTime``,
``MaxResults`` (1..50, default 50) and an opaque ``NextToken``. Each account and region keeps its
newest ``MAX_EVENTS`` events (CloudTrail keeps 90 days).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra.local import trail_events, trail_identity

log = logging.getLogger("opsbot.local.cloudtrail")

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
MAX_EVENTS = 10_000  # per account and region (memory: ~1.5 KB an event)
MAX_RESULTS = 50
ATTRIBUTE_KEYS = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)


@dataclass(frozen=True)
class _Kept:
    seq: int
    event: dict[str, Any]


class LookupError_(Exception):
    """A LookupEvents request CloudTrail refuses: its error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Trail:
    """The recorded events, per (account, region), oldest first."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._events: dict[tuple[str, str], deque[_Kept]] = {}
        self._seq = 0
        self._original: Any = None

    # -- recording ------------------------------------------------------------------------

    def record(self, account: str, region: str, event: dict[str, Any]) -> None:
        """Keep one event (``trail_events.build_event``'s shape)."""
        with self._lock:
            self._seq += 1
            kept = self._events.setdefault((account, region), deque(maxlen=MAX_EVENTS))
            kept.append(_Kept(self._seq, event))

    def observe(self, response: Any, status: int, body: Any = None) -> None:
        """Record the call ``response`` (a moto ``BaseResponse``) answered, if it is one."""
        if status >= 300:
            return
        service = response.boto3_service_name
        operation = response._get_action()
        if not trail_events.recorded(service, operation):
            return
        try:
            params = trail_events.request_parameters(response)
        except Exception:
            params = {}
        headers = response.headers
        request = response.normalized_request
        event = trail_events.build_event(
            service=service,
            operation=operation,
            access_key=_access_key(headers) or response.access_key,
            account=response.current_account,
            region=response.region,
            params=params,
            source_ip=getattr(request, "remote_addr", "") or "",
            user_agent=str(headers.get("User-Agent") or ""),
            answer=trail_events.response_elements(body),
            now=self._clock(),
        )
        self.record(response.current_account, response.region, event)

    def install(self) -> None:
        """Wrap moto's ``call_action`` and add ``LookupEvents`` to its CloudTrail."""
        from moto.cloudtrail.responses import CloudTrailResponse
        from moto.core.responses import BaseResponse

        if self._original is not None:
            return
        original = BaseResponse.call_action
        trail = self

        def call_action(response: Any) -> Any:
            status, headers, body = original(response)
            try:
                trail.observe(response, int(status), body)
            except Exception:  # the recorder's bug must never fail the call it watches
                log.exception("could not record a CloudTrail event")
            return status, headers, body

        def lookup_events(response: Any) -> str:
            from moto.core.exceptions import JsonRESTError

            body = json.loads(response.body or "{}")
            try:
                answer = trail.lookup(response.current_account, response.region, body)
            except LookupError_ as exc:
                raise JsonRESTError(exc.code, exc.message) from None
            return json.dumps(answer, default=_epoch)

        self._original = original
        trail_identity.install()
        BaseResponse.call_action = call_action  # type: ignore[method-assign,assignment]
        CloudTrailResponse.lookup_events = lookup_events  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Restore moto's ``call_action``."""
        from moto.core.responses import BaseResponse

        if self._original is not None:
            BaseResponse.call_action = self._original  # type: ignore[method-assign]
            self._original = None
            trail_identity.uninstall()

    # -- LookupEvents ---------------------------------------------------------------------

    def lookup(self, account: str, region: str, request: dict[str, Any]) -> dict[str, Any]:
        """LookupEvents' answer to ``request`` (its JSON body) in one account and region."""
        match = _matcher(request.get("LookupAttributes") or [])
        start = _time(request.get("StartTime"), "StartTime")
        end = _time(request.get("EndTime"), "EndTime")
        if start and end and start > end:
            raise LookupError_(
                "InvalidTimeRangeException", "Start time must be less than or equal to end time."
            )
        most = request.get("MaxResults") or MAX_RESULTS
        if not isinstance(most, int) or not 1 <= most <= MAX_RESULTS:
            raise LookupError_(
                "InvalidMaxResultsException", f"MaxResults must be between 1 and {MAX_RESULTS}."
            )
        before = _token(request.get("NextToken"))
        with self._lock:
            kept = list(self._events.get((account, region), ()))
        out: list[_Kept] = []
        more = False
        for item in reversed(kept):  # newest first
            if before is not None and item.seq >= before:
                continue
            when = item.event["EventTime"]
            if (start and when < start) or (end and when > end) or not match(item.event):
                continue
            if len(out) == most:
                more = True
                break
            out.append(item)
        answer: dict[str, Any] = {"Events": [i.event for i in out]}
        if more:
            answer["NextToken"] = base64.urlsafe_b64encode(
                json.dumps({"before": out[-1].seq}).encode()
            ).decode()
        return answer


def _access_key(headers: Any) -> str:
    """The access key a SigV4 request was signed with (moto only reads 20-character keys)."""
    match = _CREDENTIAL.search(str(headers.get("Authorization") or ""))
    return match.group(1) if match else ""


def _matcher(attributes: list[dict[str, Any]]) -> Callable[[dict[str, Any]], bool]:
    if len(attributes) > 1:
        raise LookupError_(
            "InvalidLookupAttributesException",
            "You cannot specify more than one lookup attribute.",
        )
    if not attributes:
        return lambda _event: True
    key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
    if key not in ATTRIBUTE_KEYS or not isinstance(value, str) or not value:
        raise LookupError_(
            "InvalidLookupAttributesException",
            f"AttributeKey must be one of {', '.join(ATTRIBUTE_KEYS)} with a value.",
        )
    if key in ("ResourceType", "ResourceName"):
        field = key
        return lambda event: any(r.get(field) == value for r in event["Resources"])
    return lambda event: str(event.get(key)) == value


def _time(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise LookupError_("InvalidTimeRangeException", f"{name} is not a time.") from None


def _token(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(json.loads(base64.urlsafe_b64decode(str(value).encode()))["before"])
    except (ValueError, KeyError, TypeError):
        raise LookupError_("InvalidNextTokenException", "Invalid NextToken.") from None


def _epoch(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(type(value).__name__)
