"""A fake opsbot REST API on 127.0.0.1 for the CLI's unit tests: scripted answers, recorded
requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, Any]
Route = Callable[["Seen"], Answer]


@dataclass
class Seen:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeApi:
    """Routes ``"METHOD /path"`` -> a list of answers served in turn (the last one repeats)."""

    url: str = ""
    routes: dict[str, list[Answer | Route]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def on(self, route: str, *answers: Answer | Route) -> None:
        self.routes[route] = list(answers)

    def answer(self, seen: Seen) -> Answer:
        self.seen.append(seen)
        key = f"{seen.method} {seen.path.split('?', 1)[0]}"
        queue = self.routes.get(key)
        if not queue:
            return 404, {"error": {"code": "not_found", "message": f"no route {key}"}}
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        return item(seen) if callable(item) else item

    def requests(self, route: str) -> list[Seen]:
        method, _, path = route.partition(" ")
        return [s for s in self.seen if s.method == method and s.path.split("?")[0] == path]


@contextmanager
def serve() -> Iterator[FakeApi]:
    """A running fake API."""
    fake = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            seen = Seen(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                json.loads(raw) if raw else None,
            )
            status, body = fake.answer(seen)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
