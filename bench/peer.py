"""The peer: fabfuel/ecs-deploy (``pip install ecs-deploy``), installed by the bench into a venv
of its own under ``.opsbot/bench/`` and pointed at the same embedded AWS (``AWS_ENDPOINT_URL``).

It runs ``ecs deploy CLUSTER SERVICE --tag 2.0 --timeout -1`` (fire and forget: waiting
excluded, as for opsbot), in a fresh process whose AWS calls the same botocore hook counts.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.calls import Call
from bench.cold import CALLS_PY, Run, run_script

ROOT = Path(__file__).resolve().parents[1]
PEER = "ecs-deploy==1.17.0"
VENV = ROOT / ".opsbot" / "bench" / "ecs-deploy"

# ecs-deploy's CLI under the counting hook, timed like opsbot's cold runs
SCRIPT = f"""
import importlib.util, json, sys, time
_spec = importlib.util.spec_from_file_location("bench_calls", {str(CALLS_PY)!r})
bench_calls = importlib.util.module_from_spec(_spec)
sys.modules["bench_calls"] = bench_calls
_spec.loader.exec_module(bench_calls)
bench_calls.install()
t0 = time.perf_counter()
from ecs_deploy.cli import ecs
t1 = time.perf_counter()
try:
    ecs(["deploy", "demo", sys.argv[1], "--tag", "2.0", "--timeout", "-1",
         "--region", "us-east-1"], standalone_mode=False)
finally:
    t2 = time.perf_counter()
    peak = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]
    print(json.dumps({{"import": t1 - t0, "event": t2 - t1, "rss_kb": int(peak)}}))
"""


def python() -> Path:
    """The peer's interpreter, installed on first use (same Python as the bench)."""
    py = VENV / "bin" / "python"
    marker = VENV / ".installed"
    if not marker.exists() or marker.read_text() != PEER:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", PEER],
            check=True,
            capture_output=True,
        )
        marker.write_text(PEER)
    return py


def deploy(service: str, *, env: dict[str, str], workdir: Path) -> Run:
    """One ecs-deploy deploy of ``service`` to tag 2.0; its time and AWS calls."""
    return run_script(
        SCRIPT,
        service,
        cwd=workdir,
        env=env,
        calls_out=workdir / f"ecs-deploy-{service}.calls",
        python=str(python()),
    )


def target_calls(calls: list[Call]) -> list[Call]:
    """The calls to the account deployed into (ECS, ECR, ...): not opsbot's own records,
    queue, notifications and parameters, which ecs-deploy has no counterpart of."""
    own = {"dynamodb", "sqs", "sns", "ssm"}
    return [c for c in calls if c.service not in own]
