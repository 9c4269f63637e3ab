"""The error responses AWS sends when it throttles a call or fails it with a 5xx, per protocol.

Built as botocore's endpoint would receive them over HTTP, so its parsers and retry handler treat
them exactly as the real thing (standard mode retries throttling codes and 500/502/503/504).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

THROTTLING = "throttling"
UNAVAILABLE = "unavailable"


class _Raw:
    """The ``raw`` body botocore reads a response from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    if len(data) < 24:
        return bytes([0x60 + len(data)]) + data
    if len(data) < 256:
        return bytes([0x78, len(data)]) + data
    return bytes([0x79]) + len(data).to_bytes(2, "big") + data


def _cbor_map(values: dict[str, str]) -> bytes:
    out = bytes([0xA0 + len(values)])
    for key, value in values.items():
        out += _cbor_text(key) + _cbor_text(value)
    return out


def _xml_error(code: str, message: str, kind: str, request_id: str) -> bytes:
    return (
        "<ErrorResponse><Error>"
        f"<Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


def error_response(protocol: str, fault: str, url: str) -> AWSResponse:
    """The HTTP response of a throttled (``THROTTLING``) or failed (``UNAVAILABLE``) call."""
    request_id = str(uuid.uuid4())
    throttled = fault == THROTTLING
    headers = HTTPHeaders()
    headers["x-amzn-RequestId"] = request_id
    if protocol == "ec2":
        code = "RequestLimitExceeded" if throttled else "Unavailable"
        status = 503
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{code}</Message></Error>"
            f"</Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers["Content-Type"] = "text/xml"
    elif protocol in ("query", "rest-xml"):
        code = "Throttling" if throttled else "ServiceUnavailable"
        status = 400 if throttled else 503
        message = "Rate exceeded" if throttled else "Service is unavailable"
        body = _xml_error(code, message, "Sender" if throttled else "Receiver", request_id)
        headers["Content-Type"] = "text/xml"
    else:
        code = "ThrottlingException" if throttled else "ServiceUnavailableException"
        status = 400 if throttled else 503
        fields = {
            "__type": code,
            "message": "Rate exceeded" if throttled else "Service unavailable",
        }
        headers["x-amzn-ErrorType"] = code
        if protocol == "smithy-rpc-v2-cbor":
            body = _cbor_map(fields)
            headers["Content-Type"] = "application/cbor"
            headers["smithy-protocol"] = "rpc-v2-cbor"
        else:
            body = json.dumps(fields).encode()
            headers["Content-Type"] = "application/x-amz-json-1.1"
    headers["Content-Length"] = str(len(body))
    return AWSResponse(url, status, headers, _Raw(body))
