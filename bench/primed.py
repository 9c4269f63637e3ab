"""SnapStart, side by side: opsbot primed as its snapshot is, against a floor that built its
clients at init; and the Slack ack of a fresh (not primed) API process.

A primed run is a fresh interpreter that does what Lambda does for a SnapStart function:
init with ``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`` and the function's ``_HANDLER`` (the
app imported, its hooks registered with a stand-in for the runtime's ``snapshot_restore_py``),
the before-snapshot hooks (priming), then the after-restore hooks, then the first event. Only
the event is timed (the restore hooks are reported apart). Its floor is a fresh interpreter
that imports boto3 and builds a client for each service the opsbot run called at init, then
makes exactly the calls the opsbot run made; only the calls are timed. Runs alternate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import cold

FUNCTION = {"alarm": "alarm_notification", "deploy": "work"}

# The Lambda runtime's SnapStart hooks, as the runtime calls them (before the snapshot after
# init, after each restore before the first event).
_RUNTIME = """
import os, types
_hooks = {"before": [], "after": []}
_runtime = types.ModuleType("snapshot_restore_py")
_runtime.register_before_snapshot = _hooks["before"].append
_runtime.register_after_restore = _hooks["after"].append
sys.modules["snapshot_restore_py"] = _runtime
"""

_PRIMED_REPORT = """
peak = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]
print(json.dumps({"import": t1 - t0, "event": t2 - t_restored, "restore": t_restored - t1,
                  "rss_kb": int(peak)}))
"""


def primed_script(kind: str) -> str:
    """Init as the snapshot is made (priming on), restore, then the event in ``argv[1]``."""
    module, handler = cold.HANDLERS[kind]
    return (
        cold.PRELUDE
        + _RUNTIME
        + f"""
t0 = time.perf_counter()
from app import app
from {module} import {handler} as handler
for hook in _hooks["before"]:
    hook()
t1 = time.perf_counter()
for hook in _hooks["after"]:
    hook()
t_restored = time.perf_counter()
event = json.load(open(sys.argv[1]))
answer = handler(event, None)
t2 = time.perf_counter()
"""
        + _PRIMED_REPORT
    )


PRIMED_FLOOR_SCRIPT = (
    cold.PRELUDE
    + """
recorded = bench_calls.read(sys.argv[1])
t0 = time.perf_counter()
import boto3
from botocore.exceptions import ClientError
clients = {}
for call in recorded:
    if call.service not in clients:
        clients[call.service] = boto3.client(call.service)
t1 = time.perf_counter()
for call in recorded:
    try:
        getattr(clients[call.service], call.operation)(**call.params)
    except ClientError:
        pass
t2 = time.perf_counter()
"""
    + cold.REPORT
)


def primed_env(kind: str, env: dict[str, str]) -> dict[str, str]:
    """The environment Lambda gives a SnapStart function's init."""
    return {
        **env,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
        "_HANDLER": f"app.{FUNCTION[kind]}",
    }


def primed_pair(
    kind: str,
    events: list[str],
    *,
    app_dir: Path,
    env: dict[str, str],
    workdir: Path,
    before_each: Any = None,
) -> tuple[cold.Pair, list[float]]:
    """For each event file: opsbot primed handles it, then the floor replays its calls; and
    each primed run's restore-hook seconds."""
    pair, restores = cold.Pair(), []
    script, primed = primed_script(kind), primed_env(kind, env)
    for n, event in enumerate(events):
        if before_each is not None:
            before_each()
        recorded = workdir / f"primed-{kind}-{n}-opsbot.calls"
        run = cold.run_script(script, event, cwd=app_dir, env=primed, calls_out=recorded)
        pair.opsbot.append(run)
        restores.append(run.extra.get("restore", 0.0))
        floor_out = workdir / f"primed-{kind}-{n}-floor.calls"
        pair.floor.append(
            cold.run_script(
                PRIMED_FLOOR_SCRIPT, str(recorded), cwd=app_dir, env=env, calls_out=floor_out
            )
        )
        pair.libraries.append(pair.floor[-1])  # no libraries side here
    pair.check_same_calls()
    return pair, restores


def slack_script() -> str:
    """A fresh API process (no priming): import the app, answer the slash command in argv[1]."""
    return (
        cold.PRELUDE
        + """
class _Context:
    aws_request_id = "bench"
    function_name = "api_handler"
    def get_remaining_time_in_millis(self):
        return 20_000
t0 = time.perf_counter()
from app import app
t1 = time.perf_counter()
event = json.load(open(sys.argv[1]))
answer = app(event, _Context())
t2 = time.perf_counter()
assert answer["statusCode"] == 200, answer
"""
        + cold.REPORT
    )


def cold_slack(
    make_event: Any, runs: int, *, app_dir: Path, env: dict[str, str], workdir: Path
) -> cold.Pair:
    """``runs`` fresh API processes, each answering a newly signed slash command; after each,
    the floor (bare boto3) and the libraries-only side make the calls it made."""
    pair = cold.Pair()
    script, libraries = slack_script(), cold.libraries_script("slack")
    for n in range(runs):
        event = make_event(f"cold-slack-{n}")
        recorded = workdir / f"cold-slack-{n}.calls"
        pair.opsbot.append(cold.run_script(script, event, cwd=app_dir, env=env, calls_out=recorded))
        for side, side_script in (("floor", cold.FLOOR_SCRIPT), ("libraries", libraries)):
            out = workdir / f"cold-slack-{n}-{side}.calls"
            getattr(pair, side).append(
                cold.run_script(side_script, str(recorded), cwd=app_dir, env=env, calls_out=out)
            )
    pair.check_same_calls()
    return pair
