"""The local REST server: Chalice's local server, answering as API Gateway does with opsbot's
gateway responses (``infra/app-merge.json``), in the contract's error shape.

Chalice's own local server answers an unknown route 403 "Missing Authentication Token", a
known route with another method 405 ``{"Code", "Message"}`` and a method it has never heard of
501 HTML. Here they are 404 ``not_found``, 405 ``method_not_allowed`` with an ``Allow`` header,
and (any method at all) the same two: JSON ``{"error": {"code", "message"}}`` with a request id.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer, RouteMatcher

# Chalice answers CORS preflights itself (as API Gateway does); every other method needs a route.
_GATEWAY_METHODS = {"OPTIONS"}


def _error(code: str, message: str) -> bytes:
    rid = uuid.uuid4().hex
    body = {"error": {"code": code, "message": f"{message} (request id {rid})", "request_id": rid}}
    return json.dumps(body).encode()


class ContractRequestHandler(ChaliceRequestHandler):
    """Chalice's request handler, with unknown routes and methods in the contract's shape."""

    app_object: Chalice

    def __init__(self, request: Any, client_address: Any, server: Any, **kwargs: Any) -> None:
        app = kwargs["app_object"]
        self.app_object = app
        self.routes = RouteMatcher(list(app.routes))
        super().__init__(request, client_address, server, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # http.server answers 501 for a method without a do_<METHOD>; route every one instead.
        if name.startswith("do_"):
            return self._contract_handle
        raise AttributeError(name)

    def _refuse(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > 0:
            self.rfile.read(length)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _contract_handle(self) -> None:
        try:
            route = self.routes.match_route(self.path).route
        except ValueError:
            self._refuse(404, _error("not_found", "no such route"), {})
            return
        methods = self.app_object.routes[route]
        if self.command not in methods and self.command not in _GATEWAY_METHODS:
            allow = ", ".join(sorted(methods))
            message = f"{self.command[:20]} is not allowed here; allowed: {allow}"
            self._refuse(405, _error("method_not_allowed", message), {"Allow": allow})
            return
        self._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _contract_handle


def create_server(app: Chalice, config: Config, host: str, port: int) -> LocalDevServer:
    """Chalice's local dev server with ``ContractRequestHandler``."""
    return LocalDevServer(app, config, host, port, handler_cls=ContractRequestHandler)
