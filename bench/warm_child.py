"""The warm bench, in a process of its own: opsbot's own time per event, AWS answered by Stubber.

    python bench/warm_child.py APP_DIR RUNS KIND=EVENT_FILE,EVENT_FILE ...

For each kind: the first event runs against the embedded AWS (it warms the process: clients,
policy, parameters), the second too, with its AWS calls and answers recorded by the botocore
hook. Then every opsbot client gets a botocore ``Stubber`` and the second event is handled
RUNS times more, each time with the recorded answers queued in order (a call out of that order
fails the bench). Each run's time is split: the time inside the AWS client calls (botocore's
client side: validation, endpoint, serialisation, the stubbed answer) and everything else,
opsbot's own code (with Powertools and pydantic). No network and no AWS. Prints one JSON
line: kind -> seconds per run, own and total.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def _handler(kind: str) -> Any:
    if kind == "alarm":
        from chalicelib.handlers.alarms import alarm_notification

        return alarm_notification
    if kind == "deploy":
        from chalicelib.handlers.worker import work

        return work
    from app import app

    return app


class _Context:
    """What Chalice's REST handler reads of a Lambda context."""

    aws_request_id = "bench"
    function_name = "api_handler"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


def _stubbers() -> dict[str, Any]:
    from botocore.stub import Stubber

    from chalicelib.aws import clients

    found: dict[str, Any] = {}
    for (service, _region, _role, _name), client in clients._clients.items():
        stub = Stubber(client)
        # moto's answers lack a few fields AWS's models require (RoleARN of a scalable
        # target): they are replayed as moto gave them.
        stub._validate_response = lambda *args, **kwargs: None  # type: ignore[attr-defined]
        stub.activate()
        found[service] = stub
    return found


def _queue(stubs: dict[str, Any], recorded: list[Any]) -> None:
    for call in recorded:
        stub = stubs[call.service]
        error = call.response.get("Error")
        if error:
            stub.add_client_error(
                call.operation,
                service_error_code=error.get("Code", ""),
                service_message=error.get("Message", ""),
                http_status_code=400,
            )
        else:
            stub.add_response(call.operation, call.response)


def _time_client_calls() -> list[float]:
    """Wrap botocore's ``BaseClient._make_api_call``: the seconds spent inside AWS client calls
    add up in the returned cell."""
    from botocore.client import BaseClient

    spent = [0.0]
    original = getattr(BaseClient, "_make_api_call")  # noqa: B009 (private, untyped)

    def timed(self: Any, operation_name: str, api_params: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(self, operation_name, api_params)
        finally:
            spent[0] += time.perf_counter() - t0

    setattr(BaseClient, "_make_api_call", timed)  # noqa: B010
    return spent


def main(argv: list[str]) -> int:
    """Run the kinds named on the command line; print their per-event times."""
    app_dir, runs = argv[1], int(argv[2])
    sys.path.insert(0, app_dir)
    sys.path.insert(1, str(Path(__file__).resolve().parent))
    import calls as bench_calls

    bench_calls.install()
    plans = [(kind, files.split(",")) for kind, files in (a.split("=", 1) for a in argv[3:])]
    recorded: dict[str, tuple[Any, list[Any]]] = {}
    for kind, files in plans:
        handler = _handler(kind)
        context = _Context() if kind == "slack" else None
        events = [json.loads(Path(f).read_text()) for f in files]
        handler(events[0], context)
        bench_calls.CALLS.clear()
        answer = handler(events[1], context)
        if kind == "slack" and answer.get("statusCode") != 200:
            raise RuntimeError(f"the slash command was not answered 200: {answer}")
        recorded[kind] = (events[1], list(bench_calls.CALLS))
    stubs = _stubbers()
    bench_calls.pause()
    in_aws = _time_client_calls()
    times: dict[str, list[float]] = {}
    totals: dict[str, list[float]] = {}
    for kind, (event, made) in recorded.items():
        handler = _handler(kind)
        context = _Context() if kind == "slack" else None
        for _ in range(runs):
            _queue(stubs, made)
            in_aws[0] = 0.0
            t0 = time.perf_counter()
            handler(event, context)
            total = time.perf_counter() - t0
            totals.setdefault(kind, []).append(total)
            times.setdefault(kind, []).append(total - in_aws[0])
            for stub in stubs.values():
                stub.assert_no_pending_responses()
    calls = {kind: len(made) for kind, (_, made) in recorded.items()}
    print(json.dumps({"times": times, "totals": totals, "calls": calls}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
