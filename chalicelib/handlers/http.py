"""REST plumbing shared by the API Blueprints: auth middleware, bodies, query parameters, the
error shape."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from chalice import Response

from chalicelib.core.errors import (
    DependencyUnavailable,
    Forbidden,
    InvalidRequest,
    OpsError,
    Unauthorized,
)
from chalicelib.core.invocation import as_function
from chalicelib.core.observability import begin, logger
from chalicelib.handlers.lazy import (
    aws_errors,
    botocore_exceptions,
    parameters,
    pydantic,
    status_dashboard,
    wiring,
)

if TYPE_CHECKING:
    from chalice.app import Request
    from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound="BaseModel")

API_FUNCTION = "api_handler"  # the Lambda function serving every route
PUBLIC_PREFIXES = ("/health", "/openapi.json", "/slack/", "/ui")
PRINCIPAL_KEY = "opsbot_principal"
READ_ONLY_KEY = "opsbot_read_only"  # set for a dashboard token: GET (and HEAD) only
READ_METHODS = ("GET", "HEAD")

_request_id: ContextVar[str | None] = ContextVar("opsbot_request_id", default=None)


def request_id() -> str:
    """The id of the request being served (API Gateway's or Lambda's; else a new one)."""
    return _request_id.get() or uuid.uuid4().hex


def request_id_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Remember the request's id, so an error answer and its log line can name it (and that
    this is the API function: its member role, when an environment has one per function)."""
    as_function(API_FUNCTION)
    context = event.context or {}
    lambda_context = getattr(event, "lambda_context", None)
    rid = context.get("requestId") or getattr(lambda_context, "aws_request_id", None)
    request_id = str(rid) if rid else uuid.uuid4().hex
    token = _request_id.set(request_id)
    begin(request_id)
    try:
        response = get_response(event)
    finally:
        _request_id.reset(token)
    # Chalice's own 415 {"Code", "Message"} for another media type: the contract's 400
    if getattr(response, "status_code", None) == 415:
        sent = (event.headers.get("content-type") or "")[:80]
        return error_response(
            InvalidRequest(
                "send the body as JSON (Content-Type: application/json)",
                fields={"Content-Type": f"not accepted: {sent}"},
            )
        )
    return response


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response."""
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})


def error_response(exc: OpsError) -> Response:
    """The contract's error shape for an OpsError."""
    return json_response(exc.to_body(), exc.status)


