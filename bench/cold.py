"""Fresh processes: opsbot's first event against the floor making the same AWS calls.

Each opsbot run is a new interpreter that imports the app and handles one event; the floor run
after it is a new interpreter that imports boto3 and makes exactly the calls that opsbot run
made (same services, operations and parameters, in the same order), recorded by the botocore
hook of ``bench.calls``, which counts the floor's calls too. Runs alternate (opsbot, floor,
opsbot, ...), so a machine that slows down mid-bench slows both sides.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import calls as calls_module

CALLS_PY = Path(calls_module.__file__).resolve()

# Loads bench/calls.py by path (the app directory may be another checkout with its own bench/).
PRELUDE = f"""
import importlib.util, json, sys, time
_spec = importlib.util.spec_from_file_location("bench_calls", {str(CALLS_PY)!r})
bench_calls = importlib.util.module_from_spec(_spec)
sys.modules["bench_calls"] = bench_calls
_spec.loader.exec_module(bench_calls)
bench_calls.install()
"""

# VmHWM, not getrusage: ru_maxrss survives exec, so a child would report its parent's peak.
REPORT = """
peak = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]
print(json.dumps({"import": t1 - t0, "event": t2 - t1, "rss_kb": int(peak)}))
"""

# Each function's Lambda handler, as Chalice packages it: an event function's is its Blueprint
# module's (Lambda imports that module, not app.py); the REST API's is the app itself. A unit
# test holds these to the app's own handler strings.
HANDLERS = {
    "alarm": ("chalicelib.handlers.alarms", "alarm_notification"),
    "deploy": ("chalicelib.handlers.worker", "work"),
    "slack": ("app", "app"),  # the API function: a signed slash command through the app
}


def handler_string(kind: str) -> str:
    """Lambda's ``_HANDLER`` for the function of ``kind``."""
    return ".".join(HANDLERS[kind])


# What the handler is given besides the event: Chalice's REST handler reads a Lambda context.
CONTEXT = {"slack": "_Context()"}
_CONTEXT_CLASS = """
class _Context:
    aws_request_id = "bench"
    function_name = "api_handler"
    def get_remaining_time_in_millis(self):
        return 20_000
"""


def opsbot_script(
    kind: str, *, prelude: str = PRELUDE, init: str = "", restore: str = "", report: str = REPORT
) -> str:
    """Import the handler as Lambda does (and run ``init``), then ``restore``, then handle the
    event in ``argv[1]``; the event is timed from ``t_restored`` (``bench.primed`` fills these
    in)."""
    module, handler = HANDLERS[kind]
    return (
        prelude
        + _CONTEXT_CLASS
        + f"""
t0 = time.perf_counter()
from {module} import {handler} as handler
{init}
t1 = time.perf_counter()
{restore}
t_restored = time.perf_counter()
event = json.load(open(sys.argv[1]))
answer = handler(event, {CONTEXT.get(kind, "None")})
t2 = time.perf_counter()
assert not isinstance(answer, dict) or answer.get("statusCode", 200) == 200, answer
"""
        + report
    )


def floor_script(clients_at_init: bool = False) -> str:
    """Bare boto3 making the calls recorded in ``argv[1]``; with ``clients_at_init`` its clients
    are built before ``t1`` (as a function's init would), else on first use."""
    build = (
        "for name in dict.fromkeys(c.service for c in recorded):\n"
        "    clients[name] = boto3.client(name)"
    )
    return (
        PRELUDE
        + f"""
recorded = bench_calls.read(sys.argv[1])
t0 = time.perf_counter()
import boto3
from botocore.exceptions import ClientError
clients = {{}}
{build if clients_at_init else ""}
t1 = time.perf_counter()
for call in recorded:
    client = clients.get(call.service)
    if client is None:
        client = clients[call.service] = boto3.client(call.service)
    try:
        getattr(client, call.operation)(**call.params)
    except ClientError:
        pass
t2 = time.perf_counter()
"""
        + REPORT
    )


FLOOR_SCRIPT = floor_script()


# What a function of each kind must import before its first AWS call, by the architecture's
# choice of libraries (ARCHITECTURE.md "which libraries to use"), whatever opsbot's own code does:
# the Chalice app, Powertools' Logger and Metrics, idempotency (SNS and SQS deliver at least
# once), parameters (the Slack webhook), pydantic (the policy and the models at the edges), the
# YAML policy, and for the SQS worker Powertools' batch utility (partial batch failures).
LIBRARIES: dict[str, tuple[str, ...]] = {
    "alarm": (
        "chalice.app",
        "aws_lambda_powertools.logging",
        "aws_lambda_powertools.metrics",
        "aws_lambda_powertools.utilities.idempotency",
        "aws_lambda_powertools.utilities.parameters",
        "pydantic.main",
        "yaml",
    ),
}
LIBRARIES["deploy"] = (*LIBRARIES["alarm"], "aws_lambda_powertools.utilities.batch")
LIBRARIES["slack"] = LIBRARIES["alarm"]  # the API function: the same libraries, no batch


