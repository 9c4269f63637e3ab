"""Paging of the list routes: ``?limit=`` and an opaque ``?next=`` cursor.

A cursor is urlsafe base64 (no padding) of a small JSON object ``{"v": 1, "r": ROUTE, "p":
POSITION}``: the route it was made for and where the last page ended (a sort key or a service
name). It names a position only, never a permission: every page is authorized and filtered as
the first was, so a cursor edited by hand can at most start a page elsewhere. Anything that is
not a cursor of this route (garbage, another route's, an edited one that no longer parses) is
the contract's 400 naming ``next``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from chalicelib.core.errors import InvalidRequest
from chalicelib.handlers.http import query_int, query_text

if TYPE_CHECKING:
    from chalice.app import Request

VERSION = 1
MAX_CURSOR = 4096  # characters of an encoded cursor (600 characters of 4 UTF-8 bytes fit)
MAX_POSITION = 600  # characters of the position inside it
_BAD = "next must be the `next` of an earlier answer of this route, unchanged"


def encode(route: str, position: str) -> str:
    """The opaque cursor of ``position`` on ``route``."""
    raw = json.dumps(
        {"v": VERSION, "r": route, "p": position}, separators=(",", ":"), ensure_ascii=False
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(route: str, cursor: str) -> str:
    """The position a cursor of ``route`` holds; InvalidRequest naming ``next`` otherwise."""
    if len(cursor) > MAX_CURSOR or not cursor.isascii():
        raise InvalidRequest(_BAD, fields={"next": "not a cursor"})
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data: Any = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequest(_BAD, fields={"next": "not a cursor"}) from None
    if not isinstance(data, dict) or set(data) != {"v", "r", "p"}:
        raise InvalidRequest(_BAD, fields={"next": "not a cursor"})
    position = data["p"]
    if data["v"] != VERSION or data["r"] != route:
        raise InvalidRequest(_BAD, fields={"next": "a cursor of another route"})
    if (
        not isinstance(position, str)
        or not 0 < len(position) <= MAX_POSITION
        or not position.isprintable()
    ):
        raise InvalidRequest(_BAD, fields={"next": "not a cursor"})
    return position


def page_request(
    request: Request, route: str, *, default: int, high: int
) -> tuple[int, str | None]:
    """``(limit, position)`` of a list request: ``limit`` from 1 to ``high`` (``default``
    when absent), and the position of its ``next`` cursor (None for the first page)."""
    limit = query_int(request, "limit", default=default, low=1, high=high)
    cursor = query_text(request, "next")
    return limit, decode(route, cursor) if cursor is not None else None


def with_next(body: dict[str, Any], route: str, position: str | None) -> dict[str, Any]:
    """``body`` with ``next`` (the cursor of the following page) when there is one."""
    if position is not None:
        body["next"] = encode(route, position)
    return body