def guarded(view: Callable[..., Any]) -> Callable[..., Any]:
    """Map OpsError (and anything unexpected) to the contract's JSON error shape.

    An AWS failure is logged in full and answered 503 with a plain message and the request id,
    never with AWS's own message (it names ARNs and account ids)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except OpsError as exc:
            return error_response(exc)
        except (botocore_exceptions.BotoCoreError, botocore_exceptions.ClientError) as exc:
            rid = request_id()
            logger().exception(
                "AWS call failed while serving a request",
                extra={"request_id": rid, "aws_error": aws_errors.describe(exc)},
            )
            failed = f"a dependency of opsbot failed; try again later (request id {rid})"
            return error_response(DependencyUnavailable(failed, request_id=rid))
        except Exception:
            rid = request_id()
            logger().exception(
                "unexpected error while serving a request", extra={"request_id": rid}
            )
            failed = f"internal error; it has been logged (request id {rid})"
            return error_response(OpsError(failed, request_id=rid))

    return wrapper


def parse_body(request: Request, model: type[M], *, optional: bool = False) -> M:
    """Parse a JSON body into ``model``; InvalidRequest names each bad field (as the model
    locates it; an error the model does not locate is the body's)."""
    raw = request.raw_body or b""
    if not raw.strip():
        if optional:
            return model.model_validate({})
        raise InvalidRequest("a JSON body is required", fields={"body": "missing"})
    try:
        data = json.loads(raw, object_pairs_hook=_no_repeats)
    except _RepeatedKey as exc:
        raise InvalidRequest(
            f"the body names {exc.key[:40]!r} twice; which one was meant is not guessed",
            fields={exc.key[:40]: "given twice"},
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the body is not valid JSON", fields={"body": "not JSON"}) from None
    except RecursionError:
        raise InvalidRequest("the body is nested too deeply", fields={"body": "too deep"}) from None
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object", fields={"body": "not an object"})
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _invalid_body(exc) from None


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (``{"tag": "1.0", "tag": "2.0"}``: JSON
    parsers differ on which wins, so a proxy and opsbot could read different deploys)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RepeatedKey(key)
        out[key] = value
    return out


def _invalid_body(exc: ValidationError) -> InvalidRequest:
    fields: dict[str, str] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        fields[loc] = err["msg"].removeprefix("Value error, ")
    return InvalidRequest(f"invalid request body: {', '.join(sorted(fields))}", fields=fields)


def _query(request: Request) -> dict[str, str]:
    return dict(request.query_params or {})


def query_text(request: Request, name: str) -> str | None:
    """A query parameter; None when absent or empty."""
    return _query(request).get(name) or None


def query_int(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within ``low..high``; InvalidRequest names it and the
    range if not (a negative or huge whole number is out of range, not "not a number")."""
    raw = _query(request).get(name)
    text = "" if raw is None else str(raw)
    if not text:
        return default
    rule = f"{name} must be a whole number from {low} to {high}"
    digits = text[1:] if text[0] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):  # ASCII digits only
        raise InvalidRequest(rule, fields={name: "not a number"})
    significant = digits.lstrip("0") or "0"
    too_big = len(significant) > 18  # never int() a thousand digits
    value = 0 if too_big else -int(significant) if text[0] == "-" else int(significant)
    if too_big or not low <= value <= high:
        raise InvalidRequest(rule, fields={name: f"outside {low}..{high}"})
    return value


def principal(request: Request) -> str:
    """The authenticated principal the middleware put on the request."""
    return str(request.context[PRINCIPAL_KEY])


def token_principal(token: str) -> str | None:
    """The principal a bearer token belongs to (tokens are stored as sha256 hex): an API token
    (SSM), or an unexpired read-only dashboard token (the state table)."""
    if token.startswith(status_dashboard.PREFIX):
        return status_dashboard.read_token_principal(wiring.get_deps(), token)
    digest = hashlib.sha256(token.encode()).hexdigest()
    return parameters.api_token_map().get(digest)


def public_url(request: Request) -> str:
    """The API's public base URL, for links: the ``OPSBOT_PUBLIC_URL`` setting, else the
    request's host (with API Gateway's stage when it is the execute-api domain)."""
    from chalicelib.core.settings import get_settings

    settings = get_settings()
    if settings.public_url:
        return settings.public_url.rstrip("/")
    context = request.context or {}
    host = str(context.get("domainName") or request.headers.get("host") or "")
    if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}(:\d{1,5})?", host):
        host = "localhost"
    default = "http" if settings.stage == "local" else "https"
    scheme = request.headers.get("x-forwarded-proto") or default
    scheme = scheme if scheme in ("http", "https") else default
    stage = str(context.get("stage") or "")
    prefix = f"/{stage}" if host.endswith(".amazonaws.com") and stage else ""
    return f"{scheme}://{host}{prefix}"


def bearer_principal(request: Request) -> str | None:
    """The principal of the request's bearer token, if it carries a valid one (never raises:
    for routes that answer everyone, and say more to a principal)."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return token_principal(token.strip())
    except Exception:
        logger().exception("could not read the API tokens")
        return None


def auth_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Bearer-token authentication for every route but /health, /openapi.json, /slack/* and the
    dashboard's page (/ui); a dashboard token may only read (403 for anything else)."""
    path = event.context.get("resourcePath") or event.path
    if path.startswith(PUBLIC_PREFIXES):
        return get_response(event)
    header = event.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(Unauthorized("send Authorization: Bearer <token>"))
    try:
        who = token_principal(token.strip())
    except OpsError as exc:  # SSM unavailable (503 naming it): not the caller's fault
        return error_response(exc)
    except Exception as exc:  # anything else reading the tokens: not the caller's fault
        logger().exception("could not read the API tokens")
        logger().error("token check failed", extra={"error": aws_errors.describe(exc)})
        return error_response(DependencyUnavailable("cannot check tokens now; try again shortly"))
    read_only = token.strip().startswith(status_dashboard.PREFIX)
    if who is None:
        why = "unknown or expired dashboard token" if read_only else "unknown or revoked token"
        return error_response(Unauthorized(why))
    if read_only and event.method.upper() not in READ_METHODS:
        return error_response(Forbidden("a dashboard token is read-only", principal=who))
    event.context[PRINCIPAL_KEY] = who
    event.context[READ_ONLY_KEY] = read_only
    return get_response(event)