def libraries_script(kind: str) -> str:
    """The floor, plus importing the libraries of ``kind`` (and building one pydantic model)
    before its calls: the least any code built on those libraries pays."""
    imports = "\n".join(f"import {name}" for name in LIBRARIES[kind])
    model = "class _M(pydantic.main.BaseModel):\n    x: int\n_M(x=1)"
    return FLOOR_SCRIPT.replace(
        "from botocore.exceptions import ClientError\n",
        f"from botocore.exceptions import ClientError\n{imports}\n{model}\n",
    )


@dataclass
class Run:
    """One fresh process: its timings (seconds), peak RSS and the AWS calls it made."""

    imports: float
    event: float
    rss_kb: int
    calls: list[Any] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)  # other timings the script reported

    @property
    def total(self) -> float:
        """Import plus first event."""
        return self.imports + self.event


def run_json(
    script: str,
    arg: str,
    *,
    cwd: Path,
    env: dict[str, str],
    calls_out: Path,
    python: str = sys.executable,
) -> dict[str, Any]:
    """Run a bench script in a fresh interpreter; the JSON of its last line."""
    out = subprocess.run(
        [python, "-c", script, arg],
        cwd=cwd,
        env={**env, "BENCH_CALLS_OUT": str(calls_out)},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench script failed:\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run_script(
    script: str,
    arg: str,
    *,
    cwd: Path,
    env: dict[str, str],
    calls_out: Path,
    python: str = sys.executable,
) -> Run:
    """Run a bench script in a fresh interpreter; its report and recorded calls."""
    data = run_json(script, arg, cwd=cwd, env=env, calls_out=calls_out, python=python)
    sys.modules.setdefault("bench_calls", calls_module)  # the name the child pickled under
    made = calls_module.read(str(calls_out))
    extra = {k: float(v) for k, v in data.items() if k not in ("import", "event", "rss_kb")}
    return Run(data["import"], data["event"], int(data["rss_kb"]), made, extra)


SIDES = ("opsbot", "floor", "libraries")


@dataclass
class Pair:
    """Alternating opsbot, floor and libraries runs of one kind of event."""

    opsbot: list[Run] = field(default_factory=list)
    floor: list[Run] = field(default_factory=list)
    libraries: list[Run] = field(default_factory=list)

    def check_same_calls(self) -> None:
        """Each floor run made the calls of the opsbot run before it, counted by both hooks."""
        libraries = self.libraries or self.floor  # a pair without a libraries side
        for ours, floor, libs in zip(self.opsbot, self.floor, libraries, strict=True):
            a, b = calls_module.counts(ours.calls), calls_module.counts(floor.calls)
            if a != b or calls_module.counts(libs.calls) != b:
                raise RuntimeError(f"the floor's calls differ from opsbot's: {a} != {b}")


def cold_pair(
    kind: str,
    events: list[str],
    *,
    app_dir: Path,
    env: dict[str, str],
    workdir: Path,
    before_each: Any = None,
    scripts: dict[str, str] | None = None,
    opsbot_env: dict[str, str] | None = None,
    name: str = "",
) -> Pair:
    """For each event file: opsbot handles it in a fresh process, then the floor with the
    libraries replays its calls, then the bare floor does. ``scripts`` replaces a side's script (or,
    ``""``, leaves the side out); ``opsbot_env`` is opsbot's environment when not ``env``."""
    chosen = dict(scripts or {})
    if "opsbot" not in chosen:
        chosen["opsbot"] = opsbot_script(kind)
    chosen.setdefault("floor", FLOOR_SCRIPT)
    if "libraries" not in chosen:
        chosen["libraries"] = libraries_script(kind)
    pair = Pair()
    for n, event in enumerate(events):
        if before_each is not None:
            before_each()
        recorded = workdir / f"{name or kind}-{n}-opsbot.calls"
        pair.opsbot.append(
            run_script(
                chosen["opsbot"], event, cwd=app_dir, env=opsbot_env or env, calls_out=recorded
            )
        )
        for side in ("libraries", "floor"):  # the libraries side beside opsbot's: cold_vs_libraries
            if chosen[side]:
                out = workdir / f"{name or kind}-{n}-{side}.calls"
                getattr(pair, side).append(
                    run_script(chosen[side], str(recorded), cwd=app_dir, env=env, calls_out=out)
                )
    pair.check_same_calls()
    return pair
