"""The REST API as API Gateway serves it: concurrent clients, one invocation per request.

Chalice's local server takes the requests (its routing, authorizers and event shape), on a
threading server with a listen backlog of ``BACKLOG`` (Python's default of 5 resets connections
under a burst of clients). Each request is one invocation (``lambda_runtime.invocation``): its
own request id, sent back as ``x-amzn-RequestId`` and put in the event's ``requestContext``, and
its own logger keys, with the request id as correlation id until the function sets another. An
invocation that crashes (``LambdaCrash``) is answered as API Gateway answers a failed Lambda
integration: 502 ``{"message": "Internal server error"}``. The answer is held until the
invocation has returned, so one that dies just before returning (its work done) is answered 502
alone, as API Gateway answers it, never its own answer followed by a stray 502 on the connection.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections.abc import Callable
from http.server import HTTPServer
from socketserver import ThreadingMixIn
from typing import Any

from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer, LocalGateway, RouteMatcher

from infra.local.lambda_runtime import LambdaCrash, invocation
from infra.local.settings import STOP_POLL_SECONDS

log = logging.getLogger("opsbot.local.api")

BACKLOG = 1024
FUNCTION_NAME = "api_handler"
_CRASH_BODY = b'{"message": "Internal server error"}'
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


def _error(code: str, message: str, request_id: str) -> bytes:
    """A gateway response in the contract's error shape (as infra/app-merge.json configures)."""
    body = {
        "error": {
            "code": code,
            "message": f"{message} (request id {request_id})",
            "request_id": request_id,
        }
    }
    return json.dumps(body).encode()


class ApiHttpServer(ThreadingMixIn, HTTPServer):
    """A thread per connection, and room in the listen queue for a burst of clients."""

    daemon_threads = True
    request_queue_size = BACKLOG
    on_crash: Callable[[], None] | None = None  # told of each crashed invocation


class _Gateway(LocalGateway):
    """Chalice's local API Gateway, stamping each event with the request's id."""

    request_id = ""

    def _generate_lambda_event(self, *args: Any, **kwargs: Any) -> Any:
        event = super()._generate_lambda_event(*args, **kwargs)
        context = event.setdefault("requestContext", {})
        context.setdefault("requestId", self.request_id)
        context.setdefault("stage", "api")
        return event


class ApiRequestHandler(ChaliceRequestHandler):
    """One HTTP request = one invocation of the API function."""

    # An answer goes out in more than one write (headers, then body); with Nagle's algorithm on,
    # the body waits for the client's delayed ACK of the headers: 40 ms per kept-alive request.
    disable_nagle_algorithm = True

    def __init__(
        self, request: Any, client_address: Any, server: Any, app_object: Any, config: Config
    ) -> None:
        self.local_gateway = _Gateway(app_object, config)
        self._app = app_object
        self._routes = RouteMatcher(list(app_object.routes))
        self._request_id = ""
        # BaseHTTPRequestHandler.__init__ serves the connection's requests right away
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def __getattr__(self, name: str) -> Any:
        # http.server answers 501 HTML for a method without a do_<METHOD>; route every one.
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def _body_length(self) -> int | None:
        """The Content-Length sent (0 without one); None when it is not a length."""
        raw = self.headers.get("content-length")
        if raw is None:
            return 0
        raw = raw.strip()
        return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else None

    def _refuse(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Answer as API Gateway's gateway responses do, before any function runs."""
        length = self._body_length() or 0
        if 0 < length <= MAX_BODY_BYTES:
            self.rfile.read(length)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", self._request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _unrouted(self) -> bool:
        """A malformed or too large body (400, 413), an unknown route (404) or a route's unknown
        method (405 with Allow): answered here, as API Gateway answers them."""
        length = self._body_length()
        if length is None or length > MAX_BODY_BYTES:
            self.close_connection = True  # the body's end is unknown, or not worth reading
            status, message = (
                (400, "Content-Length is not a length")
                if length is None
                else (413, f"the body is over API Gateway's {MAX_BODY_BYTES} bytes")
            )
            self._refuse(status, _error("invalid_request", message, self._request_id), {})
            return True
        try:
            route = self._routes.match_route(self.path).route
        except ValueError:
            self._refuse(404, _error("not_found", "no such route", self._request_id), {})
            return True
        methods = self._app.routes[route]
        # OPTIONS too: opsbot has no CORS route (the dashboard is same-origin), so API Gateway
        # has no OPTIONS method to answer with either
        if self.command not in methods:
            allow = ", ".join(sorted(methods))
            message = f"{self.command[:20]} is not allowed here; allowed: {allow}"
            self._refuse(
                405, _error("method_not_allowed", message, self._request_id), {"Allow": allow}
            )
            return True
        return False

    def _generic_handle(self) -> None:
        request_id = str(uuid.uuid4())
        self._request_id = request_id
        if self._unrouted():
            return
        self.local_gateway.request_id = request_id  # type: ignore[attr-defined]
        this: Any = self  # BaseHTTPRequestHandler's wfile, untyped in chalice's subclass
        wire, held = this.wfile, io.BytesIO()
        this.wfile = held  # the answer goes out only once the invocation has returned
        try:
            try:
                with invocation(FUNCTION_NAME, request_id, correlation_id=request_id):
                    super()._generic_handle()
            finally:
                this.wfile = wire
            wire.write(held.getvalue())
        except LambdaCrash as crash:
            log.error("%s %s: the function crashed (%s); 502", self.command, self.path, crash)
            on_crash = getattr(self.server, "on_crash", None)
            if on_crash is not None:
                on_crash()
            self._send_http_response_with_body(
                502,
                {"x-amzn-ErrorType": "InternalServerErrorException"},
                _CRASH_BODY,
            )

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _send_headers(self, headers: Any) -> None:
        headers = dict(headers)
        headers.setdefault("x-amzn-RequestId", self._request_id)
        super()._send_headers(headers)

    def log_message(self, format: str, *args: Any) -> None:
        return  # access logs: the function's own logs say what happened


def _local_app(app: Any) -> None:
    """Make ``app.current_request`` per thread, as ``chalice.local.create_local_server`` does."""
    from chalice.local import CustomLocalChalice, LocalChalice

    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice


class ApiServer:
    """The app's REST API on 127.0.0.1, served from a background thread."""

    def __init__(
        self,
        app: Any,
        config: Config,
        port: int,
        host: str = "127.0.0.1",
        on_crash: Callable[[], None] | None = None,
    ) -> None:
        _local_app(app)
        self._dev = LocalDevServer(
            app, config, host, port, handler_cls=ApiRequestHandler, server_cls=ApiHttpServer
        )
        self._dev.server.on_crash = on_crash
        self._thread = threading.Thread(
            target=self._dev.server.serve_forever,
            kwargs={"poll_interval": STOP_POLL_SECONDS},
            name="api",
            daemon=True,
        )

    @property
    def url(self) -> str:
        """Base URL of the API."""
        host, port = self._dev.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._dev.server.shutdown()
        self._dev.server.server_close()
