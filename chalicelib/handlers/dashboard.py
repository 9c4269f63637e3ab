"""``GET /ui``: the read-only web dashboard (a page, its script and its style sheet).

The files live in ``handlers/ui/`` (packaged with ``chalicelib``) and are read at request time,
once per process. No auth for these three: the page reads the REST API with the bearer token
from its URL fragment (``/ui#token=...``) or one typed in. The Content-Security-Policy allows
only this origin: no inline script or style, no other host, no framing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from chalice import Blueprint, Response

bp = Blueprint(__name__)

UI = Path(__file__).resolve().parent / "ui"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@cache
def _asset(name: str) -> str:
    return (UI / name).read_text(encoding="utf-8")


def _serve(name: str, content_type: str) -> Response:
    return Response(
        body=_asset(name), status_code=200, headers={**HEADERS, "Content-Type": content_type}
    )


@bp.route("/ui", methods=["GET"])
def ui_page() -> Any:
    """The dashboard page. At ``/ui/`` (the same route to API Gateway) its relative links would
    miss (``/ui/ui/dashboard.js``, ``/ui/deployments``): that is redirected to ``/ui``, relative
    to wherever the API is mounted, and the browser keeps the ``#token=`` fragment."""
    path = str((bp.current_request.context or {}).get("path") or "")
    if path.endswith("/"):
        return Response(body="", status_code=308, headers={**HEADERS, "Location": "../ui"})
    return _serve("index.html", "text/html; charset=utf-8")


@bp.route("/ui/dashboard.js", methods=["GET"])
def ui_script() -> Any:
    """The dashboard's script."""
    return _serve("dashboard.js", "text/javascript; charset=utf-8")


@bp.route("/ui/dashboard.css", methods=["GET"])
def ui_style() -> Any:
    """The dashboard's style sheet."""
    return _serve("dashboard.css", "text/css; charset=utf-8")
