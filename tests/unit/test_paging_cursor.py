"""The list routes' ``next`` cursor: opaque, bound to its route, and whatever a caller sends
instead is the contract's 400 naming ``next`` (never another exception, so never a 500)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.errors import InvalidRequest
from chalicelib.handlers import paging


@given(st.text(min_size=1, max_size=600).filter(str.isprintable))
def test_a_cursor_gives_back_its_position_on_its_route_only(position: str) -> None:
    cursor = paging.encode("audit", position)
    assert cursor.isascii() and "=" not in cursor and "&" not in cursor
    assert paging.decode("audit", cursor) == position
    try:
        paging.decode("deployments", cursor)
    except InvalidRequest as exc:
        assert exc.to_body()["error"]["fields"] == {"next": "a cursor of another route"}
    else:
        raise AssertionError("a cursor of /audit was taken by /deployments")


@given(st.text(max_size=2000))
def test_anything_else_is_invalid_and_names_next(text: str) -> None:
    try:
        paging.decode("services", text)
    except InvalidRequest as exc:
        assert "next" in exc.to_body()["error"]["fields"]


def test_the_longest_position_of_the_widest_characters_fits_a_cursor() -> None:
    position = "\U0001f600" * paging.MAX_POSITION  # 4 UTF-8 bytes each
    assert paging.decode("audit", paging.encode("audit", position)) == position
