"""REST plumbing shared by the API Blueprints: auth middleware, bodies, the error shape."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chalice import Response

from chalicelib.core.errors import DependencyUnavailable, InvalidRequest, OpsError, Unauthorized

if TYPE_CHECKING:
    from chalice.app import Request
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")

PUBLIC_PREFIXES = ("/health", "/slack/")
PRINCIPAL_KEY = "opsbot_principal"


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response."""
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})


def error_response(exc: OpsError) -> Response:
    """The contract's error shape for an OpsError."""
    return json_response(exc.to_body(), exc.status)


def guarded(view: Callable[..., Any]) -> Callable[..., Any]:
    """Map OpsError (and anything unexpected) to the contract's JSON error shape."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        from chalicelib.core.observability import logger

        try:
            return view(*args, **kwargs)
        except OpsError as exc:
            return error_response(exc)
        except (BotoCoreError, ClientError) as exc:
            logger().exception("AWS call failed while serving a request")
            return error_response(DependencyUnavailable(f"an AWS call failed: {exc}"))
        except Exception:
            logger().exception("unexpected error while serving a request")
            err = OpsError("internal error; it has been logged")
            return error_response(err)

    return wrapper


def parse_body(request: Request, model: type[M], *, optional: bool = False) -> M:
    """Parse a JSON body into ``model``; InvalidRequest names each bad field."""
    from pydantic import ValidationError

    from chalicelib.domain.messages import ONE_OF_IMAGE_OR_TAG

    raw = request.raw_body or b""
    if not raw.strip():
        if optional:
            return model.model_validate({})
        raise InvalidRequest("a JSON body is required", fields={"body": "missing"})
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the body is not valid JSON", fields={"body": "not JSON"}) from None
    except RecursionError:
        raise InvalidRequest("the body is nested too deeply", fields={"body": "too deep"}) from None
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object", fields={"body": "not an object"})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if loc:
                fields[loc] = msg
            elif msg == ONE_OF_IMAGE_OR_TAG:
                fields.update({"image": msg, "tag": msg})
            else:
                fields["body"] = msg
        names = ", ".join(sorted(fields))
        raise InvalidRequest(f"invalid request body: {names}", fields=fields) from None


def principal(request: Request) -> str:
    """The authenticated principal the middleware put on the request."""
    return str(request.context[PRINCIPAL_KEY])


def token_principal(token: str) -> str | None:
    """The principal a bearer token belongs to (tokens are stored as sha256 hex)."""
    from chalicelib.aws.parameters import api_token_map

    digest = hashlib.sha256(token.encode()).hexdigest()
    return api_token_map().get(digest)


def auth_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Bearer-token authentication for every route but /health and /slack/*."""
    path = event.context.get("resourcePath") or event.path
    if path.startswith(PUBLIC_PREFIXES):
        return get_response(event)
    header = event.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(Unauthorized("send Authorization: Bearer <token>"))
    try:
        who = token_principal(token.strip())
    except Exception as exc:  # SSM unreachable: not the caller's fault
        from chalicelib.core.observability import logger

        logger().exception("could not read the API tokens")
        return error_response(DependencyUnavailable(f"cannot check tokens: {exc}"))
    if who is None:
        return error_response(Unauthorized("unknown or revoked token"))
    event.context[PRINCIPAL_KEY] = who
    return get_response(event)
