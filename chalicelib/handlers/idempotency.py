"""The ``Idempotency-Key`` header on POST routes (see the contract), as one decorator.

``@idempotent(bp)`` goes between ``@bp.route`` and ``@guarded``. With no header the route runs as
it always did. With one, a repeat by the same principal within 24 hours gets the first answer
again, byte for byte (status, headers and body, plus ``Idempotent-Replayed: true``) and runs
nothing; the same key for a different request (route, path or body) is a 400 naming
``Idempotency-Key``, as is a malformed key; a repeat while the first is still being served is a
409. Answers below 500 are kept; after a 5xx the key is released, so a retry runs again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib.core.errors import Conflict, InvalidRequest
from chalicelib.core.observability import logger
from chalicelib.handlers.http import guarded, principal
from chalicelib.handlers.lazy import store_idempotency, wiring

if TYPE_CHECKING:
    from chalice import Blueprint
    from chalice.app import Request

    from chalicelib.store.idempotency import SavedResponse

HEADER = "Idempotency-Key"
SEED_KEY = "opsbot_idempotency_seed"  # request.context: the seed of what the request creates
RESUMED_KEY = "opsbot_idempotency_resumed"  # request.context: it re-runs a dead attempt
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")

View = Callable[..., Any]


def creation_seed(request: Request) -> str | None:
    """The seed of what this request creates when it carries an Idempotency-Key (else None)."""
    seed = (request.context or {}).get(SEED_KEY)
    return str(seed) if seed else None


def resumes_dead_attempt(request: Request) -> bool:
    """This request re-runs one with the same Idempotency-Key whose Lambda died before it
    answered (its claim's lease ran out): what that attempt did may be found done."""
    return bool((request.context or {}).get(RESUMED_KEY))


def check_key(raw: str) -> str:
    """The key if it is 1 to 255 printable ASCII characters; else a 400 naming the header."""
    if not _VALID_KEY.fullmatch(raw):
        raise InvalidRequest(
            f"invalid {HEADER}: send 1 to 255 printable ASCII characters",
            fields={HEADER: "must be 1 to 255 printable ASCII characters"},
        )
    return raw


def request_hash(request: Request) -> str:
    """What makes two requests "the same": method, route, path parameters and the body
    (JSON bodies compared by value, so key order and spacing do not matter; no body is ``{}``,
    as the routes with an optional body read it: curl's bare approve and the CLI's ``{}``)."""
    raw = request.raw_body or b""
    body = raw if isinstance(raw, bytes) else raw.encode()
    if not body.strip():
        body = b"{}"
    with contextlib.suppress(ValueError, UnicodeDecodeError, RecursionError):  # else: as bytes
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    head = json.dumps(
        [request.method, request.path, dict(sorted((request.uri_params or {}).items()))]
    )
    return hashlib.sha256(head.encode() + b"\n" + body).hexdigest()


def _saved(result: Any) -> SavedResponse:
    """The answer as it goes on the wire (Chalice's own serialisation of the body)."""
    response = result if isinstance(result, Response) else Response(body=result)
    wire = response.to_dict()
    headers = {**wire["headers"], **wire["multiValueHeaders"]}
    body = wire["body"]
    return store_idempotency.SavedResponse(
        status=int(wire["statusCode"]),
        body=body.decode() if isinstance(body, bytes) else str(body),
        headers=headers,
    )


def _send(saved: SavedResponse, *, replayed: bool = False) -> Response:
    headers = dict(saved.headers)
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(body=saved.body, status_code=saved.status, headers=headers)


def idempotent(bp: Blueprint) -> Callable[[View], View]:
    """Honour ``Idempotency-Key`` on a route of ``bp`` (apply under ``@bp.route``)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = bp.current_request
            raw = request.headers.get(HEADER.lower())
            if raw is None:
                return view(*args, **kwargs)
            return _once(request, check_key(raw), lambda: view(*args, **kwargs))

        return guarded(wrapper)

    return decorate


def _once(request: Request, key: str, run: Callable[[], Any]) -> Response:
    deps = wiring.get_deps()
    who = principal(request)
    claim = deps.store.claim_idempotency(
        principal=who, key=key, request_hash=request_hash(request), now=deps.clock()
    )
    if claim.outcome is store_idempotency.ClaimOutcome.REPLAY and claim.saved is not None:
        return _send(claim.saved, replayed=True)
    if claim.outcome is store_idempotency.ClaimOutcome.MISMATCH:
        raise InvalidRequest(
            f"this {HEADER} was already used for a different request",
            fields={HEADER: "already used for a different request"},
        )
    if claim.outcome is not store_idempotency.ClaimOutcome.CLAIMED:
        raise Conflict(
            f"a request with this {HEADER} is still being served; retry in "
            f"{claim.retry_after} s (by then it has answered, or it died and a retry runs it)",
            fields={HEADER: "in progress"},
            retry_after_seconds=claim.retry_after,
        )
    # A stable seed for what the request creates (a deployment id): a retry that runs again after
    # a crash (its claim's lease ran out) finds the record the dead attempt made, not a second one.
    seed = hashlib.sha256(f"{who}\n{key}\n{request_hash(request)}".encode()).hexdigest()
    request.context[SEED_KEY] = seed
    request.context[RESUMED_KEY] = claim.resumed
    saved = _saved(run())
    try:
        if saved.status < 500:
            deps.store.save_idempotent_response(
                principal=who, key=key, owner=claim.owner, response=saved
            )
        else:  # the server failed: a retry should run again
            deps.store.release_idempotency(principal=who, key=key, owner=claim.owner)
    except Exception:  # the answer still goes out: the work is done
        logger().exception("could not save the answer for an Idempotency-Key")
    return _send(saved)
