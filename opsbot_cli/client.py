"""The REST client: JSON over ``urllib``, a bearer token, retries with backoff.

A request is retried, after ``backoff`` seconds doubling from ``BACKOFF_SECONDS`` up to
``MAX_BACKOFF_SECONDS`` (with jitter), when it got no answer (connection refused or reset, a
timeout), a 5xx, a 429, or a 409 saying a request with the same ``Idempotency-Key`` is still
being served (that one for as long as its ``retry_after_seconds`` says, up to
``IN_PROGRESS_WAIT_SECONDS``: a first attempt that died holds its key that long). A POST
carries one ``Idempotency-Key`` across all its own retries, so a retry after a lost answer never
deploys or scales twice.
"""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opsbot_cli import __version__

ATTEMPTS = 5
BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
REQUEST_TIMEOUT_SECONDS = 30.0
# A 409 saying the same Idempotency-Key is still being served names when to come back
# (``retry_after_seconds``: by then the first attempt answered, or it died and a retry runs it).
# It is waited for, beyond ``ATTEMPTS``, up to this long in all: the server's hold is 30 s.
IN_PROGRESS_WAIT_SECONDS = 45.0
IDEMPOTENCY_HEADER = "Idempotency-Key"


class ApiError(Exception):
    """opsbot answered with an error (4xx): its status, code, message and whole body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        self.status = status
        self.body = body
        self.code = str(error.get("code") or "error")
        self.message = str(error.get("message") or body.get("message") or f"HTTP {status}")
        super().__init__(f"{self.message} (HTTP {status} {self.code})")


class Unreachable(Exception):
    """No usable answer after every retry: the API is down, unreachable, or answers 5xx."""

    def __init__(self, message: str, body: dict[str, Any] | None = None) -> None:
        self.body = body or {}
        super().__init__(message)


@dataclass
class Answer:
    """A successful answer: its status and JSON body."""

    status: int
    body: dict[str, Any]


def new_idempotency_key() -> str:
    """A fresh key for one logical POST."""
    return f"opsbot-cli-{uuid.uuid4()}"


def _in_progress(status: int, body: dict[str, Any]) -> bool:
    """A 409: a request with the same Idempotency-Key is still being served."""
    fields = (body.get("error") or {}).get("fields") if isinstance(body, dict) else None
    return status == 409 and isinstance(fields, dict) and IDEMPOTENCY_HEADER in fields


def _retryable(status: int, body: dict[str, Any]) -> bool:
    return status >= 500 or status == 429 or _in_progress(status, body)


def _retry_after(body: dict[str, Any]) -> float:
    """The seconds an in-progress 409 says to wait (0 when it does not say)."""
    value = (body.get("error") or {}).get("retry_after_seconds")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return max(0.0, float(value))


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"message": raw.decode(errors="replace")[:200]}
    return value if isinstance(value, dict) else {"value": value}


class Api:
    """opsbot's REST API at ``url``, as the holder of ``token``."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF_SECONDS,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.timeout = timeout
        self._sleep = sleep
        self._on_retry = on_retry

    def get(self, path: str, query: Mapping[str, Any] | None = None) -> Answer:
        """GET ``path`` (with the query parameters that are set)."""
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            path = f"{path}?{urllib.parse.urlencode(params)}"
        return self.request("GET", path)

    def post(
        self, path: str, body: Mapping[str, Any] | None = None, *, key: str | None = None
    ) -> Answer:
        """POST ``body`` as JSON with an ``Idempotency-Key`` (``key``, else a fresh one)."""
        return self.request("POST", path, dict(body or {}), key=key or new_idempotency_key())

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, key: str | None = None
    ) -> Answer:
        """One logical request, retried as the module doc says."""
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "User-Agent": f"opsbot-cli/{__version__}",
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers[IDEMPOTENCY_HEADER] = key
        url = f"{self.url}{path}"
        last = ""
        last_body: dict[str, Any] = {}
        attempt, held = 0, 0.0  # held: seconds waited on in-progress 409s
        while True:
            attempt += 1
            retry_after: float | None = None  # set by an in-progress 409
            request = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    return Answer(resp.status, _json(resp.read()))
            except urllib.error.HTTPError as exc:
                answer = _json(exc.read())
                if not _retryable(exc.code, answer):
                    raise ApiError(exc.code, answer) from None
                last_body = answer
                last = str(ApiError(exc.code, answer))
                if _in_progress(exc.code, answer):
                    retry_after = _retry_after(answer)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc
                last = f"no answer from {self.url}: {reason}"
                last_body = {}
            pause = min(MAX_BACKOFF_SECONDS, self.backoff * 2 ** (min(attempt, 30) - 1))
            pause *= random.uniform(0.5, 1.0)  # jitter: retries of many clients spread out
            if retry_after is not None and held < IN_PROGRESS_WAIT_SECONDS:
                # the first attempt is still held: wait as long as the server says, beyond
                # the attempts if need be (it answers by then, or it died and this runs it)
                pause = min(max(pause, retry_after), IN_PROGRESS_WAIT_SECONDS - held)
                held += pause
            elif attempt >= self.attempts:
                break
            if self._on_retry is not None:
                self._on_retry(f"{method} {path}: {last}; retrying in {pause:.1f} s")
            self._sleep(pause)
        raise Unreachable(f"{method} {path}: {last} (after {attempt} attempts)", last_body)


def path(*parts: str) -> str:
    """``/a/b`` from path segments, each quoted."""
    return "/" + "/".join(urllib.parse.quote(p, safe="") for p in parts)
